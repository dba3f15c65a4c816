// dossier-extract: the extraction worker (see extract_pool.h). Started by
// ExtractPool with its socket on fd 3; arguments: CPU seconds per job,
// RLIMIT_DATA bytes, limits as JSON. Not meant to be run by hand.
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <cstdio>

#include "indexer/extract_pool.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "dossier-extract is started by dossier, not by hand\n");
    return 2;
  }
  dossier::indexer::ExtractLimits limits;
  const auto j = nlohmann::json::parse(argv[3], nullptr, false);
  if (j.is_object()) {
    limits.max_depth = j.value("max_depth", limits.max_depth);
    limits.max_entry_bytes = j.value("max_entry_bytes", limits.max_entry_bytes);
    limits.max_total_bytes = j.value("max_total_bytes", limits.max_total_bytes);
    limits.max_ratio = j.value("max_ratio", limits.max_ratio);
    limits.max_items = j.value("max_items", limits.max_items);
    limits.text_cap = j.value("text_cap", limits.text_cap);
    limits.phone_region = j.value("phone_region", limits.phone_region);
    limits.find_entities = j.value("find_entities", true);
    limits.test_faults = j.value("test_faults", false);
  }
  return dossier::indexer::RunExtractWorker(limits, std::atoi(argv[1]),
                                            std::strtoull(argv[2], nullptr, 10));
}
