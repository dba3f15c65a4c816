#include "base/error.h"

#include <filesystem>
#include <new>

namespace dossier {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kSecondFactor: return "totp_required";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kUnprocessable: return "unprocessable";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

void RethrowAsError() {
  try {
    throw;
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kTooLarge, "not enough memory for this request");
  } catch (const std::filesystem::filesystem_error& e) {
    throw Error(ErrorCode::kIo, "file system error: " + e.code().message());
  } catch (const std::invalid_argument&) {
    throw Error(ErrorCode::kCorrupt, "a stored value is malformed");
  } catch (const std::out_of_range&) {
    throw Error(ErrorCode::kCorrupt, "a stored value is out of range");
  } catch (const std::exception&) {
    throw Error(ErrorCode::kInternal, "internal error");
  } catch (...) {
    throw Error(ErrorCode::kInternal, "internal error");
  }
}

}  // namespace dossier
