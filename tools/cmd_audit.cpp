// dossier audit verify|head|prove|list: the audit trail (repo/audit.h).
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/clock.h"
#include "base/error.h"
#include "repo/views.h"
#include "tools/cli.h"

namespace dossier::tools {
namespace {

void Emit(const Options& o, const std::string& text) {
  if (o.out_file.empty()) {
    std::cout << text;
    return;
  }
  std::ofstream out(o.out_file, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw Error(ErrorCode::kInvalidArgument, "cannot write " + o.out_file);
  std::cerr << "wrote " << o.out_file << "\n";
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kNotFound, "cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int RunAuditVerify(const Options& o) {
  std::optional<repo::AuditHead> against;
  if (!o.against.empty()) against = repo::views::ParseAuditHead(ReadText(o.against));
  auto r = OpenRepo(o, true);
  const repo::AuditVerdict v = r->VerifyAudit(against);
  if (o.json) {
    std::cout << repo::views::AuditVerdictJson(v) << "\n";
    return v.ok ? 0 : 1;
  }
  if (!v.ok) {
    std::cerr << "audit trail damaged: " << v.problem << "\n";
    return 1;
  }
  std::cout << "ok: " << v.events << " events chained, " << v.head.size << " under the head signed at "
            << (v.head.size ? Rfc3339(v.head.at) : std::string("-"));
  if (v.unsigned_events) std::cout << " (" << v.unsigned_events << " since, not yet signed)";
  if (against) std::cout << "; consistent with the head of " << against->size << " events kept elsewhere";
  std::cout << "\n";
  return 0;
}

int RunAuditHead(const Options& o) {
  auto r = OpenRepo(o, true);
  Emit(o, repo::views::AuditHeadJson(r->SignedAuditHead()) + "\n");
  return 0;
}

int RunAuditProve(const Options& o) {
  if ((o.seq == 0) == (o.since_size == 0)) throw Error(ErrorCode::kInvalidArgument, "give a SEQ or --since N");
  auto r = OpenRepo(o, true);
  if (o.since_size) {
    Emit(o, repo::views::AuditConsistencyJson(r->ProveAuditConsistency(o.since_size)) + "\n");
    return 0;
  }
  repo::Session s = Act(*r, o);
  Emit(o, repo::views::AuditProofJson(r->ProveAuditEvent(s, o.seq)) + "\n");
  return 0;
}

int RunAuditList(const Options& o) {
  repo::AuditFilter f;
  f.actor = o.name;
  f.action = o.action_filter;
  f.target = o.target_filter;
  f.case_id = o.case_filter;
  f.detail = o.query;
  f.after = o.after_seq;
  f.limit = o.limit;
  if (!o.since_time.empty() && !ParseRfc3339(o.since_time, &f.since)) {
    throw Error(ErrorCode::kInvalidArgument, "--since wants a time like 2026-12-01T00:00:00Z");
  }
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  const auto events = r->AuditEvents(s, f);
  if (o.csv) std::cout << repo::views::AuditEventsCsv(events);
  else if (o.jsonl) std::cout << repo::views::AuditEventsJsonLines(events);
  else if (o.json) std::cout << repo::views::AuditEventsJson(events) << "\n";
  else {
    for (const auto& e : events) {
      std::cout << e.seq << "  " << Rfc3339(e.at) << "  " << (e.actor.empty() ? "-" : e.actor) << "  " << e.action
                << (e.target.empty() ? "" : "  " + e.target);
      if (e.detail) std::cout << "  \"" << *e.detail << "\"";
      else if (!e.sealed.empty()) std::cout << "  (detail sealed for the auditor role)";
      std::cout << "\n";
    }
  }
  return 0;
}

int RunAuditCustody(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  const repo::CustodyReport report = r->DocumentCustody(s, o.doc_id);
  if (o.pdf) {
    if (o.out_file.empty()) throw Error(ErrorCode::kInvalidArgument, "--pdf needs -o FILE");
    Emit(o, repo::views::CustodyPdf(report, SystemClock()->Now()));
    return 0;
  }
  Emit(o, o.csv ? repo::views::CustodyCsv(report) : repo::views::CustodyJson(report) + "\n");
  return 0;
}

}  // namespace dossier::tools
