// Private to repo/: rebuilding index shards from the encrypted text store
// (the server alone cannot: it holds no content key). A shard is rebuilt
// only by an actor who opens all its documents, beside the live one, and
// swapped in whole.
// Thread-safety: any thread; holds the write lock while it rebuilds a
// shard (searches go on, on the old shard, until the swap).
#pragma once

#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

class ReindexService {
 public:
  explicit ReindexService(RepoContext& ctx) : ctx_(ctx) {}
  ReindexSummary Rebuild(const Actor& actor);

 private:
  RepoContext& ctx_;
};

}  // namespace dossier::repo
