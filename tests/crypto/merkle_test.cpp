#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "crypto/keys.h"
#include "crypto/merkle.h"
#include "crypto/secret.h"

using namespace dossier::crypto;

namespace {

std::string Hex(const Hash32& h) { return ToHex(h.data(), h.size()); }

// The reference leaves and tree heads of RFC 6962's tree, as published with
// Certificate Transparency's implementations.
const std::vector<std::string> kLeaves = {
    "", std::string("\x00", 1), "\x10", "\x20\x21", "\x30\x31", "\x40\x41\x42\x43",
    "\x50\x51\x52\x53\x54\x55\x56\x57", "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
const std::vector<std::string> kRoots = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

std::vector<Hash32> LeafHashes(std::size_t n) {
  std::vector<Hash32> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(MerkleLeafHash(i < kLeaves.size() ? kLeaves[i] : "leaf " + std::to_string(i)));
  }
  return out;
}

}  // namespace

TEST_CASE("the Merkle tree gives RFC 6962's published tree heads") {
  const auto leaves = LeafHashes(8);
  CHECK(Hex(MerkleRoot(leaves, 0, 0)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  MerkleFrontier f;
  for (std::size_t n = 1; n <= 8; ++n) {
    f.Append(leaves[n - 1]);
    CHECK(Hex(f.Root()) == kRoots[n - 1]);
    CHECK(Hex(MerkleRoot(leaves, 0, n)) == kRoots[n - 1]);
  }
  // The published inclusion proof of the first leaf in the tree of eight.
  const auto proof = InclusionProof(leaves, 0, 8);
  REQUIRE(proof.size() == 3);
  CHECK(Hex(proof[0]) == "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7");
  CHECK(Hex(proof[1]) == "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e");
  CHECK(Hex(proof[2]) == "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4");
}

TEST_CASE("every inclusion and consistency proof holds, and any change to one fails") {
  constexpr std::size_t kMax = 40;
  const auto leaves = LeafHashes(kMax);
  std::vector<Hash32> roots(kMax + 1);
  for (std::size_t n = 0; n <= kMax; ++n) roots[n] = MerkleRoot(leaves, 0, n);
  for (std::size_t n = 1; n <= kMax; ++n) {
    for (std::size_t i = 0; i < n; ++i) {
      auto proof = InclusionProof(leaves, i, n);
      REQUIRE(VerifyInclusion(leaves[i], i, n, proof, roots[n]));
      CHECK_FALSE(VerifyInclusion(leaves[(i + 1) % kMax], i, n, proof, roots[n]));  // another leaf
      if (n > 1) CHECK_FALSE(VerifyInclusion(leaves[i], (i + 1) % n, n, proof, roots[n]));  // another place
      CHECK_FALSE(VerifyInclusion(leaves[i], i, n + 1, proof, roots[n + 1 <= kMax ? n + 1 : n - 1]));
      if (!proof.empty()) {
        proof.back()[7] ^= 1;
        CHECK_FALSE(VerifyInclusion(leaves[i], i, n, proof, roots[n]));
        proof.back()[7] ^= 1;
        proof.pop_back();
        CHECK_FALSE(VerifyInclusion(leaves[i], i, n, proof, roots[n]));
      }
    }
    for (std::size_t m = 1; m <= n; ++m) {
      auto proof = ConsistencyProof(leaves, m, n);
      REQUIRE(VerifyConsistency(m, n, roots[m], roots[n], proof));
      if (m < n) {
        CHECK_FALSE(VerifyConsistency(m, n, roots[m - 1], roots[n], proof));  // another older head
        CHECK_FALSE(VerifyConsistency(m, n, roots[m], roots[n - 1], proof));  // another newer head
        proof.front()[0] ^= 1;
        CHECK_FALSE(VerifyConsistency(m, n, roots[m], roots[n], proof));
      }
    }
  }
}

TEST_CASE("a Merkle edge is rebuilt from its stored roots and refuses a wrong count") {
  const auto leaves = LeafHashes(13);
  MerkleFrontier a;
  for (std::size_t i = 0; i < 11; ++i) a.Append(leaves[i]);
  MerkleFrontier b(a.size(), a.roots());
  for (std::size_t i = 11; i < 13; ++i) {
    a.Append(leaves[i]);
    b.Append(leaves[i]);
  }
  CHECK(b.Root() == MerkleRoot(leaves, 0, 13));
  CHECK_THROWS(MerkleFrontier(12, a.roots()));  // 12 has two set bits, 13 three
}

TEST_CASE("a detached Ed25519 signature holds for its message and key only") {
  const SecretBytes sk = GenerateSigningSecret();
  const PublicKey pk = SigningPublicKeyOf(sk);
  Bytes sig = SignDetached(sk, "tree head 42");
  CHECK(sig.size() == 64);
  CHECK(VerifyDetached(pk, "tree head 42", sig));
  CHECK_FALSE(VerifyDetached(pk, "tree head 43", sig));
  CHECK_FALSE(VerifyDetached(SigningPublicKeyOf(GenerateSigningSecret()), "tree head 42", sig));
  sig[10] ^= 1;
  CHECK_FALSE(VerifyDetached(pk, "tree head 42", sig));
  CHECK_FALSE(VerifyDetached(pk, "tree head 42", Bytes(3, 0)));
}
