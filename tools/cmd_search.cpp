// search, search-terms, exceptions, tag, tag-policy, saved-search.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "repo/views.h"
#include "tools/cli.h"

namespace dossier::tools {

namespace {
// Snippets are HTML; a terminal shows <mark> as bold, anything else as *…*.
std::string RenderSnippet(const std::string& html, bool tty) {
  std::string out;
  for (std::size_t i = 0; i < html.size();) {
    auto starts = [&](const char* s) { return html.compare(i, std::strlen(s), s) == 0; };
    if (starts("<mark>")) { out += tty ? "\033[1m" : "*"; i += 6; }
    else if (starts("</mark>")) { out += tty ? "\033[0m" : "*"; i += 7; }
    else if (starts("&amp;")) { out += '&'; i += 5; }
    else if (starts("&lt;")) { out += '<'; i += 4; }
    else if (starts("&gt;")) { out += '>'; i += 4; }
    else if (starts("&quot;")) { out += '"'; i += 6; }
    else if (starts("&#39;")) { out += '\''; i += 5; }
    else out += html[i++];
  }
  return out;
}

// Text that came out of documents (names, tags) shown on a terminal:
// control characters become '?' so a filename cannot drive the terminal.
std::string Plain(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

void PrintResults(const repo::SearchResults& res, std::uint32_t offset, const std::string& who) {
  const bool tty = ::isatty(STDOUT_FILENO);
  std::cout << res.total << (res.total == 1 ? " hit" : " hits") << " for " << who;
  if (res.exceptions > 0) {
    std::cout << " (" << res.exceptions << " document" << (res.exceptions == 1 ? "" : "s")
              << " in scope not fully searchable: dossier exceptions)";
  }
  std::cout << "\n";
  std::size_t i = offset;
  for (const auto& h : res.hits) {
    std::printf("%3zu. %s  (doc %s, case %s, %s, score %.3f)\n", ++i, Plain(h.filename).c_str(),
                h.document_id.c_str(), h.case_id.c_str(), h.date.empty() ? "no date" : h.date.c_str(),
                h.score);
    if (!h.tags.empty()) {
      std::string tags;
      for (const auto& t : h.tags) tags += (tags.empty() ? "" : ", ") + t;
      std::cout << "     tags: " << Plain(tags) << "\n";
    }
    if (!h.snippet.empty()) std::cout << "     " << Plain(RenderSnippet(h.snippet, tty)) << "\n";
    for (const auto& m : h.family) {
      std::cout << "       + " << Plain(m.filename) << "  (doc " << m.document_id << ")\n";
    }
  }
  for (const auto& [name, values] : res.facets) {
    if (values.empty()) continue;
    std::cout << name << ":";
    for (const auto& v : values) std::cout << "  " << Plain(v.value) << " (" << v.count << ")";
    std::cout << "\n";
  }
  for (const auto& n : res.query_notes) std::cerr << "dossier: note: " << n << "\n";
  if (!res.note.empty()) std::cerr << "dossier: note: " << res.note << "\n";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kInvalidArgument, "cannot read the terms file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}
}  // namespace

int RunEntities(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  const auto colon = o.query.find(':');
  if (colon == std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument, "write the entity as TYPE:VALUE (iban:DE89…, phone:+351…)");
  }
  const repo::EntityOccurrences e =
      r->FindEntity(s, o.query.substr(0, colon), o.query.substr(colon + 1), o.limit);
  if (o.json) {
    std::cout << repo::views::EntityJson(e) << "\n";
    return 0;
  }
  std::cout << e.type << " " << e.value << ": " << e.total << (e.total == 1 ? " document" : " documents");
  std::cout << " in " << e.cases.size() << (e.cases.size() == 1 ? " case" : " cases") << " you can open\n";
  for (const auto& c : e.cases) std::cout << "  case " << c.value << "  " << c.count << "\n";
  for (const auto& h : e.documents) {
    std::cout << "  " << h.document_id << "  " << h.filename << "  (case " << h.case_id << ")\n";
  }
  return 0;
}

namespace {
std::pair<std::string, std::string> TypeAndValue(const std::string& s) {
  const auto colon = s.find(':');
  if (colon == std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument, "write the entity as TYPE:VALUE (iban:DE89…, phone:+351…)");
  }
  return {s.substr(0, colon), s.substr(colon + 1)};
}

void PrintLinks(const repo::CaseLinks& l) {
  std::cout << l.links.size() << (l.links.size() == 1 ? " linked case" : " linked cases") << "\n";
  for (const auto& k : l.links) {
    std::cout << "  " << k.case_id << "  " << k.title << "  score " << std::fixed << std::setprecision(2)
              << k.score << "  " << k.state << (k.reopened ? " (reopened: new evidence)" : "") << "\n";
    if (!k.decided_by.empty()) {
      std::cout << "    decided by " << k.decided_by << " at " << k.decided_at << ": " << k.why << "\n";
    }
    for (const auto& e : k.shared) {
      std::cout << "    " << e.type << " " << e.value << "  weight " << e.weight << ", in " << e.cases
                << " cases\n";
      for (const auto& ev : e.here) std::cout << "      here:  " << ev.doc_id << "  " << ev.filename << "\n";
      for (const auto& ev : e.there) std::cout << "      there: " << ev.doc_id << "  " << ev.filename << "\n";
    }
  }
  std::cout.unsetf(std::ios::floatfield);
  for (const auto& n : l.notices) {
    std::string types, contact;
    for (const auto& t : n.types) types += (types.empty() ? "" : ", ") + t;
    for (const auto& c : n.contact) contact += (contact.empty() ? "" : ", ") + c;
    if (n.incoming) {
      std::cout << "notice: " << n.user << " was told at " << n.at << " that a case of " << contact
                << " shares " << n.shared << (n.shared == 1 ? " entity" : " entities") << " of types "
                << types << " with this one\n";
    } else {
      std::cout << "notice: a restricted case shares " << n.shared << (n.shared == 1 ? " entity" : " entities")
                << " of types " << types << "; contact " << contact << "\n";
    }
  }
  if (l.notices_withheld) {
    std::cout << l.notices_withheld << " more notices withheld (over " << l.settings.notices_per_hour
              << " an hour)\n";
  }
  for (const auto& s : l.stop_entities) {
    std::cout << "stop-entity: " << s.type << " " << s.value << "  "
              << (s.manual ? "set by " + s.set_by + " at " + s.set_at : "in " + std::to_string(s.cases) + " cases")
              << "\n";
  }
}
}  // namespace

int RunLinks(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  if (o.link_settings) {
    repo::LinkSettings set = r->GetLinkSettings(s);
    const bool change = o.stop_threshold >= 0 || o.notices_per_hour >= 0 || !o.deconfliction.empty() ||
                        !o.phone_region.empty();
    if (!o.phone_region.empty()) set.phone_region = o.phone_region;
    if (o.stop_threshold >= 0) set.stop_threshold = static_cast<std::uint32_t>(o.stop_threshold);
    if (o.notices_per_hour >= 0) set.notices_per_hour = static_cast<std::uint32_t>(o.notices_per_hour);
    if (!o.deconfliction.empty()) set.deconfliction = o.deconfliction;
    if (change) r->SetLinkSettings(s, set);
    std::cout << repo::views::LinkSettingsJson(r->GetLinkSettings(s)) << "\n";
    return 0;
  }
  if (!o.stop_entity.empty() || !o.unstop_entity.empty()) {
    const bool stop = !o.stop_entity.empty();
    const auto [type, value] = TypeAndValue(stop ? o.stop_entity : o.unstop_entity);
    r->SetStopEntity(s, type, value, stop);
    std::cout << (stop ? "stopped " : "no longer stopped: ") << type << " " << value << "\n";
    return 0;
  }
  if (o.case_id.empty()) throw Error(ErrorCode::kInvalidArgument, "name the CASE");
  if (o.graph) {
    const repo::LinkGraph g = r->Graph(s, o.case_id, o.depth);
    if (o.json) {
      std::cout << repo::views::GraphJson(g) << "\n";
      return 0;
    }
    for (const auto& n : g.nodes) std::cout << n.id << "  " << (n.kind == "entity" ? n.type + " " : "") << n.label << "\n";
    for (const auto& e : g.edges) std::cout << e.from << " -- " << e.to << "  (" << e.kind << ")\n";
    return 0;
  }
  const std::pair<const std::string*, const char*> decisions[] = {
      {&o.confirm, "confirm"}, {&o.reject, "reject"}, {&o.add_link, "add"}, {&o.clear_link, "clear"}};
  for (const auto& [other, decision] : decisions) {
    if (!other->empty()) r->DecideLink(s, o.case_id, *other, decision, o.why);
  }
  const repo::CaseLinks l = r->Links(s, o.case_id, o.limit);
  if (o.json) {
    std::cout << repo::views::LinksJson(l) << "\n";
    return 0;
  }
  PrintLinks(l);
  return 0;
}

int RunSearch(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  repo::SearchRequest req;
  req.query = o.query;
  req.case_id = o.case_id;
  req.offset = o.offset;
  req.limit = o.limit;
  req.sort_by_date = o.sort == "date";
  req.family = o.family;
  req.facets = o.facets || o.json;
  if (o.csv) {
    std::cout << repo::views::ExportCsv(r->ExportHits(s, req));
    return 0;
  }
  const repo::SearchResults res = r->Search(s, req);
  if (o.json) {
    std::cout << repo::views::Search(res) << "\n";
    return 0;
  }
  PrintResults(res, o.offset, s.user());
  return 0;
}

int RunSearchTerms(const Options& o) {
  // One term (a full query) per line; blank lines and lines starting with
  // '#' are skipped.
  std::vector<std::string> terms;
  std::string text = ReadFile(o.terms_file);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos && line[line.find_first_not_of(" \t")] != '#') {
      terms.push_back(line);
    }
    start = nl + 1;
  }
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  const repo::TermReport report = r->SearchTerms(s, terms, o.case_id);
  if (o.csv) {
    std::cout << repo::views::TermReportCsv(report);
  } else if (o.json) {
    std::cout << repo::views::TermReportJson(report) << "\n";
  } else {
    std::printf("%-40s %10s %10s %10s %12s\n", "term", "hits", "unique", "families", "with family");
    for (const auto& row : report.rows) {
      std::printf("%-40s %10llu %10llu %10llu %12llu\n", Plain(row.term).c_str(),
                  static_cast<unsigned long long>(row.hits),
                  static_cast<unsigned long long>(row.unique_hits),
                  static_cast<unsigned long long>(row.families),
                  static_cast<unsigned long long>(row.family_documents));
      for (const auto& n : row.notes) std::cerr << "dossier: note: " << n << "\n";
    }
    std::printf("%-40s %10llu %10s %10s %12llu\n", "(any term)",
                static_cast<unsigned long long>(report.total_documents), "", "",
                static_cast<unsigned long long>(report.total_family_documents));
    std::printf("%llu document(s) in scope are not fully searchable (dossier exceptions)\n",
                static_cast<unsigned long long>(report.exceptions));
  }
  return 0;
}

