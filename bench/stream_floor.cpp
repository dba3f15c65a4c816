// The floor for ingest: the same bytes through raw crypto_secretstream
// alone (64 KiB chunks, as Dossier's blobs), read from the files and
// encrypted into memory, then again written to files with fsync (what a
// durable store must at least pay), and the sealing of each document's key
// to two recipients. Usage: stream_floor OUTDIR FILE...
// or stream_floor OUTDIR @DIR (every file in DIR).
#include <fcntl.h>
#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 3 || sodium_init() < 0) return 2;
  const std::string out = argv[1];
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a[0] == '@') {
      for (auto& e : fs::directory_iterator(a.substr(1))) files.push_back(e.path());
    } else {
      files.push_back(a);
    }
  }
  fs::create_directories(out);
  unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  crypto_secretstream_xchacha20poly1305_keygen(key);
  std::vector<unsigned char> in(64 * 1024), cipher(64 * 1024 + 17);
  for (int pass = 0; pass < 2; ++pass) {
    const bool write = pass == 1;
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t bytes = 0;
    std::size_t n = 0;
    for (const auto& f : files) {
      int fd = ::open(f.c_str(), O_RDONLY);
      int od = write ? ::open((out + "/" + std::to_string(n)).c_str(),
                              O_WRONLY | O_CREAT | O_TRUNC, 0600) : -1;
      crypto_secretstream_xchacha20poly1305_state st;
      unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
      crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
      if (write) (void)!::write(od, header, sizeof header);
      ssize_t r;
      while ((r = ::read(fd, in.data(), in.size())) > 0) {
        unsigned long long clen;
        crypto_secretstream_xchacha20poly1305_push(&st, cipher.data(), &clen, in.data(), r,
                                                   nullptr, 0, 0);
        if (write) (void)!::write(od, cipher.data(), clen);
        bytes += r;
      }
      unsigned long long clen;
      crypto_secretstream_xchacha20poly1305_push(&st, cipher.data(), &clen, nullptr, 0, nullptr, 0,
                                                 crypto_secretstream_xchacha20poly1305_TAG_FINAL);
      if (write) {
        (void)!::write(od, cipher.data(), clen);
        ::fsync(od);
        ::close(od);
      }
      ::close(fd);
      ++n;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    std::printf("%s\t%zu docs\t%.1f MB\t%.2f s\t%.0f docs/s\t%.1f MB/s\tpeak %ld MiB\n",
                write ? "secretstream+write+fsync" : "secretstream (memory)", n, bytes / 1e6, s,
                n / s, bytes / 1e6 / s, u.ru_maxrss / 1024);
  }
  // Each document's data key sealed to its role and to the recovery key
  // (crypto_box_seal: two X25519 operations each), as ingest does.
  unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  unsigned char sealed[32 + crypto_box_SEALBYTES];
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < 2 * files.size(); ++i) crypto_box_seal(sealed, key, 32, pk);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("key sealing (2 per doc)\t%zu docs\t\t%.2f s\n", files.size(), s);
  fs::remove_all(out);
}
