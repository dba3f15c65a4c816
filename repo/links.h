// Private to repo/: entities across cases, and the links they make.
//
// What is stored (schema version 10): per document, the keyed hashes of its
// entities (the entities subkey of the index key, 16 bytes of BLAKE2b of
// "type:value") in entity_postings, with the shard that decides who may
// open the document; per hash, shard and case, how many documents hold
// it (entity_cases: added to by EntityPostings once per commit group, taken
// from and moved by triggers on entity_postings and documents).
// The values themselves live only in the documents' sealed metadata.
//
// Adding a document writes one posting per distinct entity and touches
// at most one entity_cases row each: its cost does not depend on the number of
// cases. A case's links read its own hashes, then for each hash at most
// (threshold + 1) holders per shard the viewer may open: in proportion to
// the case's entities, bounded by the stop threshold.
//
// Everything a link list holds is counted over the documents the viewer
// may open (rarity, the stop threshold, the shared entities), so cases
// the viewer may not open shift nothing; of those the viewer learns only
// the deconfliction notice (LinkNotice), which is recorded for the other
// case's roles to see, rate-limited per user and reported as an event.
// Thread-safety: any thread.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

// The hash that matches an entity across cases.
crypto::Bytes EntityHash(const RepoContext& ctx, const std::string& type, const std::string& value);

// The type and hash an entity links by (a capitalised-words name, weight
// under 1, links as "cname", apart from watchlist names).
std::pair<std::string, crypto::Bytes> LinkKey(const RepoContext& ctx, const std::string& type,
                                              const std::string& value, double weight);

// Records documents' entities (their sealed records' "entities" lists) for
// linking, inside the transaction that writes their rows: each document's
// postings at once, and per hash, shard and case how many documents hold
// it at Finish(), one upsert per hash, shard and case of the batch rather
// than one per posting (a group of mail repeats its senders' addresses and
// domains: measured, 3,345 upserts instead of 8,643 for 630 messages).
// Deletes and moves keep the counts by trigger. Types that do not link
// (dates) are left out.
class EntityPostings {
 public:
  EntityPostings(const RepoContext& ctx, sql::Db& w);
  EntityPostings(const EntityPostings&) = delete;
  EntityPostings& operator=(const EntityPostings&) = delete;
  void Add(const std::string& doc_id, const std::string& case_id, const std::string& shard_id,
           const std::vector<DocumentEntity>& entities);
  // Must run before the transaction commits, or the counts fall behind.
  void Finish();

 private:
  const RepoContext& ctx_;
  sql::Db& w_;
  sql::Stmt ins_;
  // (hash, shard, case) -> (type, new documents)
  std::map<std::tuple<crypto::Bytes, std::string, std::string>, std::pair<std::string, std::int64_t>> counts_;
};

// How much one shared entity of a type weighs before rarity (0: the type
// does not link).
double LinkTypeWeight(const std::string& type);

// The repository's default phone region (LinkSettings::phone_region).
std::string RepositoryPhoneRegion(sql::Db& db);
// The region a case's phone numbers are read in: its own, else the
// repository's.
std::string PhoneRegionFor(sql::Db& db, const Actor& actor, const std::string& case_id);

class LinkService {
 public:
  explicit LinkService(RepoContext& ctx) : ctx_(ctx) {}
  // The case's links, decided ones first, then by score; with notices
  // (recorded as a side effect) unless `notices` is false.
  CaseLinks Links(const Actor& actor, const std::string& case_id, std::uint32_t limit,
                  bool notices = true);
  // decision: confirm, reject, add or clear; `why` is required (but for
  // clear) and sealed under the first case's key.
  void Decide(const Actor& actor, const std::string& case_id, const std::string& other,
              const std::string& decision, const std::string& why);
  // Sets (or clears) a stop-entity by hand; the actor must be able to open
  // a document holding it.
  void SetStop(const Actor& actor, const std::string& type, const std::string& value, bool stop);
  // The neighbourhood of a case: cases within `depth` links (1-3) and the
  // entities that link them.
  LinkGraph Graph(const Actor& actor, const std::string& case_id, int depth);
  LinkSettings Settings();
  void SetSettings(const Actor& actor, const LinkSettings& settings);

 private:
  RepoContext& ctx_;
};

}  // namespace dossier::repo
