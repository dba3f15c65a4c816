// Private to repo/: what opening a repository for writing finishes after a
// crash (DESIGN.md, "Writes are crash-safe"): temporary files go; a
// pending document whose id term reached its shard is kept (its group's
// index commit happened), one whose term is missing is removed with its
// files (it was never acknowledged); moves left half-done are finished by
// MoveService::Resume, which the caller runs next.
#pragma once

#include "repo/context.h"

namespace dossier::repo {

// `clean_temp`: also discard unpublished files (only when no write is under
// way: at open, or after the one ingest running has stopped).
void RecoverPending(RepoContext& ctx, bool clean_temp = true);
// Before the current move order, moves went through a staging shard; a
// crash could leave documents only there. They go to their destination,
// and the staging shard goes. At open only.
void DrainLegacyStaging(RepoContext& ctx);

}  // namespace dossier::repo
