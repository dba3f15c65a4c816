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

#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "indexer/searcher.h"
#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

// The shards a search reads: those the actor's roles reach that hold
// settled documents (every such shard must exist), and the languages
// indexed in them.
struct ShardPlan {
  std::vector<std::string> shards;
  std::vector<std::string> languages;
  std::map<std::string, AccessSet> sets;  // of every shard, visible or not
  std::size_t old_format = 0;             // visible shards before prefix terms
};

class SearchService {
 public:
  explicit SearchService(RepoContext& ctx) : ctx_(ctx), searcher_(*ctx.blind) {}
  SearchResults Search(const Actor& actor, const SearchRequest& request);
  // The documents in scope that are not fully searchable, by id.
  ExceptionList Exceptions(const Actor& actor, const std::string& case_id, std::uint32_t offset,
                           std::uint32_t limit);
  // Every document the query matches (sorted ids); Error(kTooLarge) past `cap`.
  std::vector<std::string> MatchingIds(const Actor& actor, const std::string& query,
                                       const std::string& case_id, std::size_t cap);
  // Every hit (at most 100,000) with what a review export lists.
  std::vector<ExportRow> Export(const Actor& actor, const SearchRequest& request);
  // Where `query` matches in a document's `text` (already opened by the
  // caller), in characters.
  TextMatches MatchText(const std::string& query, std::string_view text,
                        const std::string& language) const;
  // A search-term report (see TermReport); each term a full query.
  TermReport Terms(const Actor& actor, const std::vector<std::string>& terms,
                   const std::string& case_id);

  // Saved searches (saved_searches.cpp): per user, the name and query
  // sealed to the user's own public key.
  SavedSearch Save(const Actor& actor, const std::string& name, const std::string& query,
                   const std::string& case_id);
  std::vector<SavedSearch> ListSaved(const Actor& actor);
  SavedSearchRun RunSaved(const Actor& actor, const std::string& id, std::uint32_t offset,
                          std::uint32_t limit);
  void DeleteSaved(const Actor& actor, const std::string& id);

 private:
  // Runs fn(db, epoch) until it answers (an optional with a value) from
  // one committed state of the index; see the file comment.
  template <typename Fn>
  auto Consistent(Fn&& fn) -> typename decltype(fn(std::declval<sql::Db&>(), std::int64_t{}))::value_type;
  bool EpochMoved(std::int64_t epoch);
  // Search, with only these documents able to match (no event).
  SearchResults SearchAmong(const Actor& actor, const SearchRequest& request,
                            std::optional<std::vector<std::string>> only_ids);
  // Refuses a prefix query over shards built before prefix terms.
  static void RequirePrefixes(const ShardPlan& plan, const std::string& query);
  indexer::SearchQuery QueryFor(sql::Db& db, const Actor& actor, const ShardPlan& plan,
                                const std::string& text, const std::string& case_id);
  // One attempt within one snapshot, taken at index epoch `epoch`;
  // nothing if the index moved on before it was read.
  std::optional<SearchResults> SearchOnce(sql::Db& db, const Actor& actor,
                                          const SearchRequest& request, std::int64_t epoch,
                                          std::optional<std::vector<std::string>> only_ids);
  // The name of a facet value (its hash part), from a document holding it
  // that the actor opens; "" if none. Names are cached by term: a name is
  // shown only where the actor's own documents counted its term.
  std::string Label(sql::Db& db, const Actor& actor, indexer::Field field,
                    const std::string& hash);

  RepoContext& ctx_;
  indexer::Searcher searcher_;
  std::mutex labels_mu_;
  std::unordered_map<std::string, std::string> labels_;  // guarded by labels_mu_
};

}  // namespace dossier::repo
