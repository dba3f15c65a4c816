// Private to repo/: an ingest's commit groups (steps 2-5 of ingest.h).
// Staged documents gather in an open group; a full group goes to the
// commit thread while the next one fills. A group commits under the
// repository's write lock, held from its rows to its index commit and
// released at once, so other writes land between two groups. Items staged
// later look up what the open and the committing group hold (neither is
// readable from the database as acknowledged yet).
// Thread-safety: one run thread calls it; the commit thread is its own.
#pragma once

#include <functional>
#include <future>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "repo/build_pool.h"
#include "repo/ingest.h"

namespace dossier::repo {

class GroupCommitter {
 public:
  GroupCommitter(RepoContext& ctx, const IngestPlan& plan, BuildPool<BuildResult>& builds,
                 std::function<void(const IngestedDocument&)> acknowledge);
  // Waits for a commit in flight (and drops what it would acknowledge).
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // The document staged at this place, in the open or committing group.
  const IngestedDocument* FindPlace(const crypto::Bytes& place_key) const;
  // The id of a document staged with this content, or "".
  std::string FindOriginal(const crypto::Bytes& dedup_key) const;

  // Adds a staged document (its build task goes to the pool now); a full
  // group goes to the commit thread.
  void Push(Staged&& staged);
  // An item found already there: acknowledged now, or after the group
  // holding what it names commits (so nothing acknowledged can vanish in
  // a crash).
  void AcknowledgeExisting(const IngestedDocument& doc);
  // A child kept from an interrupted run joins its new top-level.
  void Reparent(const std::string& child, const std::string& parent);
  void AddLanguage(const std::string& language);
  // --retry-failed: a failure this run replaces. Copies staged before the
  // replacement existed follow it; none is ever recorded against it.
  void NoteReplacing(const std::string& failure_id);
  bool Replacing(const std::string& id) const { return being_replaced_.count(id) > 0; }

  // Acknowledges a finished commit without waiting for one in flight.
  void Poll();
  // Commits what is left and waits for it.
  void Finish();
  // Drops the open group, as a crash would; a commit in flight finishes.
  void Discard();

 private:
  struct GroupIndex {
    std::map<crypto::Bytes, IngestedDocument> place;  // by place key
    std::map<crypto::Bytes, std::string> original;    // document id by content key
    std::set<std::string> ids;
    std::vector<IngestedDocument> exists;  // acknowledged after the group commits
  };
  struct Batch {
    std::vector<Staged> group;
    std::vector<std::pair<std::string, std::string>> reparent;
    std::set<std::string> languages;
  };
  void Flush();
  void FinishCommit();
  std::vector<IngestedDocument> Commit(Batch& batch);  // on the commit thread
  void WriteRows(sql::Db& w, Batch& batch);
  // The key batch to wrap this group's keys with: the plan's, or a new one
  // when a recipient role's key was rotated since (a member removed while
  // the ingest ran), so nothing the leaver's old key opens gets new data.
  const KeyBatch& CurrentBatch(sql::Db& w);
  void MarkIndexed(sql::Db& w, Batch& batch);

  RepoContext& ctx_;
  const IngestPlan& plan_;
  BuildPool<BuildResult>& builds_;
  std::function<void(const IngestedDocument&)> acknowledge_;
  std::vector<Staged> group_;
  std::vector<std::pair<std::string, std::string>> reparent_;
  std::set<std::string> languages_;
  std::size_t group_text_ = 0;
  GroupIndex open_, committing_group_;
  std::set<std::string> being_replaced_;
  std::map<std::string, std::string> replaced_by_;
  std::future<std::vector<IngestedDocument>> committing_;
  std::unique_ptr<KeyBatch> rebatch_;  // on the commit thread only
};

}  // namespace dossier::repo
