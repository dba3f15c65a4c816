#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "base/error.h"
#include "crypto/blob_stream.h"
#include "crypto/envelope.h"
#include "crypto/keyed_hash.h"
#include "crypto/keys.h"

using namespace dossier;
using namespace dossier::crypto;

namespace {
std::string Encrypt(const SecretBytes& key, const std::string& plain) {
  std::string out;
  BlobEncryptor enc(key, [&](const unsigned char* p, std::size_t n) {
    out.append(reinterpret_cast<const char*>(p), n);
  });
  enc.Write(reinterpret_cast<const unsigned char*>(plain.data()), plain.size());
  enc.Finish();
  return out;
}

std::string Decrypt(const SecretBytes& key, const std::string& cipher) {
  std::size_t at = 0;
  BlobDecryptor dec(key, [&](unsigned char* p, std::size_t n) {
    const std::size_t take = std::min(n, cipher.size() - at);
    std::copy(cipher.data() + at, cipher.data() + at + take, p);
    at += take;
    return take;
  });
  std::string out, chunk;
  while (dec.Next(chunk)) out += chunk;
  return out;
}

std::string Text(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; s.size() < n; ++i) s += "line " + std::to_string(i) + " of text\n";
  s.resize(n);
  return s;
}
}  // namespace

TEST_CASE("a wrapped key opens with the right password and not with another") {
  SecretBytes secret = RandomSecret(32);
  Bytes wrapped = WrapWithPassword(secret, "correct horse", PasswordCost::kInteractive);
  CHECK(UnwrapWithPassword(wrapped, "correct horse").Equals(secret));
  try {
    UnwrapWithPassword(wrapped, "wrong horse");
    FAIL("a wrong password opened the key");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kUnauthenticated);
  }
  SECTION("the Argon2id parameters cannot be altered") {
    wrapped[2] ^= 1;  // opslimit
    CHECK_THROWS_AS(UnwrapWithPassword(wrapped, "correct horse"), Error);
  }
}

TEST_CASE("a sealed key opens only for its recipient") {
  KeyPair alice = GenerateKeyPair(), bob = GenerateKeyPair();
  SecretBytes data_key = NewDataKey();
  Bytes sealed = SealTo(alice.public_key, data_key);
  CHECK(OpenSealed(alice, sealed).Equals(data_key));
  CHECK_THROWS_AS(OpenSealed(bob, sealed), Error);
  sealed.back() ^= 0x80;
  CHECK_THROWS_AS(OpenSealed(alice, sealed), Error);
  CHECK(PublicKeyOf(alice.secret_key) == alice.public_key);
}

TEST_CASE("an encrypted blob round-trips in chunks of any size") {
  SecretBytes key = RandomSecret(32);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, kBlobChunk - 1, kBlobChunk,
                        kBlobChunk + 1, 3 * kBlobChunk + 17}) {
    const std::string plain = Text(n);
    const std::string cipher = Encrypt(key, plain);
    CHECK(cipher.find("line 1 of text") == std::string::npos);
    CHECK(Decrypt(key, cipher) == plain);
  }
}

TEST_CASE("a blob with one flipped byte fails to decrypt") {
  SecretBytes key = RandomSecret(32);
  const std::string cipher = Encrypt(key, Text(2 * kBlobChunk + 100));
  // Every byte class: magic, header, a length field, ciphertext, the tag.
  for (std::size_t pos : {std::size_t{0}, std::size_t{10}, std::size_t{28}, std::size_t{40},
                          kBlobChunk, cipher.size() - 1}) {
    std::string bad = cipher;
    bad[pos] ^= 0x01;
    CHECK_THROWS_AS(Decrypt(key, bad), Error);
  }
  SECTION("the wrong key fails too") {
    CHECK_THROWS_AS(Decrypt(RandomSecret(32), cipher), Error);
  }
}

TEST_CASE("a blob truncated at any chunk boundary is rejected, not returned short") {
  SecretBytes key = RandomSecret(32);
  const std::string plain = Text(3 * kBlobChunk + 5);
  const std::string cipher = Encrypt(key, plain);
  // Record boundaries: header is 28 bytes, each full record 4 + chunk + 17.
  const std::size_t record = 4 + kBlobChunk + 17;
  for (std::size_t cut : {std::size_t{28}, 28 + record, 28 + 2 * record, 28 + 3 * record,
                          cipher.size() - 1}) {
    INFO("cut at " << cut);
    try {
      Decrypt(key, cipher.substr(0, cut));
      FAIL("a truncated blob decrypted");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kCorrupt);
    }
  }
  SECTION("trailing bytes after the final chunk are rejected") {
    CHECK_THROWS_AS(Decrypt(key, cipher + "x"), Error);
  }
}

