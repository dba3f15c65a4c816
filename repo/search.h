// Private to repo/: search. A search reads, in one database snapshot,
// which shards the actor's roles reach, which documents are unsettled
// (being written, or moving between shards) and where each of those
// counts, then searches exactly those shards (indexer::Searcher) and
// builds the page from the same snapshot. If the index moved on between
// the snapshot and the search (the index epoch changed: a group was
// written or documents moved), it searches again (after two such races
// holding this process's writers off for that moment, see IndexGate),
// so an answer is always
// one committed state: never a half-moved case, never a document counted
// twice, never one the actor may not open.
// Thread-safety: any number of threads at once; no lock is shared with
// writers.
#pragma once

#include <optional>

#include "indexer/searcher.h"
#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

class SearchService {
 public:
  explicit SearchService(RepoContext& ctx) : ctx_(ctx), searcher_(*ctx.blind) {}
  SearchResults Search(const Actor& actor, const SearchRequest& request);

 private:
  // One attempt within one snapshot, taken at index epoch `epoch`;
  // nothing if the index moved on before it was read.
  std::optional<SearchResults> SearchOnce(sql::Db& db, const Actor& actor,
                                          const SearchRequest& request, std::int64_t epoch);
  RepoContext& ctx_;
  indexer::Searcher searcher_;
};

}  // namespace dossier::repo
