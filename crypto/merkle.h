// The Merkle tree of RFC 9162 (Certificate Transparency 2.0, section 2.1)
// over SHA-256, for the audit trail: leaf hashes are SHA-256(0x00 || leaf),
// interior nodes SHA-256(0x01 || left || right), the left subtree of n
// leaves holding the largest power of two below n. An inclusion proof of one
// leaf and a consistency proof between two tree sizes are O(log n) hashes.
// Written here because no Debian library offers this tree (libsodium and
// OpenSSL give the hash; CT's own code is Go and Java).
// Thread-safety: plain values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace dossier::crypto {

using Hash32 = std::array<unsigned char, 32>;

Hash32 Sha256Of(std::string_view data);
Hash32 MerkleLeafHash(std::string_view leaf);
Hash32 MerkleNodeHash(const Hash32& left, const Hash32& right);

// The right edge of a growing tree: the roots of its perfect subtrees,
// largest first (one per set bit of the size), so appending a leaf costs
// one hash on average and the root O(log n).
class MerkleFrontier {
 public:
  MerkleFrontier() = default;
  // Throws Error(kCorrupt) when `roots` cannot be the edge of a tree of
  // `size` leaves (one root per set bit).
  MerkleFrontier(std::uint64_t size, std::vector<Hash32> roots);
  void Append(const Hash32& leaf_hash);
  Hash32 Root() const;  // SHA-256("") for the empty tree
  std::uint64_t size() const { return size_; }
  const std::vector<Hash32>& roots() const { return roots_; }

 private:
  std::uint64_t size_ = 0;
  std::vector<Hash32> roots_;
};

// The root of leaves [begin, end), however they are stored.
using RangeRoot = std::function<Hash32(std::uint64_t begin, std::uint64_t end)>;
std::vector<Hash32> InclusionProof(const RangeRoot& root_of, std::uint64_t index, std::uint64_t size);
std::vector<Hash32> ConsistencyProof(const RangeRoot& root_of, std::uint64_t first, std::uint64_t second);

// Over a tree's leaf hashes (these walk the leaves: O(n) hashes).
Hash32 MerkleRoot(const std::vector<Hash32>& leaves, std::uint64_t begin, std::uint64_t end);
// REQUIRES: index < size <= leaves.size().
std::vector<Hash32> InclusionProof(const std::vector<Hash32>& leaves, std::uint64_t index, std::uint64_t size);
// REQUIRES: 0 < first <= second <= leaves.size().
std::vector<Hash32> ConsistencyProof(const std::vector<Hash32>& leaves, std::uint64_t first,
                                     std::uint64_t second);

// The checks of RFC 9162 sections 2.1.3.2 and 2.1.4.2: false for a proof
// that does not hold, never a throw.
bool VerifyInclusion(const Hash32& leaf_hash, std::uint64_t index, std::uint64_t size,
                     const std::vector<Hash32>& proof, const Hash32& root);
bool VerifyConsistency(std::uint64_t first, std::uint64_t second, const Hash32& first_root,
                       const Hash32& second_root, const std::vector<Hash32>& proof);

}  // namespace dossier::crypto
