#include "repo/ingest_stage.h"

#include <ctime>
#include <regex>

#include "crypto/blob_stream.h"
#include "crypto/envelope.h"
#include "indexer/text.h"
#include "repo/sealed_json.h"

namespace dossier::repo {

namespace {

std::string TypeFamily(const std::string& mime) {
  if (mime == "application/pdf") return "pdf";
  if (mime == "message/rfc822" || mime == "message/news") return "email";
  if (mime == "application/mbox") return "mailbox";
  if (mime == "text/html" || mime == "application/xhtml+xml") return "html";
  if (mime.rfind("application/vnd.openxmlformats-officedocument.", 0) == 0 ||
      mime.rfind("application/vnd.oasis.opendocument.", 0) == 0) {
    return "office";
  }
  if (mime.rfind("text/", 0) == 0) return "text";
  if (mime == "application/zip" || mime == "application/x-tar" || mime == "application/gzip" ||
      mime == "application/x-7z-compressed" || mime == "application/x-bzip2" ||
      mime == "application/x-xz" || mime == "application/vnd.rar" || mime == "application/x-rar") {
    return "archive";
  }
  return "other";
}

// Email addresses in a header value ("Ana <ana@x.example>, bob@y.example").
std::vector<std::string> Addresses(const std::string& header) {
  static const std::regex kAddress(R"([A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+)");
  std::vector<std::string> out;
  for (std::sregex_iterator it(header.begin(), header.end(), kAddress), end; it != end; ++it) {
    std::string a = it->str();
    for (auto& c : a) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(a);
  }
  return out;
}

// Day number of an RFC 3339 date ("2025-02-14T10:00:00Z"), if it is one.
std::optional<std::int64_t> DayOf(const std::string& iso) {
  std::tm tm{};
  if (iso.size() < 10 || !strptime(iso.substr(0, 10).c_str(), "%Y-%m-%d", &tm)) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm)) / 86400;
}


}  // namespace

std::string DocumentType(const std::string& mime) { return TypeFamily(mime); }

const std::vector<std::string>& DocumentTypes() {
  static const std::vector<std::string> types = {"pdf",  "email",   "mailbox", "html",
                                                 "office", "text", "archive", "other"};
  return types;
}

std::optional<std::int64_t> DocumentDay(const std::map<std::string, std::string>& fields,
                                        std::optional<std::int64_t> mtime) {
  std::optional<std::int64_t> day;
  for (const char* k : {"date", "created"}) {
    if (!day && fields.count(k)) day = DayOf(fields.at(k));
  }
  if (!day && mtime) day = *mtime / 86400;
  return day;
}

indexer::DocumentFields FieldsFromRecord(const std::string& doc_id, const std::string& case_id,
                                         const std::string& custodian,
                                         const std::string& filename, const std::string& mime,
                                         const std::string& language,
                                         const std::map<std::string, std::string>& it_fields,
                                         std::optional<std::int64_t> mtime,
                                         const std::vector<std::string>& entity_terms) {
  indexer::DocumentFields fields;
  for (const auto& term : entity_terms) fields.extra.emplace_back(indexer::Field::kEntity, term);
  fields.doc_id = doc_id;
  fields.case_id = case_id;
  fields.custodian = custodian;
  fields.filename = filename;
  fields.language = language;
  fields.type = TypeFamily(mime);
  fields.day = DocumentDay(it_fields, mtime);
  auto add_addresses = [&](const char* header, indexer::Field field) {
    if (it_fields.count(header)) {
      for (auto& a : Addresses(it_fields.at(header))) fields.extra.emplace_back(field, a);
    }
  };
  add_addresses("from", indexer::Field::kFrom);
  add_addresses("to", indexer::Field::kTo);
  add_addresses("cc", indexer::Field::kCc);
  if (it_fields.count("subject")) fields.subject = it_fields.at("subject");
  return fields;
}

