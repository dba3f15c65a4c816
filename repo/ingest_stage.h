// Private to repo/: staging one item of an ingest. Its bytes are encrypted
// into a pending blob while SHA-256, MD5 and the keyed content hash are
// taken in the same pass; deduplication decides whether it is new, a
// duplicate, or already there (scoped to the access set, and for "same
// place" to the case, custodian and place in the family); and it gets the
// build task that makes its index entry and sealed text.
// The build step (BuildIndexEntry) is the one place besides the workers
// that holds a document's text in the clear: anything else that must read
// it, such as the entity extractor of the links issue, plugs in there and
// returns its findings in BuildResult.
// Thread-safety: one run thread; build tasks run on the build pool.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <vector>
#include <optional>
#include <set>
#include <string>

#include "repo/group_committer.h"
#include "repo/entity_record.h"
#include "repo/ingest.h"

namespace dossier::repo {

// A document's index fields from what ingest recorded of it (its sealed
// metadata keeps the same values): reindex rebuilds exactly what ingest
// built. Its date is the email's Date, else the creation date, else the
// file's time.
indexer::DocumentFields FieldsFromRecord(const std::string& doc_id, const std::string& case_id,
                                         const std::string& custodian,
                                         const std::string& filename, const std::string& mime,
                                         const std::string& language,
                                         const std::map<std::string, std::string>& fields,
                                         std::optional<std::int64_t> mtime,
                                         const std::vector<std::string>& entity_terms = {});
std::optional<std::int64_t> DocumentDay(const std::map<std::string, std::string>& fields,
                                        std::optional<std::int64_t> mtime);
// The kind of document a MIME type is (`type:` values), and all kinds.
std::string DocumentType(const std::string& mime);
const std::vector<std::string>& DocumentTypes();


class Stager {
 public:
  // `lookups` is a reading connection of the run's own.
  Stager(RepoContext& ctx, const IngestPlan& plan, GroupCommitter& groups, sql::Db& lookups)
      : ctx_(ctx), plan_(plan), groups_(groups), lookups_(lookups) {}
  // Returns the staged document, or nothing when it is already there (then
  // `existing` says which document it is). Takes the item's text.
  std::optional<Staged> Stage(ItemSource&& src, IngestedDocument* existing);

 private:
  struct Content {
    std::unique_ptr<PendingBlob> blob;
    std::string sha256, md5, mac;
    std::uint64_t size = 0;
  };
  Content EncryptOriginal(const ItemSource& src, const crypto::SecretBytes& data_key, bool link);
  // Whether this place holds the item already (true: `existing` set), or
  // holds a failure a retry replaces (`staged.replaces` set).
  bool FoundAtPlace(const ItemSource& src, const crypto::Bytes& place_key, Staged& staged,
                    IngestedDocument* existing);
  std::string OriginalOf(const crypto::Bytes& dedup_key, const std::string& replaces);

  RepoContext& ctx_;
  const IngestPlan& plan_;
  GroupCommitter& groups_;
  sql::Db& lookups_;
};

}  // namespace dossier::repo
