// The floor for ingest: the same bytes through raw crypto_secretstream
// alone (64 KiB chunks, as Dossier's blobs), encrypted in memory (the
// encryption share bench/peers.sh reports), then read, encrypted and
// written to files with fsync (what a durable store must at least pay), and
// the wrapping of each document's key for two recipients. Usage: stream_floor OUTDIR FILE...
// or stream_floor OUTDIR @DIR (every file in DIR).
#include <fcntl.h>
#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
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
  // Encryption alone: the files are read into memory first, and the best of
  // three passes counts (the machine is shared), so what is timed is the
  // cipher, not the reads.
  {
    std::vector<std::string> contents;
    std::uint64_t bytes = 0;
    for (const auto& f : files) {
      contents.emplace_back();
      int fd = ::open(f.c_str(), O_RDONLY);
      ssize_t r;
      while ((r = ::read(fd, in.data(), in.size())) > 0) {
        contents.back().append(reinterpret_cast<const char*>(in.data()), r);
      }
      ::close(fd);
      bytes += contents.back().size();
    }
    double best = 1e9;
    for (int pass = 0; pass < 3; ++pass) {
      const auto t0 = std::chrono::steady_clock::now();
      for (const auto& c : contents) {
        crypto_secretstream_xchacha20poly1305_state st;
        unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
        crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
        for (std::size_t at = 0;; at += in.size()) {
          const std::size_t n = std::min(in.size(), c.size() - std::min(at, c.size()));
          unsigned long long clen;
          crypto_secretstream_xchacha20poly1305_push(
              &st, cipher.data(), &clen, reinterpret_cast<const unsigned char*>(c.data()) + at, n,
              nullptr, 0, n < in.size() ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
          if (n < in.size()) break;
        }
      }
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("secretstream (memory)\t%zu docs\t%.1f MB\t%.3f s\t%.0f docs/s\t%.1f MB/s\n",
                files.size(), bytes / 1e6, best, files.size() / best, bytes / 1e6 / best);
  }
  {
    // What a durable store must at least pay: read, encrypt, write, fsync.
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t bytes = 0;
    std::size_t n = 0;
    for (const auto& f : files) {
      int fd = ::open(f.c_str(), O_RDONLY);
      int od = ::open((out + "/" + std::to_string(n)).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      crypto_secretstream_xchacha20poly1305_state st;
      unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
      crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
      (void)!::write(od, header, sizeof header);
      ssize_t r;
      while ((r = ::read(fd, in.data(), in.size())) > 0) {
        unsigned long long clen;
        crypto_secretstream_xchacha20poly1305_push(&st, cipher.data(), &clen, in.data(), r,
                                                   nullptr, 0, 0);
        (void)!::write(od, cipher.data(), clen);
        bytes += r;
      }
      unsigned long long clen;
      crypto_secretstream_xchacha20poly1305_push(&st, cipher.data(), &clen, nullptr, 0, nullptr, 0,
                                                 crypto_secretstream_xchacha20poly1305_TAG_FINAL);
      (void)!::write(od, cipher.data(), clen);
      ::fsync(od);
      ::close(od);
      ::close(fd);
      ++n;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    std::printf("secretstream+write+fsync\t%zu docs\t%.1f MB\t%.2f s\t%.0f docs/s\t%.1f MB/s\tpeak %ld MiB\n",
                n, bytes / 1e6, s, n / s, bytes / 1e6 / s, u.ru_maxrss / 1024);
  }
  // Each document's data key wrapped for its role and for the recovery key
  // (XChaCha20-Poly1305 under a batch key, with a fresh random nonce), plus
  // the two batch keys sealed once (crypto_box_seal), as one ingest does.
  unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  unsigned char sealed[32 + crypto_box_SEALBYTES];
  unsigned char batch_key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  randombytes_buf(batch_key, sizeof batch_key);
  unsigned char wrapped[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + 32 +
                        crypto_aead_xchacha20poly1305_ietf_ABYTES];
  const unsigned char ad[] = "dossier.dk.v1|abcdefghijklmnop|1";
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 2; ++i) crypto_box_seal(sealed, batch_key, sizeof batch_key, pk);
  for (std::size_t i = 0; i < 2 * files.size(); ++i) {
    unsigned long long wlen = 0;
    randombytes_buf(wrapped, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        wrapped + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &wlen, key, 32, ad,
        sizeof ad - 1, nullptr, wrapped, batch_key);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("key wrapping (2 per doc)\t%zu docs\t\t%.3f s\n", files.size(), s);
  fs::remove_all(out);
}
