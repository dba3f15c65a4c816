// case create|list|show|grant|revoke.
#include <cstdio>
#include <iostream>

#include "repo/views.h"
#include "tools/cli.h"

namespace dossier::tools {

namespace {
void PrintCase(const repo::CaseInfo& c) {
  std::cout << "Case " << c.id << "\n"
            << "  title:     " << c.title << "\n";
  if (!c.description.empty()) std::cout << "  about:     " << c.description << "\n";
  const std::string_view risk = repo::RiskName(c.risk);
  std::cout << "  stage:     " << repo::StageName(c.stage) << "\n"
            << "  risk:      " << (risk.empty() ? "-" : risk) << "\n"
            << "  status:    " << repo::CaseStatusName(c.status) << "\n"
            << "  owner:     " << c.owner << "\n";
  if (!c.assignees.empty()) {
    std::cout << "  assigned:  ";
    for (std::size_t i = 0; i < c.assignees.size(); ++i) std::cout << (i ? ", " : "") << c.assignees[i];
    std::cout << "\n";
  }
  std::cout << "  in stage:  since " << c.stage_since;
  if (!c.stage_due.empty()) std::cout << ", target " << c.stage_due << " (" << repo::DeadlineStateName(c.stage_state) << ")";
  std::cout << "\n"
            << "  roles:     ";
  for (std::size_t i = 0; i < c.roles.size(); ++i) std::cout << (i ? ", " : "") << c.roles[i];
  std::cout << "\n  documents: " << c.document_count << "\n"
            << "  created:   " << c.created_at << "\n";
}
}  // namespace

int RunCaseCreate(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  const auto risk = repo::ParseRisk(o.risk);
  if (!risk) throw Error(ErrorCode::kInvalidArgument, "risk is one of low, moderate, high");
  repo::CaseInfo c = r->CreateCase(s, {o.title, o.description, *risk, SplitList(o.roles), o.phone_region});
  if (o.json) std::cout << repo::views::Case(c) << "\n";
  else std::cout << "Created case " << c.id << ".\n";
  return 0;
}

int RunCaseList(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  repo::CaseFilter f;
  if (!o.stage.empty()) {
    f.stage = repo::ParseStage(o.stage);
    if (!f.stage) throw Error(ErrorCode::kInvalidArgument, "no such stage: " + o.stage);
  }
  if (!o.risk.empty()) f.risk = repo::ParseRisk(o.risk);
  if (!o.status.empty()) f.status = repo::ParseCaseStatus(o.status);
  f.q = o.case_query;
  auto cases = r->ListCases(s, f);
  if (o.json) {
    std::cout << repo::views::Cases(cases) << "\n";
    return 0;
  }
  if (cases.empty()) std::cout << "No cases visible to " << s.user() << ".\n";
  for (const auto& c : cases) {
    const std::string risk(repo::RiskName(c.risk));
    std::printf("%-13s %-16s %-6s %-9s %5lld docs  %s\n", c.id.c_str(),
                std::string(repo::StageName(c.stage)).c_str(), std::string(repo::CaseStatusName(c.status)).c_str(),
                risk.empty() ? "-" : risk.c_str(),
                static_cast<long long>(c.document_count), c.title.c_str());
  }
  return 0;
}

int RunCaseShow(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  repo::CaseInfo c = r->GetCase(s, o.case_id);
  if (o.json) std::cout << repo::views::Case(c) << "\n";
  else PrintCase(c);
  return 0;
}

int RunCaseGrant(const Options& o, bool grant) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  if (grant) r->GrantRole(s, o.case_id, o.role);
  else r->RevokeRole(s, o.case_id, o.role);
  std::cout << (grant ? "Granted " : "Revoked ") << o.role << (grant ? " on " : " from ")
            << o.case_id << ".\n";
  return 0;
}

}  // namespace dossier::tools
