// Search and reading documents back. Search opens exactly the shards whose
// access set meets the actor's roles; snippets are made here from the
// decrypted text chunk holding the first match, which the actor may open by
// construction (holding a role of the shard means holding a sealed key).
#include <algorithm>
#include <map>

#include "crypto/blob_stream.h"
#include "repo/repository_impl.h"

namespace dossier::repo {

using nlohmann::json;

namespace {
std::string DocAd(const std::string& id) { return "dossier.doc.v1|" + id; }

struct DocRow {
  std::string case_id, shard_id, status, blob, text, duplicate_of, parent_id, created_at;
  std::uint64_t size = 0;
  crypto::Bytes sealed_meta;
};

DocRow LoadRow(sql::Db& db, const std::string& id) {
  sql::Stmt st(db,
               "SELECT case_id, shard_id, status, blob, text, duplicate_of, parent_id, "
               "created_at, size, sealed_meta FROM documents WHERE id=?");
  st.Bind(1, id);
  if (!st.Step()) throw Error(ErrorCode::kNotFound, "no such document");
  DocRow r{st.Text(0), st.Text(1), st.Text(2), st.Text(3), st.Text(4),
           st.Text(5), st.Text(6), st.Text(7), static_cast<std::uint64_t>(st.Int(8)),
           st.Blob(9)};
  if (r.status == "pending") throw Error(ErrorCode::kNotFound, "no such document");
  return r;
}
}  // namespace

SearchResults Repository::Search(const Session& actor, const SearchRequest& req) {
  Impl& s = *impl_;
  if (actor.impl().repo_id != s.repo_id) {
    throw Error(ErrorCode::kUnauthenticated, "that session belongs to another repository");
  }
  if (req.limit > 1000) throw Error(ErrorCode::kInvalidArgument, "limit is at most 1000");
  if (!req.case_id.empty()) s.RequireCaseVisible(actor, req.case_id);

  indexer::SearchQuery q;
  q.text = req.query;
  q.shard_ids = s.VisibleShards(actor);
  {
    std::set<std::string> langs;
    for (const auto& shard : q.shard_ids) {
      sql::Stmt st(*s.db, "SELECT language FROM shard_languages WHERE shard_id=?");
      st.Bind(1, shard);
      while (st.Step()) langs.insert(st.Text(0));
    }
    q.languages.assign(langs.begin(), langs.end());
  }
  q.case_id = req.case_id;
  q.offset = req.offset;
  q.limit = req.limit;
  q.sort = req.sort_by_date ? indexer::SortOrder::kDateDescending
                            : indexer::SortOrder::kRelevance;
  indexer::SearchOutcome found = s.searcher->Search(q);

  SearchResults out;
  out.total = found.total;
  for (const auto& hit : found.hits) {
    SearchHit h;
    h.document_id = hit.doc_id;
    h.score = hit.weight;
    DocRow row;
    try {
      row = LoadRow(*s.db, hit.doc_id);
    } catch (const Error& e) {
      // A read-only search can race a writer that just replaced this
      // document; the hit is dropped rather than failing the search.
      if (e.code() != ErrorCode::kNotFound) throw;
      continue;
    }
    h.case_id = row.case_id;
    crypto::SecretBytes key = s.OpenDocumentKey(actor, hit.doc_id);
    json meta = OpenJson(crypto::DeriveDataSubkey(key, crypto::DataKeyUse::kMeta),
                         DocAd(hit.doc_id), row.sealed_meta);
    h.filename = meta.value("filename", "");
    if (!row.text.empty()) {
      // The chunk holding the first match (or the first chunk).
      // Headers only, then the one chunk: a hit never reads a whole text.
      std::vector<TextChunkRecord> records = ReadTextRecords(*s.text, row.text, false);
      std::size_t pick = 0;
      if (hit.first_match_pos) {
        for (std::size_t i = 0; i < records.size(); ++i) {
          if (*hit.first_match_pos >= records[i].first_pos &&
              *hit.first_match_pos < records[i].end_pos) {
            pick = i;
            break;
          }
        }
      }
      if (!records.empty()) {
        const crypto::SecretBytes text_key =
            crypto::DeriveDataSubkey(key, crypto::DataKeyUse::kText);
        std::string chunk = crypto::OpenMessage(
            text_key,
            crypto::TextChunkAd(hit.doc_id, static_cast<std::uint32_t>(pick),
                                pick + 1 == records.size()),
            ReadTextChunk(*s.text, row.text, records[pick]));
        h.snippet = found.matcher->Snippet(chunk, meta.value("language", "en"));
        crypto::Wipe(chunk);
      }
    }
    out.hits.push_back(std::move(h));
  }
  return out;
}

DocumentInfo Repository::GetDocument(const Session& actor, const std::string& doc_id) {
  Impl& s = *impl_;
  if (actor.impl().repo_id != s.repo_id) {
    throw Error(ErrorCode::kUnauthenticated, "that session belongs to another repository");
  }
  DocRow row = LoadRow(*s.db, doc_id);
  crypto::SecretBytes key = s.OpenDocumentKey(actor, doc_id);  // kNotFound if not theirs
  json meta = OpenJson(crypto::DeriveDataSubkey(key, crypto::DataKeyUse::kMeta),
                       DocAd(doc_id), row.sealed_meta);
  DocumentInfo d;
  d.id = doc_id;
  d.case_id = row.case_id;
  d.parent_id = row.parent_id;
  d.filename = meta.value("filename", "");
  d.path = meta.value("path", "");
  d.mime = meta.value("mime", "");
  d.size = row.size;
  d.sha256 = meta.value("sha256", "");
  d.md5 = meta.value("md5", "");
  d.error = meta.value("error", "");
  if (meta.contains("fields") && meta["fields"].is_object()) {
    for (auto& [k, v] : meta["fields"].items()) {
      if (v.is_string()) d.fields[k] = v.get<std::string>();
    }
  }
  d.language = meta.value("language", "");
  d.custodian = meta.value("custodian", "");
  if (meta.contains("mtime") && meta["mtime"].is_number_integer()) d.mtime = meta["mtime"].get<std::int64_t>();
  d.status = row.status;
  d.duplicate_of = row.duplicate_of;
  d.indexed_bytes = meta.value("indexed_bytes", std::uint64_t{0});
  d.created_at = row.created_at;
  return d;
}

std::vector<DocumentInfo> Repository::ListFailures(const Session& actor,
                                                   const std::string& case_id) {
  Impl& s = *impl_;
  if (!case_id.empty()) s.RequireCaseVisible(actor, case_id);
  sql::Stmt st(*s.db,
               "SELECT id FROM documents WHERE status IN ('error','unsupported') AND "
               "(?1 = '' OR case_id = ?1) ORDER BY created_at, rowid");
  st.Bind(1, case_id);
  return OpenableDocuments(actor, st);
}

std::vector<DocumentInfo> Repository::ListDocuments(const Session& actor,
                                                    const std::string& case_id) {
  Impl& s = *impl_;
  s.RequireCaseVisible(actor, case_id);
  sql::Stmt st(*s.db,
               "SELECT id FROM documents WHERE case_id=? AND status != 'pending' "
               "ORDER BY created_at, rowid");
  st.Bind(1, case_id);
  return OpenableDocuments(actor, st);
}

std::vector<DocumentInfo> Repository::OpenableDocuments(const Session& actor, sql::Stmt& ids_query) {
  std::vector<std::string> ids;
  while (ids_query.Step()) ids.push_back(ids_query.Text(0));
  std::vector<DocumentInfo> out;
  for (const auto& id : ids) {
    try {
      out.push_back(GetDocument(actor, id));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;  // not this actor's to open
    }
  }
  return out;
}

namespace {
// The stored bytes and text behind a document: its own, or its original's
// when it is a duplicate (the original lives in the same access set, so the
// same roles open it). Throws Error(kNotFound) unless the actor opens it.
struct Source {
  std::string id;
  DocRow row;
  crypto::SecretBytes key;
};

Source OpenSource(Repository::Impl& s, const Session& actor, const std::string& doc_id) {
  if (actor.impl().repo_id != s.repo_id) {
    throw Error(ErrorCode::kUnauthenticated, "that session belongs to another repository");
  }
  Source src{doc_id, LoadRow(*s.db, doc_id), s.OpenDocumentKey(actor, doc_id)};
  if (!src.row.duplicate_of.empty()) {
    src.id = src.row.duplicate_of;
    src.row = LoadRow(*s.db, src.id);
    src.key = s.OpenDocumentKey(actor, src.id);
  }
  if (src.row.blob.empty()) {
    throw Error(ErrorCode::kUnsupported, "this document has no stored bytes (an archive link)");
  }
  return src;
}
}  // namespace

void Repository::ReadContent(const Session& actor, const std::string& doc_id,
                             const std::function<void(std::string_view)>& sink) {
  Source src = OpenSource(*impl_, actor, doc_id);
  Fd fd = impl_->blobs->Open(src.row.blob);
  crypto::BlobDecryptor dec(
      crypto::DeriveDataSubkey(src.key, crypto::DataKeyUse::kBlob),
      [&](unsigned char* p, std::size_t n) { return ReadSome(fd.get(), p, n); });
  std::string chunk;
  while (dec.Next(chunk)) {
    sink(chunk);
    crypto::Wipe(chunk);
  }
}

std::string Repository::ReadText(const Session& actor, const std::string& doc_id) {
  Source src = OpenSource(*impl_, actor, doc_id);
  const crypto::SecretBytes text_key = crypto::DeriveDataSubkey(src.key, crypto::DataKeyUse::kText);
  std::vector<TextChunkRecord> records = ReadTextRecords(*impl_->text, src.row.text);
  if (records.empty()) throw Error(ErrorCode::kCorrupt, "stored text is truncated");
  std::string out;
  for (std::size_t i = 0; i < records.size(); ++i) {
    // The last flag in the associated data: a list cut short fails here.
    std::string chunk = crypto::OpenMessage(
        text_key,
        crypto::TextChunkAd(src.id, static_cast<std::uint32_t>(i), i + 1 == records.size()),
        records[i].sealed);
    out += chunk;
    crypto::Wipe(chunk);
  }
  return out;
}

}  // namespace dossier::repo
