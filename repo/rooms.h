// Private to repo/: the rooms the next issues fill, each a service beside
// the others, sharing the context (links.h was the first):
//   WorkflowService   stages, risk, tasks, deadlines, reminders, reports
//                     (repo/workflow.h)
//   AuditService      the audit trail (repo/audit.h, repo/audit_trail.h)
//   DisclosureService requests, decisions and productions
// They hold nothing yet: the façade owns one of each so that a feature
// adds its methods here, not to Repository::Impl.
#pragma once

#include "repo/context.h"

namespace dossier::repo {

// What every room starts from: the context it shares.
class Room {
 public:
  explicit Room(RepoContext& ctx) : ctx_(ctx) {}
  RepoContext& context() { return ctx_; }

 private:
  RepoContext& ctx_;
};

class DisclosureService : public Room {
  using Room::Room;
};

}  // namespace dossier::repo
