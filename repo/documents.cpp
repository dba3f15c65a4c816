#include "repo/documents.h"

#include <ctime>

#include "repo/ingest_stage.h"
#include "repo/tags.h"

#include "crypto/blob_stream.h"
#include "crypto/envelope.h"
#include "repo/cases.h"
#include "repo/key_ring.h"
#include "repo/sealed_json.h"

namespace dossier::repo {

using nlohmann::json;

std::string DocumentAd(const std::string& id) { return "dossier.doc.v1|" + id; }

DocRow LoadDocRow(sql::Db& db, const std::string& id) {
  if (!col::IsId(id, col::IdKind::kDocument)) throw Error(ErrorCode::kNotFound, "no such document");
  sql::Stmt st(db,
               "SELECT case_id, shard_id, status, blob, text, duplicate_of, parent_id, "
               "created_at, size, sealed_meta, restrict_set FROM documents WHERE id=?");
  st.Bind(1, id);
  if (!st.Step()) throw Error(ErrorCode::kNotFound, "no such document");
  DocRow r;
  r.id = id;
  r.status = col::Status(st, 2, "a document's status");
  if (r.status == DocStatus::kPending) throw Error(ErrorCode::kNotFound, "no such document");
  using K = col::IdKind;
  r.case_id = col::Id(st, 0, K::kCase, "a document's case");
  r.shard_id = col::Id(st, 1, K::kShard, "a document's shard");
  r.blob = col::OptionalId(st, 3, K::kStoredFile, "a document's stored file").value_or("");
  r.text = col::OptionalId(st, 4, K::kStoredFile, "a document's stored text").value_or("");
  r.duplicate_of = col::OptionalId(st, 5, K::kDocument, "a document's original").value_or("");
  r.parent_id = col::OptionalId(st, 6, K::kDocument, "a document's parent").value_or("");
  r.created_at = col::Time(st, 7, "a document's creation time");
  r.size = static_cast<std::uint64_t>(col::Integer(st, 8, 0, INT64_MAX, "a document's size"));
  r.sealed_meta = col::Bounded(st, 9, 40, kMaxSealedJson, "a document's sealed record");
  if (auto set = col::OptionalSet(st, 10, "a document's restriction")) r.restrict_set = EncodeSet(*set);
  if (r.duplicate_of == r.id) throw Error(ErrorCode::kCorrupt, "a document's original is itself");
  return r;
}

namespace {
// What the sealed metadata says the row must hold. Fields are checked
// when present (records written before they were bound lack them).
void CheckBinding(const DocRow& row, const json& meta) {
  auto mismatch = [](const char* what) {
    throw Error(ErrorCode::kCorrupt, std::string("a document's ") + what +
                                         " in the database does not match its sealed record");
  };
  if (meta.contains("case") && JsonString(meta, "case") != row.case_id) mismatch("case");
  if (meta.contains("blob") && JsonString(meta, "blob") != row.blob) mismatch("stored file");
  if (meta.contains("text") && JsonString(meta, "text") != row.text) mismatch("stored text");
  if (meta.contains("status") && JsonString(meta, "status") != StatusName(row.status)) {
    mismatch("status");
  }
  if (meta.contains("restrict") && JsonString(meta, "restrict") != row.restrict_set) {
    mismatch("restriction");
  }
  if (meta.contains("size") && JsonUnsigned(meta, "size") != row.size) mismatch("size");
  if (meta.contains("original") && JsonBool(meta, "original") != row.duplicate_of.empty()) {
    mismatch("original");
  }
}
}  // namespace

OpenedDocument OpenDocument(sql::Db& db, const Actor& actor, const std::string& id) {
  OpenedDocument d;
  d.row = LoadDocRow(db, id);
  d.key = OpenDocumentKey(db, actor, id);  // kNotFound if not theirs
  d.meta = OpenJson(crypto::DeriveDataSubkey(d.key, crypto::DataKeyUse::kMeta), DocumentAd(id),
                    d.row.sealed_meta);
  CheckBinding(d.row, d.meta);
  return d;
}

DocumentInfo InfoOf(const OpenedDocument& od) {
  const json& meta = od.meta;
  DocumentInfo d;
  d.id = od.row.id;
  d.case_id = od.row.case_id;
  d.parent_id = od.row.parent_id;
  d.filename = JsonString(meta, "filename");
  d.path = JsonString(meta, "path");
  d.mime = JsonString(meta, "mime");
  d.size = od.row.size;
  d.sha256 = JsonString(meta, "sha256");
  d.md5 = JsonString(meta, "md5");
  d.error = JsonString(meta, "error");
  if (auto f = meta.find("fields"); f != meta.end() && f->is_object()) {
    for (auto& [k, v] : f->items()) {
      if (v.is_string()) d.fields[k] = v.get<std::string>();
    }
  }
  d.language = JsonString(meta, "language");
  d.custodian = JsonString(meta, "custodian");
  if (auto m = meta.find("mtime"); m != meta.end() && m->is_number_integer()) {
    d.mtime = m->get<std::int64_t>();
  }
  d.status = od.row.status;
  d.duplicate_of = od.row.duplicate_of;
  d.indexed_bytes = JsonUnsigned(meta, "indexed_bytes");
  d.created_at = od.row.created_at;
  if (const auto day = DocumentDay(d.fields, d.mtime)) d.date = DayText(*day);
  // Read back from the file: entries of the wrong shape are left out.
  if (auto list = meta.find("entities"); list != meta.end()) d.entities = EntitiesFromJson(*list);
  return d;
}

std::string DayText(std::int64_t day) {
  const std::time_t t = static_cast<std::time_t>(day) * 86400;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

namespace {
// The stored bytes and text behind a document: its own, or its original's
// when it is a duplicate (the original lives in the same access set, so the
// same roles open it, and holds the same content: its sealed SHA-256 must
// be the copy's). Throws Error(kNotFound) unless the actor opens it.
OpenedDocument OpenSource(sql::Db& db, const Actor& actor, const std::string& doc_id) {
  OpenedDocument d = OpenDocument(db, actor, doc_id);
  if (!d.row.duplicate_of.empty()) {
    const std::string sha = JsonString(d.meta, "sha256");
    OpenedDocument original = OpenDocument(db, actor, d.row.duplicate_of);
    if (JsonString(original.meta, "sha256") != sha || !original.row.duplicate_of.empty()) {
      throw Error(ErrorCode::kCorrupt, "a duplicate's original in the database is not its copy");
    }
    d = std::move(original);
  }
  if (d.row.blob.empty()) {
    throw Error(ErrorCode::kUnsupported, "this document has no stored bytes (an archive link)");
  }
  return d;
}
}  // namespace

DocumentInfo DocumentService::ContentInfo(const Actor& actor, const std::string& doc_id) {
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  DocumentInfo info = InfoOf(OpenDocument(*db, actor, doc_id));
  const OpenedDocument src = OpenSource(*db, actor, doc_id);  // throws before any byte goes out
  info.size = InfoOf(src).size;
  return info;
}

DocumentInfo DocumentService::Get(const Actor& actor, const std::string& doc_id) {
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  const OpenedDocument d = OpenDocument(*db, actor, doc_id);
  DocumentInfo info = InfoOf(d);
  info.tags = TagsOf(*db, doc_id, d.key);
  ctx_.events.Read(EventKind::kDocumentRead, actor.name(), doc_id);
  return info;
}

std::vector<DocumentInfo> DocumentService::Openable(sql::Db& db, const Actor& actor,
                                                    sql::Stmt& ids_query) {
  std::vector<std::string> ids;
  while (ids_query.Step()) ids.push_back(col::Id(ids_query, 0, col::IdKind::kDocument, "a document id"));
  std::vector<DocumentInfo> out;
  for (const auto& id : ids) {
    try {
      out.push_back(InfoOf(OpenDocument(db, actor, id)));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;  // not this actor's to open
    }
  }
  return out;
}

std::vector<DocumentInfo> DocumentService::Query(const Actor& actor, const std::string& case_id,
                                                 const char* sql) {
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  if (!case_id.empty()) RequireCaseVisible(*db, actor, case_id);
  sql::Stmt st(*db, sql);
  st.Bind(1, case_id);
  auto out = Openable(*db, actor, st);
  ctx_.events.Read(EventKind::kDocumentRead, actor.name(), case_id);
  return out;
}

std::vector<DocumentInfo> DocumentService::List(const Actor& actor, const std::string& case_id) {
  if (case_id.empty()) throw Error(ErrorCode::kNotFound, "no such case");
  return Query(actor, case_id,
               "SELECT id FROM documents WHERE case_id=?1 AND status != 'pending' "
               "ORDER BY created_at, rowid");
}

RepositoryStats DocumentService::Count() {
  auto db = ctx_.db->Read();
  RepositoryStats stats;
  sql::Stmt st(*db,
               "SELECT count(*), coalesce(sum(status = 'error'), 0) FROM documents "
               "WHERE status != 'pending'");
  if (st.Step()) {
    stats.documents = static_cast<std::uint64_t>(st.Int(0));
    stats.extraction_errors = static_cast<std::uint64_t>(st.Int(1));
  }
  return stats;
}

DocumentFamily DocumentService::Family(const Actor& actor, const std::string& doc_id) {
  auto db = ctx_.db->Read();
  sql::ReadTransaction snapshot(*db);
  const DocumentInfo self = InfoOf(OpenDocument(*db, actor, doc_id));
  DocumentFamily family;
  auto one = [&](const std::string& id) -> std::optional<DocumentInfo> {
    try {
      return InfoOf(OpenDocument(*db, actor, id));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
      return std::nullopt;
    }
  };
  if (!self.parent_id.empty()) family.parent = one(self.parent_id);
  {
    sql::Stmt st(*db,
                 "SELECT id FROM documents WHERE parent_id=? AND status != 'pending' "
                 "ORDER BY created_at, rowid");
    st.Bind(1, doc_id);
    family.children = Openable(*db, actor, st);
  }
  {
    // Its copies, and the document it copies with that one's other copies.
    const std::string original = self.duplicate_of.empty() ? doc_id : self.duplicate_of;
    sql::Stmt st(*db,
                 "SELECT id FROM documents WHERE (id=?1 OR duplicate_of=?1) AND id != ?2 AND "
                 "status != 'pending' ORDER BY created_at, rowid");
    st.Bind(1, original).Bind(2, doc_id);
    family.duplicates = Openable(*db, actor, st);
  }
  ctx_.events.Read(EventKind::kDocumentRead, actor.name(), doc_id);
  return family;
}

std::vector<DocumentInfo> DocumentService::Failures(const Actor& actor,
                                                    const std::string& case_id) {
  return Query(actor, case_id,
               "SELECT id FROM documents WHERE status IN ('error','unsupported') AND "
               "(?1 = '' OR case_id = ?1) ORDER BY created_at, rowid");
}

void DocumentService::ReadContent(const Actor& actor, const std::string& doc_id,
                                  const std::function<void(std::string_view)>& sink) {
  OpenedDocument src;
  {
    auto db = ctx_.db->Read();
    sql::ReadTransaction snapshot(*db);
    src = OpenSource(*db, actor, doc_id);
  }
  auto in = ctx_.blobs->Open(src.row.blob);
  crypto::BlobDecryptor dec(crypto::DeriveDataSubkey(src.key, crypto::DataKeyUse::kBlob),
                            [&](unsigned char* p, std::size_t n) { return in->Read(p, n); });
  std::string chunk;
  while (dec.Next(chunk)) {
    sink(chunk);
    crypto::Wipe(chunk);
  }
  ctx_.events.Read(EventKind::kContentRead, actor.name(), doc_id);
}

std::string DocumentService::ReadText(const Actor& actor, const std::string& doc_id) {
  OpenedDocument src;
  {
    auto db = ctx_.db->Read();
    sql::ReadTransaction snapshot(*db);
    src = OpenSource(*db, actor, doc_id);
  }
  if (src.row.text.empty()) throw Error(ErrorCode::kCorrupt, "stored text is missing");
  const crypto::SecretBytes text_key = crypto::DeriveDataSubkey(src.key, crypto::DataKeyUse::kText);
  std::string out;
  ctx_.texts->ReadAll(src.row.text, src.row.id, text_key,
                      [&](std::string_view chunk) { out.append(chunk); });
  ctx_.events.Read(EventKind::kTextRead, actor.name(), doc_id);
  return out;
}

}  // namespace dossier::repo
