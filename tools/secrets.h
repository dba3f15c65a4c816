// How the CLI obtains passwords and passphrases: from a file named by a
// flag, from an environment variable, or from a prompt on the terminal with
// echo off; never from a command-line argument (other users see those).
#pragma once

#include <string>
#include <string_view>

#include "crypto/secret.h"

namespace dossier::tools {

// Trailing newlines of a file are dropped. Throws Error(kInvalidArgument)
// when no source is available (no file, no variable, no terminal).
crypto::SecretBytes ObtainSecret(const std::string& file, const char* env_var,
                                 const std::string& prompt, bool confirm = false);

inline std::string_view View(const crypto::SecretBytes& s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

}  // namespace dossier::tools
