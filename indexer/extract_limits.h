// Limits on what one file may expand into, checked while its family is
// extracted (see extract.h) and again by the parent on what a worker sends
// back (see extract_pool.h). Kept apart from the extractor's API so that
// code configuring them (repo::OpenOptions) needs no more than this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace dossier::indexer {

struct ExtractLimits {
  int max_depth = 10;                           // containers inside containers
  std::uint64_t max_entry_bytes = 256ull << 20;  // one expanded entry or attachment
  std::uint64_t max_total_bytes = 2ull << 30;    // all expanded from one file
  double max_ratio = 100;          // expanded / compressed bytes, once past 1 MiB
  std::uint64_t max_items = 100000;              // items in one family
  std::size_t text_cap = 32u << 20;              // extracted text kept per item
  // ISO 3166 region for phone numbers written without a country code.
  std::string phone_region = "PT";
  // Whether the workers find entities (off only to measure what they cost).
  bool find_entities = true;
  // Tests only: a file named __dossier_fault_crash__, _hang__, _spin__,
  // _oom__, _close__, _lie__ or _garbage__ makes the worker crash, hang,
  // exhaust its memory, hang up, claim a reply past the limits or send a
  // malformed one, to prove the pool survives it. Off in production.
  bool test_faults = false;
};

}  // namespace dossier::indexer