int RunExceptions(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  const repo::ExceptionList e = r->SearchExceptions(s, o.case_id, o.offset, o.limit);
  if (o.json) {
    std::cout << repo::views::Exceptions(e) << "\n";
    return 0;
  }
  std::cout << e.total << " document" << (e.total == 1 ? "" : "s") << " not fully searchable\n";
  for (const auto& d : e.documents) {
    std::cout << "  " << d.document_id << "  " << d.status << "  " << Plain(d.filename) << "  ("
              << Plain(d.reason) << ")\n";
  }
  return 0;
}

int RunTag(const Options& o) {
  const auto add = SplitList(o.add_tags), remove = SplitList(o.remove_tags);
  if (add.empty() && remove.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "give --add and/or --remove");
  }
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  if (!o.doc_id.empty()) {
    const auto tags = r->TagDocument(s, o.doc_id, add, remove);
    if (o.json) {
      std::cout << repo::views::Tags(tags) << "\n";
    } else {
      std::string list;
      for (const auto& t : tags) list += (list.empty() ? "" : ", ") + t;
      std::cout << o.doc_id << ": " << (list.empty() ? "(no tags)" : Plain(list)) << "\n";
    }
    return 0;
  }
  const std::uint64_t n = r->TagMatching(s, o.query, o.case_id, add, remove);
  std::cout << n << " document" << (n == 1 ? "" : "s") << " changed\n";
  return 0;
}