TEST_CASE("a text chunk opens only in its own document, place and position") {
  SecretBytes key = RandomSecret(32);
  Bytes sealed = SealMessage(key, TextChunkAd("doc1", 3, false), "chunk text");
  CHECK(OpenMessage(key, TextChunkAd("doc1", 3, false), sealed) == "chunk text");
  CHECK_THROWS_AS(OpenMessage(key, TextChunkAd("doc2", 3, false), sealed), Error);
  CHECK_THROWS_AS(OpenMessage(key, TextChunkAd("doc1", 4, false), sealed), Error);
  // A chunk sealed as "not last" cannot pose as the last one (truncation).
  CHECK_THROWS_AS(OpenMessage(key, TextChunkAd("doc1", 3, true), sealed), Error);
}

TEST_CASE("keyed hashes depend on the key and the purpose") {
  SecretBytes k1 = RandomSecret(32), k2 = RandomSecret(32);
  KeyedHasher terms(k1, HashPurpose::kTerms), dedup(k1, HashPurpose::kDedup),
      other(k2, HashPurpose::kTerms);
  CHECK(terms.Hash("invoice", 8) == terms.Hash("invoice", 8));
  CHECK(terms.Hash("invoice", 8).size() == 8);
  CHECK(terms.Hash("invoice", 8) != dedup.Hash("invoice", 8));
  CHECK(terms.Hash("invoice", 8) != other.Hash("invoice", 8));
  CHECK(terms.Hash("invoice", 8) != terms.Hash("invoices", 8));
  auto s = terms.Start();
  s.Update(reinterpret_cast<const unsigned char*>("abc"), 3);
  CHECK(s.Final().size() == 32);
}

TEST_CASE("data subkeys differ per use") {
  SecretBytes dk = NewDataKey();
  CHECK_FALSE(DeriveDataSubkey(dk, DataKeyUse::kBlob).Equals(DeriveDataSubkey(dk, DataKeyUse::kText)));
  CHECK(DeriveDataSubkey(dk, DataKeyUse::kMeta).Equals(DeriveDataSubkey(dk, DataKeyUse::kMeta)));
}

TEST_CASE("a wrapped data key opens only under its batch key, document and recipient") {
  SecretBytes batch = RandomSecret(32), other_batch = RandomSecret(32);
  SecretBytes dk = NewDataKey();
  const Bytes wrapped = WrapKey(batch, DataKeyAd("doc1", "3"), dk);
  CHECK(UnwrapKey(batch, DataKeyAd("doc1", "3"), wrapped).Equals(dk));
  CHECK_THROWS_AS(UnwrapKey(other_batch, DataKeyAd("doc1", "3"), wrapped), Error);
  // Moved to another document's row, or to another role's: refused.
  CHECK_THROWS_AS(UnwrapKey(batch, DataKeyAd("doc2", "3"), wrapped), Error);
  CHECK_THROWS_AS(UnwrapKey(batch, DataKeyAd("doc1", "4"), wrapped), Error);
  CHECK_THROWS_AS(UnwrapKey(batch, DataKeyAd("doc1", "recovery"), wrapped), Error);
  Bytes flipped = wrapped;
  flipped[30] ^= 1;
  CHECK_THROWS_AS(UnwrapKey(batch, DataKeyAd("doc1", "3"), flipped), Error);
  Bytes shorter(wrapped.begin(), wrapped.end() - 1);
  CHECK_THROWS_AS(UnwrapKey(batch, DataKeyAd("doc1", "3"), shorter), Error);
  // Two wraps of one key differ (fresh nonces), so equal keys are not visible.
  CHECK(WrapKey(batch, DataKeyAd("doc1", "3"), dk) != wrapped);
}

TEST_CASE("random bytes never repeat across threads or a fork") {
  // Draws go through a per-thread buffer of kernel randomness: two threads,
  // and a parent and its forked child, must never hand out the same bytes.
  const Bytes first = RandomBytes(16);
  Bytes in_thread;
  std::thread t([&] { in_thread = RandomBytes(16); });
  t.join();
  CHECK(in_thread != first);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const Bytes b = RandomBytes(16);
    (void)!::write(fds[1], b.data(), b.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  Bytes from_child(16);
  REQUIRE(::read(fds[0], from_child.data(), 16) == 16);
  ::close(fds[0]);
  ::waitpid(child, nullptr, 0);
  const Bytes in_parent = RandomBytes(16);
  CHECK(from_child != in_parent);
  // Nonces, keys and ids drawn in a row differ too.
  std::set<Bytes> seen;
  for (int i = 0; i < 2000; ++i) CHECK(seen.insert(RandomBytes(24)).second);
}
