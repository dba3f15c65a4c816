#include "crypto/merkle.h"

#include <sodium.h>

#include <bit>

#include "base/error.h"
#include "crypto/secret.h"

namespace dossier::crypto {
namespace {

// Both checks' step at a node where the path's node sits on the tree's
// right edge: climb while the node is a left child, as RFC 9162 says.
void SkipRightEdge(std::uint64_t& fn, std::uint64_t& sn) {
  while (!(fn & 1) && fn != 0) {
    fn >>= 1;
    sn >>= 1;
  }
}

// The largest power of two below n (n >= 2).
std::uint64_t SplitOf(std::uint64_t n) { return std::bit_floor(n - 1); }

void Subproof(const RangeRoot& leaves, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
              bool whole, std::vector<Hash32>& out) {
  const std::uint64_t n = end - begin;
  if (m == n) {
    if (!whole) out.push_back(leaves(begin, end));
    return;
  }
  const std::uint64_t k = SplitOf(n);
  if (m <= k) {
    Subproof(leaves, m, begin, begin + k, whole, out);
    out.push_back(leaves(begin + k, end));
  } else {
    Subproof(leaves, m - k, begin + k, end, false, out);
    out.push_back(leaves(begin, begin + k));
  }
}

void Path(const RangeRoot& leaves, std::uint64_t index, std::uint64_t begin, std::uint64_t end,
          std::vector<Hash32>& out) {
  const std::uint64_t n = end - begin;
  if (n <= 1) return;
  const std::uint64_t k = SplitOf(n);
  if (index < k) {
    Path(leaves, index, begin, begin + k, out);
    out.push_back(leaves(begin + k, end));
  } else {
    Path(leaves, index - k, begin + k, end, out);
    out.push_back(leaves(begin, begin + k));
  }
}

}  // namespace

Hash32 Sha256Of(std::string_view data) {
  EnsureSodium();
  Hash32 h;
  crypto_hash_sha256(h.data(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return h;
}

Hash32 MerkleLeafHash(std::string_view leaf) {
  EnsureSodium();
  crypto_hash_sha256_state s;
  const unsigned char zero = 0;
  crypto_hash_sha256_init(&s);
  crypto_hash_sha256_update(&s, &zero, 1);
  crypto_hash_sha256_update(&s, reinterpret_cast<const unsigned char*>(leaf.data()), leaf.size());
  Hash32 h;
  crypto_hash_sha256_final(&s, h.data());
  return h;
}

Hash32 MerkleNodeHash(const Hash32& left, const Hash32& right) {
  unsigned char in[65];
  in[0] = 1;
  std::copy(left.begin(), left.end(), in + 1);
  std::copy(right.begin(), right.end(), in + 33);
  Hash32 h;
  crypto_hash_sha256(h.data(), in, sizeof in);
  return h;
}

MerkleFrontier::MerkleFrontier(std::uint64_t size, std::vector<Hash32> roots)
    : size_(size), roots_(std::move(roots)) {
  if (static_cast<std::size_t>(std::popcount(size_)) != roots_.size()) {
    throw Error(ErrorCode::kCorrupt, "the audit trail's tree edge does not match its size");
  }
}

void MerkleFrontier::Append(const Hash32& leaf_hash) {
  roots_.push_back(leaf_hash);
  // Like adding one in binary: each carry merges two equal subtrees.
  for (std::uint64_t s = size_; s & 1; s >>= 1) {
    const Hash32 right = roots_.back();
    roots_.pop_back();
    roots_.back() = MerkleNodeHash(roots_.back(), right);
  }
  ++size_;
}

Hash32 MerkleFrontier::Root() const {
  if (roots_.empty()) return Sha256Of("");
  Hash32 r = roots_.back();
  for (std::size_t i = roots_.size() - 1; i-- > 0;) r = MerkleNodeHash(roots_[i], r);
  return r;
}

Hash32 MerkleRoot(const std::vector<Hash32>& leaves, std::uint64_t begin, std::uint64_t end) {
  if (end > leaves.size() || begin > end) throw Error(ErrorCode::kInternal, "a Merkle range past its leaves");
  if (begin == end) return Sha256Of("");
  MerkleFrontier f;
  for (std::uint64_t i = begin; i < end; ++i) f.Append(leaves[i]);
  return f.Root();
}

std::vector<Hash32> InclusionProof(const RangeRoot& root_of, std::uint64_t index, std::uint64_t size) {
  if (index >= size) throw Error(ErrorCode::kInternal, "an inclusion proof past the tree");
  std::vector<Hash32> out;
  Path(root_of, index, 0, size, out);
  return out;
}

std::vector<Hash32> ConsistencyProof(const RangeRoot& root_of, std::uint64_t first, std::uint64_t second) {
  if (first == 0 || first > second) throw Error(ErrorCode::kInternal, "a consistency proof past the tree");
  std::vector<Hash32> out;
  Subproof(root_of, first, 0, second, true, out);
  return out;
}

std::vector<Hash32> InclusionProof(const std::vector<Hash32>& leaves, std::uint64_t index,
                                   std::uint64_t size) {
  if (size > leaves.size()) throw Error(ErrorCode::kInternal, "an inclusion proof past the tree");
  return InclusionProof([&](std::uint64_t b, std::uint64_t e) { return MerkleRoot(leaves, b, e); }, index, size);
}

std::vector<Hash32> ConsistencyProof(const std::vector<Hash32>& leaves, std::uint64_t first,
                                     std::uint64_t second) {
  if (second > leaves.size()) throw Error(ErrorCode::kInternal, "a consistency proof past the tree");
  return ConsistencyProof([&](std::uint64_t b, std::uint64_t e) { return MerkleRoot(leaves, b, e); }, first,
                          second);
}

bool VerifyInclusion(const Hash32& leaf_hash, std::uint64_t index, std::uint64_t size,
                     const std::vector<Hash32>& proof, const Hash32& root) {
  if (index >= size) return false;
  std::uint64_t fn = index, sn = size - 1;
  Hash32 r = leaf_hash;
  for (const Hash32& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = MerkleNodeHash(p, r);
      SkipRightEdge(fn, sn);
    } else {
      r = MerkleNodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyConsistency(std::uint64_t first, std::uint64_t second, const Hash32& first_root,
                       const Hash32& second_root, const std::vector<Hash32>& proof) {
  if (first > second) return false;
  if (first == second) return proof.empty() && first_root == second_root;
  if (first == 0) return proof.empty();  // the empty tree is a prefix of every tree
  if (proof.empty()) return false;
  std::vector<Hash32> path = proof;
  if (std::has_single_bit(first)) path.insert(path.begin(), first_root);
  std::uint64_t fn = first - 1, sn = second - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash32 fr = path[0], sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const Hash32& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = MerkleNodeHash(c, fr);
      sr = MerkleNodeHash(c, sr);
      SkipRightEdge(fn, sn);
    } else {
      sr = MerkleNodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == first_root && sr == second_root && sn == 0;
}

}  // namespace dossier::crypto
