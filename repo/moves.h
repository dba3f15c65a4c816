// Private to repo/: grants and revokes, and the shard moves they cause.
//
// SQLite is the source of truth. A grant or revoke records, in one
// transaction, the keys it wraps or deletes and each moving document's
// destination (documents.move_to); from that commit on, the document
// counts for searches as its destination's roles say (so a revoke shuts
// the role out at once). The moves then run in steps, each under the
// write lock on its own, so other writes get in between; every step is
// idempotent and opening the repository runs what a crash left:
//   1. copy the documents to their new shard, commit it;    move_added_to_new
//   2. record the new shard (shard_id = move_to, the old one in
//      move_from), move the index epoch on;                 move_recorded
//   3. delete them from the old shard, commit it;           move_removed_from_old
//   4. forget the old shard (move_from = NULL), epoch again. move_finished
// A search counts a moving document's copy only in the shard its row
// names (repo/search.h), so while both shards hold it, it is found once;
// the two copies shift collection statistics (and weights) until step 3.
// Copies move terms, positions and values without decrypting anything.
// Thread-safety: any thread; one mover at a time.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

// Whether documents of the case ("": of any case) are moving between
// shards: while they are, their index copies are in two places, so an
// ingest could not tell what is already there and a rebuild would miss
// or keep the wrong copy.
bool DocumentsMoving(sql::Db& db, const std::string& case_id);

class MoveService {
 public:
  explicit MoveService(RepoContext& ctx) : ctx_(ctx) {}
  // Record a grant or a revoke (Error(kConflict) while an earlier one of
  // the case is still moving documents, or an ingest into it runs or left
  // rows unfinished). The moves run with Resume.
  void RecordGrant(const Actor& actor, const std::string& case_id, const std::string& role);
  void RecordRevoke(const Actor& actor, const std::string& case_id, const std::string& role);
  // Runs every recorded move to its end; `progress` hears how many
  // documents have been copied.
  void Resume(const std::function<void(std::uint64_t left)>& progress = {});

 private:
  // Steps 3 and 4 for every document whose old copy awaits deletion.
  void FinishLeftovers();
  // Steps 1 and 2 for every document recorded as moving.
  void MoveRecorded(const std::function<void(std::uint64_t)>& progress);
  RepoContext& ctx_;
  std::mutex mover_mu_;  // one Resume at a time
};

}  // namespace dossier::repo
