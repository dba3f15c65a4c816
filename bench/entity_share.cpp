// What entity extraction costs next to text extraction, on real files:
// for each file, ExtractAll (as a worker runs it) and then FindEntities on
// every item's text and address headers (as the worker's sink does), timed
// apart. Ingest does more than extract (encryption, indexing, commits), so
// the share printed is an upper bound of entities' share of ingest time.
// Usage: entity_share DIR [FILES] [--dump OUT]
// --dump writes every entity found (file, type, value, span), sorted by
// file, so that two builds can be compared: a faster scanner must find
// exactly what the slower one did.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "indexer/entities.h"
#include "indexer/extract.h"

using namespace dossier;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string dump_path;
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--dump") {
      dump_path = args[i + 1];
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      break;
    }
  }
  if (args.empty()) {
    std::fprintf(stderr, "usage: entity_share DIR [FILES] [--dump OUT]\n");
    return 2;
  }
  const std::size_t max_files = args.size() > 1 ? std::stoul(args[1]) : 1000000;
  std::map<std::string, std::string> dump;  // file -> its entities, one per line
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(args[0])) {
    if (e.is_regular_file()) files.push_back(e.path());
    if (files.size() >= max_files) break;
  }
  indexer::ExtractLimits limits;
  indexer::EntityOptions options;
  double extract_s = 0, entity_s = 0;
  std::uint64_t bytes = 0, text_bytes = 0, entities = 0;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes += data.size();
    std::vector<indexer::ExtractedItem> items;
    const auto t0 = Steady::now();
    try {
      indexer::ExtractAll(data, path.filename().string(), limits,
                          [&](const indexer::ExtractedItem& item, std::string_view) { items.push_back(item); });
    } catch (const std::exception&) {
      continue;
    }
    const auto t1 = Steady::now();
    std::vector<std::vector<indexer::Entity>> found;
    for (const auto& item : items) {
      text_bytes += item.text.size();
      found.push_back(indexer::FindItemEntities(item.text, item.fields, options));
      entities += found.back().size();
    }
    const auto t2 = Steady::now();
    if (!dump_path.empty()) {
      std::string& lines = dump[path.string()];
      for (std::size_t k = 0; k < found.size(); ++k) {
        for (const auto& e : found[k]) {
          lines += std::to_string(k) + " " + std::string(indexer::EntityTypeName(e.type)) + " " + e.field + " " +
                   e.value + " " + std::to_string(e.begin) + "-" + std::to_string(e.end) + "\n";
        }
      }
    }
    extract_s += std::chrono::duration<double>(t1 - t0).count();
    entity_s += std::chrono::duration<double>(t2 - t1).count();
  }
  std::printf("%zu files, %.1f MB, text %.1f MB, %llu entities; extract %.2f s, entities %.2f s = %.1f%% of both\n",
              files.size(), static_cast<double>(bytes) / 1e6, static_cast<double>(text_bytes) / 1e6,
              static_cast<unsigned long long>(entities), extract_s, entity_s,
              100.0 * entity_s / (extract_s + entity_s));
  if (!dump_path.empty()) {
    std::ofstream out(dump_path, std::ios::binary);
    for (const auto& [file, lines] : dump) out << "== " << file << "\n" << lines;
  }
  return 0;
}
