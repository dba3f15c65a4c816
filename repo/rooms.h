// Private to repo/: the rooms the next issues fill, each a service beside
// the others, sharing the context:
//   LinkService       entities and automatic case links (the links issue)
//   WorkflowService   stages, risk, tasks, deadlines, reminders, reports
//   AuditService      the audit trail; it will take over EventSink, which
//                     every change and read already passes through
//   DisclosureService requests, decisions and productions
// They hold nothing yet: the façade owns one of each so that a feature
// adds its methods here, not to Repository::Impl.
#pragma once

#include "repo/context.h"

namespace dossier::repo {

class LinkService {
 public:
  explicit LinkService(RepoContext& ctx) : ctx_(ctx) {}
  RepoContext& context() { return ctx_; }

 private:
  RepoContext& ctx_;
};

class WorkflowService {
 public:
  explicit WorkflowService(RepoContext& ctx) : ctx_(ctx) {}
  RepoContext& context() { return ctx_; }

 private:
  RepoContext& ctx_;
};

class AuditService {
 public:
  explicit AuditService(RepoContext& ctx) : ctx_(ctx) {}
  RepoContext& context() { return ctx_; }

 private:
  RepoContext& ctx_;
};

class DisclosureService {
 public:
  explicit DisclosureService(RepoContext& ctx) : ctx_(ctx) {}
  RepoContext& context() { return ctx_; }

 private:
  RepoContext& ctx_;
};

}  // namespace dossier::repo