int RunTagPolicy(const Options& o) {
  auto r = OpenRepo(o, !o.set_policy);
  if (o.set_policy) {
    repo::Session s = Act(*r, o);
    r->SetPrivilegedTagRoles(s, o.privileged_roles);
  }
  const auto roles = r->PrivilegedTagRoles();
  std::string list;
  for (const auto& x : roles) list += (list.empty() ? "" : ", ") + x;
  std::cout << "privileged may be set by: " << (list.empty() ? "anyone who opens the document" : list)
            << "\n";
  return 0;
}

int RunSavedAdd(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  const auto saved = r->SaveSearch(s, o.name, o.query, o.case_id);
  if (o.json) std::cout << repo::views::SavedSearchBody(saved) << "\n";
  else std::cout << "saved search " << saved.id << "\n";
  return 0;
}

int RunSavedList(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  const auto list = r->ListSavedSearches(s);
  if (o.json) {
    std::cout << repo::views::SavedSearches(list) << "\n";
    return 0;
  }
  for (const auto& x : list) {
    std::cout << x.id << "  " << Plain(x.name) << "  [" << Plain(x.query) << "]"
              << (x.last_run_at.empty() ? "  never run" : "  last run " + x.last_run_at + ": " +
                                                              std::to_string(x.last_total) + " hits")
              << "\n";
  }
  return 0;
}

int RunSavedRun(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  const auto run = r->RunSavedSearch(s, o.search_id, o.offset, o.limit);
  if (o.json) {
    std::cout << repo::views::SavedSearchRunBody(run) << "\n";
    return 0;
  }
  PrintResults(run.results, o.offset, s.user());
  std::cout << run.new_since_last_run << " new since the last run"
            << (run.search.last_run_at.empty() ? " (first run)" : " (" + run.search.last_run_at + ")")
            << "\n";
  return 0;
}

int RunSavedDelete(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  r->DeleteSavedSearch(s, o.search_id);
  return 0;
}

}  // namespace dossier::tools
