// Private to repo/: reading documents back — their rows (checked for form),
// their sealed metadata (checked against the row it came from), their
// original bytes and their text.
// Thread-safety: any thread.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "repo/columns.h"
#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

std::string DocumentAd(const std::string& id);

// A document's row, every column checked.
struct DocRow {
  std::string id, case_id, shard_id, created_at;
  std::string blob, text, duplicate_of, parent_id, restrict_set;  // "" when NULL
  DocStatus status = DocStatus::kIndexed;
  std::uint64_t size = 0;
  crypto::Bytes sealed_meta;
};
// Throws Error(kNotFound) for no such (or a pending) document,
// Error(kCorrupt) for a malformed row.
DocRow LoadDocRow(sql::Db& db, const std::string& id);

// A document opened for an actor: its row, data key and metadata, the
// metadata checked against the row (what the row points to, its case,
// blob, text, size and status, must be what was sealed with it).
struct OpenedDocument {
  DocRow row;
  crypto::SecretBytes key;
  nlohmann::json meta;
};
// Throws Error(kNotFound) unless the actor opens it, Error(kCorrupt) if
// the row and its sealed metadata disagree.
OpenedDocument OpenDocument(sql::Db& db, const Actor& actor, const std::string& id);
DocumentInfo InfoOf(const OpenedDocument& d);  // all but tags
// A day number as YYYY-MM-DD.
std::string DayText(std::int64_t day);

class DocumentService {
 public:
  explicit DocumentService(RepoContext& ctx) : ctx_(ctx) {}
  DocumentInfo Get(const Actor& actor, const std::string& doc_id);
  // The document as ReadContent would stream it: checked (its stored
  // bytes exist, a duplicate's original matches) without reading them.
  DocumentInfo ContentInfo(const Actor& actor, const std::string& doc_id);
  std::vector<DocumentInfo> List(const Actor& actor, const std::string& case_id);
  // What the actor may open of the document's family (Error(kNotFound)
  // unless they may open the document itself).
  DocumentFamily Family(const Actor& actor, const std::string& doc_id);
  // Every case's documents and errors, counted (no keys needed).
  RepositoryStats Count();
  std::vector<DocumentInfo> Failures(const Actor& actor, const std::string& case_id);
  void ReadContent(const Actor& actor, const std::string& doc_id,
                   const std::function<void(std::string_view)>& sink);
  std::string ReadText(const Actor& actor, const std::string& doc_id);

 private:
  // The documents `sql` (binding the case id, "" for every case) yields
  // that the actor opens, in one snapshot.
  std::vector<DocumentInfo> Query(const Actor& actor, const std::string& case_id, const char* sql);
  // The documents `ids_query` yields that the actor opens.
  std::vector<DocumentInfo> Openable(sql::Db& db, const Actor& actor, sql::Stmt& ids_query);
  RepoContext& ctx_;
};

}  // namespace dossier::repo
