#include "tools/secrets.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "base/error.h"

namespace dossier::tools {
namespace {

crypto::SecretBytes Trimmed(const unsigned char* p, std::size_t n) {
  while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r')) --n;
  return crypto::SecretBytes(p, n);
}

crypto::SecretBytes ReadFileSecret(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::kInvalidArgument, "cannot read the password file");
  crypto::SecretBytes buf(4096);
  std::size_t n = 0;
  for (;;) {
    const ssize_t r = ::read(fd, buf.data() + n, buf.size() - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += static_cast<std::size_t>(r);
    if (n == buf.size()) break;
  }
  ::close(fd);
  return Trimmed(buf.data(), n);
}

crypto::SecretBytes Prompt(const std::string& prompt) {
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "no terminal to ask on: give a password file or variable");
  }
  termios old{};
  const bool is_tty = ::tcgetattr(tty, &old) == 0;
  if (is_tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  const std::string text = prompt + ": ";
  (void)!::write(tty, text.data(), text.size());
  crypto::SecretBytes buf(1024);
  std::size_t n = 0;
  char c;
  while (n < buf.size() && ::read(tty, &c, 1) == 1 && c != '\n') buf.data()[n++] = static_cast<unsigned char>(c);
  if (is_tty) ::tcsetattr(tty, TCSAFLUSH, &old);
  (void)!::write(tty, "\n", 1);
  ::close(tty);
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
