// get, reindex. Search: cmd_search.cpp.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "repo/views.h"
#include "tools/cli.h"

namespace dossier::tools {

int RunGet(const Options& o) {
  auto r = OpenRepo(o, true);
  repo::Session s = Act(*r, o);
  if (!o.out_file.empty()) {
    // Written beside the target and renamed only once every chunk has
    // authenticated: a tampered or truncated blob leaves no output file.
    const std::string tmp = o.out_file + ".partial";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw Error(ErrorCode::kIo, "cannot write the output file");
      try {
        r->ReadContent(s, o.doc_id, [&](std::string_view b) {
          out.write(b.data(), static_cast<std::streamsize>(b.size()));
        });
      } catch (...) {
        out.close();
        std::remove(tmp.c_str());
        throw;
      }
      if (!out.flush()) throw Error(ErrorCode::kIo, "cannot write the output file");
    }
    if (std::rename(tmp.c_str(), o.out_file.c_str()) != 0) {
      throw Error(ErrorCode::kIo, "cannot write the output file");
    }
    return 0;
  }
  if (!o.match_query.empty() && !o.text) {
    throw Error(ErrorCode::kInvalidArgument, "--matches goes with --text");
  }
  if (o.text && !o.match_query.empty()) {
    std::string text;
    const repo::TextMatches m = r->MatchText(s, o.doc_id, o.match_query, &text);
    if (o.json) {
      std::cout << repo::views::TextMatchesJson(m) << "\n";
      return 0;
    }
    // The ranges are in characters: walk the text by characters.
    std::string out;
    std::size_t next = 0;  // the next range to open
    std::uint64_t chars = 0, close_at = 0;
    bool open = false;
    for (std::size_t i = 0; i <= text.size(); ++i) {
      const bool lead = i == text.size() || (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
      if (lead) {
        if (open && chars == close_at) {
          out += "<<";
          open = false;
        }
        if (!open && next < m.ranges.size() && chars == m.ranges[next].first) {
          out += ">>";
          open = true;
          close_at = m.ranges[next++].second;
        }
        ++chars;
      }
      if (i < text.size()) out.push_back(text[i]);
    }
    std::cout << out;
    if (!m.query_notes.empty()) std::cerr << "note: " << m.query_notes.front() << "\n";
    std::cerr << m.ranges.size() << (m.truncated ? "+" : "") << " match(es)\n";
    return 0;
  }
  if (o.text) {
    std::cout << r->ReadText(s, o.doc_id);
    return 0;
  }
  repo::DocumentInfo d = r->GetDocument(s, o.doc_id);
  if (o.json) {
    std::cout << repo::views::Document(d) << "\n";
    return 0;
  }
  std::cout << "Document " << d.id << "\n  case:      " << d.case_id << "\n  filename:  " << d.filename
            << "\n  path:      " << d.path << "\n  size:      " << d.size
            << " bytes\n  sha256:    " << d.sha256 << "\n  language:  " << d.language
            << "\n  custodian: " << (d.custodian.empty() ? "-" : d.custodian)
            << "\n  status:    " << repo::StatusName(d.status);
  if (d.status == repo::DocStatus::kPartial) {
    std::cout << " (only the first " << d.indexed_bytes << " bytes of text are indexed)";
  }
  if (!d.duplicate_of.empty()) std::cout << " of " << d.duplicate_of;
  std::cout << "\n";
  if (!d.entities.empty()) {
    std::cout << "  entities:\n";
    for (const auto& e : d.entities) {
      std::cout << "    " << e.type << "  " << e.value;
      if (e.count > 1) std::cout << "  (x" << e.count << ")";
      if (!e.fields.empty()) {
        std::cout << "  in";
        for (const auto& f : e.fields) std::cout << " " << f;
      }
      std::cout << "\n";
    }
  }
  return 0;
}

int RunReindex(const Options& o) {
  auto r = OpenRepo(o, false);
  repo::Session s = Act(*r, o);
  repo::ReindexSummary sum = r->Reindex(s);
  std::cout << "Rebuilt " << sum.shards_rebuilt << " shard(s) with " << sum.documents
            << " document(s)";
  if (sum.shards_skipped) {
    std::cout << "; skipped " << sum.shards_skipped << " shard(s) holding documents you cannot open";
  }
  if (sum.entities_found) {
    std::cout << "; found the entities of " << sum.entities_found << " document(s) ingested before entities were";
  }
  std::cout << ".\n";
  return 0;
}

}  // namespace dossier::tools