namespace {

indexer::DocumentFields FieldsOf(const ItemSource& src, const IngestedDocument& info,
                                 const IngestPlan& plan, const std::vector<DocumentEntity>& entities) {
  const std::string language =
      src.item.language.empty() ? plan.fallback_language : src.item.language;
  return FieldsFromRecord(info.id, plan.case_id, src.custodian, info.filename, info.mime,
                          language, src.item.fields, src.mtime,
                          EntityTermsOf(entities));
}

// What a build task needs, owned by it.
struct BuildInput {
  indexer::DocumentFields fields;
  std::string text;  // the plaintext, wiped when the task is done
  std::shared_ptr<const crypto::SecretBytes> text_key;
  bool link = false;
  bool truncated = false;
  std::string doc_id;
  TextStore* texts = nullptr;
  ~BuildInput() { crypto::Wipe(text); }
};

// Terms and sealed text chunks of one document, on a build thread.
BuildResult BuildIndexEntry(indexer::DocumentBuilder& builder, BuildInput& in) {
  BuildResult r;
  builder.Begin(in.fields);
  try {
    if (!in.link) {
      TextStore::Writer writer = in.texts->Write(*in.text_key, in.doc_id);
      std::string_view rest = in.text;
      while (!rest.empty()) {
        const std::size_t cut = indexer::ChunkBoundary(rest, TextStore::kChunkBytes);
        std::string chunk(rest.substr(0, cut));
        rest.remove_prefix(cut);
        const indexer::ChunkRange range = builder.AddText(chunk);
        if (range.consumed < chunk.size()) {
          chunk.resize(range.consumed);  // the cap: keep only what was indexed
          rest = {};
        }
        if (chunk.empty()) break;
        r.indexed_bytes += chunk.size();
        writer.Add(std::move(chunk), range);
      }
      r.text = writer.Finish();
    }
  } catch (...) {
    builder.Finish();  // leave the builder ready for its next task
    throw;
  }
  r.doc = builder.Finish();
  r.partial = builder.partial() || in.truncated;
  return r;
}

}  // namespace

