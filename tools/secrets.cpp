#include "tools/secrets.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "base/fd.h"

namespace dossier::tools {
namespace {

crypto::SecretBytes Trimmed(const unsigned char* p, std::size_t n) {
  while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r')) --n;
  return crypto::SecretBytes(p, n);
}

crypto::SecretBytes ReadFileSecret(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw Error(ErrorCode::kInvalidArgument, "cannot read the password file");
  crypto::SecretBytes buf(4096);
  const std::size_t n = ReadSome(fd.get(), buf.data(), buf.size());
  return Trimmed(buf.data(), n);
}

// Turns the terminal's echo off while it lives, and back on however the
// prompt ends (a read error, an exception, a signal-interrupted read).
class QuietTerminal {
 public:
  explicit QuietTerminal(int tty) : tty_(tty), on_(::tcgetattr(tty, &old_) == 0) {
    if (!on_) return;
    termios quiet = old_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty_, TCSAFLUSH, &quiet);
  }
  ~QuietTerminal() {
    if (on_) ::tcsetattr(tty_, TCSAFLUSH, &old_);
  }
  QuietTerminal(const QuietTerminal&) = delete;
  QuietTerminal& operator=(const QuietTerminal&) = delete;

 private:
  int tty_;
  termios old_{};
  bool on_;
};

crypto::SecretBytes Prompt(const std::string& prompt) {
  Fd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC));
  if (!tty) {
    throw Error(ErrorCode::kInvalidArgument, "no terminal to ask on: give a password file or variable");
  }
  crypto::SecretBytes buf(1024);
  std::size_t n = 0;
  {
    QuietTerminal quiet(tty.get());
    const std::string text = prompt + ": ";
    (void)!::write(tty.get(), text.data(), text.size());
    char c;
    while (n < buf.size() && ::read(tty.get(), &c, 1) == 1 && c != '\n') {
      buf.data()[n++] = static_cast<unsigned char>(c);
    }
    crypto::Wipe(&c, 1);
  }
  (void)!::write(tty.get(), "\n", 1);
  return Trimmed(buf.data(), n);
}

}  // namespace

crypto::SecretBytes ObtainSecret(const std::string& file, const char* env_var,
                                 const std::string& prompt, bool confirm) {
  if (!file.empty()) return ReadFileSecret(file);
  if (env_var != nullptr) {
    if (const char* v = std::getenv(env_var); v != nullptr && *v != '\0') {
      return crypto::SecretBytes(reinterpret_cast<const unsigned char*>(v), std::strlen(v));
    }
  }
  crypto::SecretBytes first = Prompt(prompt);
  if (confirm) {
    crypto::SecretBytes again = Prompt(prompt + " (again)");
    if (!first.Equals(again)) throw Error(ErrorCode::kInvalidArgument, "the two entries differ");
  }
  return first;
}

}  // namespace dossier::tools
