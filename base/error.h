// dossier::Error: the one exception type that crosses library boundaries.
//
// Every failure Dossier reports carries a code (what kind of failure, used
// to pick an HTTP status or CLI exit code in exactly one place each) and a
// human sentence. The sentence never quotes document content, filenames,
// titles or queries: it may end up in logs and on screens of users who
// must not see them. Exceptions from SQLite, Xapian, libsodium and other
// libraries are caught by the one adapter per library and turned into it.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace dossier {

enum class ErrorCode {
  kInvalidArgument,
  kUnauthenticated,
  kSecondFactor,  // the password was right; a one-time code is needed too
  kNotFound,
  kForbidden,
  kConflict,
  kTooLarge,
  kUnprocessable,
  kRateLimited,
  kCorrupt,
  kUnsupported,
  kIo,
  kInternal,
};

// snake_case name of a code, as the HTTP API spells it ("invalid_argument").
std::string_view ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// A malformed query: kInvalidArgument, with the 1-based position (in
// Unicode characters of the query) where it goes wrong. The message names
// the position, never the query's words.
class QueryError : public Error {
 public:
  QueryError(std::size_t position, const std::string& what)
      : Error(ErrorCode::kInvalidArgument,
              "malformed query at position " + std::to_string(position) + ": " + what),
        position_(position) {}
  std::size_t position() const { return position_; }

 private:
  std::size_t position_;
};

// Inside a catch block: rethrows the exception being handled as a
// dossier::Error (a dossier::Error as it is). Foreign exceptions keep only
// their kind, never their message, which may quote paths or content:
// std::bad_alloc becomes kTooLarge, std::filesystem errors kIo (with the
// system's reason), std::invalid_argument and std::out_of_range (parsing a
// stored value) kCorrupt, anything else kInternal.
[[noreturn]] void RethrowAsError();

// Runs `fn`; whatever it throws leaves as a dossier::Error. The one
// conversion point at the repository's façade, so "every method throws
// dossier::Error" holds for exceptions of the standard library and of the
// JSON library too.
template <typename Fn>
auto Guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (...) {
    RethrowAsError();
  }
}

}  // namespace dossier