Stager::Content Stager::EncryptOriginal(const ItemSource& src, const crypto::SecretBytes& data_key,
                                        bool link) {
  Content c;
  if (link) {
    // A link's identity is its target (the old code hashed a pointer
    // offset here, so every link at one place looked the same).
    auto target = src.item.fields.find("link_target");
    c.mac = "link|" + (target == src.item.fields.end() ? std::string() : target->second);
    return c;
  }
  crypto::Sha256 sha;
  crypto::Md5 md5;
  crypto::KeyedHasher::Stream mac = ctx_.dedup->Start();
  c.blob = ctx_.blobs->Create();
  crypto::BlobEncryptor enc(crypto::DeriveDataSubkey(data_key, crypto::DataKeyUse::kBlob),
                            [&](const unsigned char* p, std::size_t n) { c.blob->Append(p, n); });
  auto feed = [&](const unsigned char* p, std::size_t n) {
    enc.Write(p, n);
    sha.Update(p, n);
    md5.Update(p, n);
    mac.Update(p, n);
    c.size += n;
  };
  if (src.fd >= 0) {
    std::vector<unsigned char> buf(crypto::kBlobChunk);
    for (std::uint64_t off = 0;;) {
      const ssize_t n = ::pread(src.fd, buf.data(), buf.size(), static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(ErrorCode::kIo, "cannot read a file to ingest");
      if (n == 0) break;
      feed(buf.data(), static_cast<std::size_t>(n));
      crypto::Wipe(buf.data(), static_cast<std::size_t>(n));
      off += static_cast<std::uint64_t>(n);
    }
  } else {
    feed(reinterpret_cast<const unsigned char*>(src.bytes.data()), src.bytes.size());
  }
  enc.Finish();
  c.sha256 = sha.FinalHex();
  c.md5 = md5.FinalHex();
  c.mac = mac.Final();
  return c;
}

bool Stager::FoundAtPlace(const ItemSource& src, const crypto::Bytes& place_key, Staged& staged,
                          IngestedDocument* existing) {
  if (const IngestedDocument* known = groups_.FindPlace(place_key)) {
    *existing = *known;
    return true;
  }
  sql::Stmt p(lookups_,
              "SELECT id, duplicate_of, parent_id, final_status FROM documents WHERE "
              "place_key=? AND shard_id=? AND status != 'pending'");
  p.Bind(1, place_key).Bind(2, plan_.shard);
  if (!p.Step()) return false;
  using K = col::IdKind;
  const std::string id = col::Id(p, 0, K::kDocument, "a document id");
  const DocStatus final_status = col::Status(p, 3, "a document's status");
  if (plan_.retry_failed && src.parent_id.empty() &&
      (final_status == DocStatus::kError || final_status == DocStatus::kUnsupported)) {
    staged.replaces = id;
    groups_.NoteReplacing(id);
    return false;
  }
  *existing = staged.info;
  existing->id = id;
  existing->duplicate_of = col::OptionalId(p, 1, K::kDocument, "a document's original").value_or("");
  if (!src.parent_id.empty() &&
      col::OptionalId(p, 2, K::kDocument, "a document's parent").value_or("") != src.parent_id) {
    groups_.Reparent(id, src.parent_id);
  }
  return true;
}

std::string Stager::OriginalOf(const crypto::Bytes& dedup_key, const std::string& replaces) {
  std::string original = groups_.FindOriginal(dedup_key);
  if (!original.empty()) return original;
  // Never a duplicate of the failed document it replaces, nor of a failure
  // this run replaces (and deletes).
  sql::Stmt d(lookups_,
              "SELECT id FROM documents WHERE dedup_key=? AND shard_id=? AND "
              "duplicate_of IS NULL AND id != ? ORDER BY created_at LIMIT 1");
  d.Bind(1, dedup_key).Bind(2, plan_.shard).Bind(3, replaces);
  if (d.Step()) {
    std::string id = col::Id(d, 0, col::IdKind::kDocument, "a document id");
    if (!groups_.Replacing(id)) return id;
  }
  return "";
}

std::optional<Staged> Stager::Stage(ItemSource&& src, IngestedDocument* existing) {
  indexer::ExtractedItem& it = src.item;
  Staged staged;
  IngestedDocument& info = staged.info;
  info.id = "d" + crypto::RandomId(15);
  info.parent_id = src.parent_id;
  info.path = src.path;
  info.filename = src.filename;
  info.mime = it.mime.empty() ? "application/octet-stream" : it.mime;
  info.error = it.error;
  const bool link = it.status == "link";

  crypto::SecretBytes data_key = crypto::NewDataKey();
  Content content = EncryptOriginal(src, data_key, link);
  info.size = content.size;
  info.sha256 = content.sha256;
  std::vector<DocumentEntity> entities = StoredEntities(src.item.entities);
  const indexer::DocumentFields fields = FieldsOf(src, info, plan_, entities);
  ctx_.Fault("after_blob_written");

  const std::string place = ctx_.dedup->Hash(
      "place|" + content.mac + "|" + plan_.case_id + "|" + src.custodian + "|" + src.place, 32);
  const crypto::Bytes place_key(place.begin(), place.end());
  if (FoundAtPlace(src, place_key, staged, existing)) {
    existing->status = DocStatus::kExists;
    crypto::Wipe(it.text);
    return std::nullopt;  // the pending files remove themselves
  }
  const crypto::Bytes dedup_key =
      link ? crypto::Bytes() : crypto::Bytes(content.mac.begin(), content.mac.end());
  const std::string original = link ? "" : OriginalOf(dedup_key, staged.replaces);
  const bool duplicate = !original.empty();
  info.duplicate_of = original;
  if (duplicate) info.status = DocStatus::kDuplicate;
  else if (link) info.status = DocStatus::kLink;
  else if (it.status == "error") info.status = DocStatus::kError;
  else if (it.status == "unsupported") info.status = DocStatus::kUnsupported;
  else info.status = it.text_truncated ? DocStatus::kPartial : DocStatus::kIndexed;

  staged.meta = {{"filename", info.filename},
                 {"path", info.path},
                 {"sha256", info.sha256},
                 {"md5", content.md5},
                 {"custodian", src.custodian},
                 {"mime", info.mime},
                 {"language", fields.language},
                 {"size", info.size},
                 {"indexed_bytes", 0},  // set when the build finishes
                 {"partial", it.text_truncated},
                 {"error", info.error},
                 {"fields", it.fields}};
  // Without the key the record says its entities were never looked for
  // (as in a repository older than entities), and reindex finds them.
  if (ctx_.options.extract_limits.find_entities) staged.meta["entities"] = EntitiesJson(entities);
  staged.entities = std::move(entities);
  if (src.mtime) staged.meta["mtime"] = *src.mtime;
  staged.dedup_key = duplicate ? crypto::Bytes() : dedup_key;
  staged.place_key = place_key;
  if (duplicate) {
    crypto::Wipe(it.text);
  } else {
    if (content.blob) {
      content.blob->Close();
      staged.blob = std::move(content.blob);
      staged.blob_name = crypto::RandomId(26);
    }
    // Terms and sealed text chunks are made on the build pool; the group
    // commit waits for them. The task owns what it needs.
    auto input = std::make_shared<BuildInput>();
    input->fields = fields;
    input->text = std::move(it.text);
    input->text_key = std::make_shared<const crypto::SecretBytes>(
        crypto::DeriveDataSubkey(data_key, crypto::DataKeyUse::kText));
    input->link = link;
    input->truncated = it.text_truncated;
    input->doc_id = info.id;
    input->texts = ctx_.texts.get();
    staged.text_bytes = input->text.size();
    staged.build_task = [input](indexer::DocumentBuilder& b) { return BuildIndexEntry(b, *input); };
    groups_.AddLanguage(fields.language);
  }
  staged.data_key = std::move(data_key);
  return staged;
}

}  // namespace dossier::repo
