#include "repo/schema.h"

#include <iterator>
#include <string>

#include "base/error.h"

namespace dossier::repo {

namespace {

// Versioned migrations: entry i brings the schema from version i to i+1.
// Never edit a released entry; append a new one.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE users(
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,
  is_admin INTEGER NOT NULL DEFAULT 0, public_key BLOB NOT NULL,
  wrapped_secret BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE roles(
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, public_key BLOB NOT NULL,
  recovery_sealed BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE role_members(
  role_id INTEGER NOT NULL REFERENCES roles(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  sealed_secret BLOB NOT NULL, PRIMARY KEY(role_id, user_id));
CREATE TABLE cases(
  id TEXT PRIMARY KEY, sealed_meta BLOB NOT NULL,
  recovery_sealed_key BLOB NOT NULL, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL);
CREATE TABLE case_grants(
  case_id TEXT NOT NULL REFERENCES cases(id),
  role_id INTEGER NOT NULL REFERENCES roles(id),
  sealed_key BLOB NOT NULL, PRIMARY KEY(case_id, role_id));
CREATE TABLE shards(id TEXT PRIMARY KEY, access_set TEXT UNIQUE NOT NULL);
CREATE TABLE shard_languages(
  shard_id TEXT NOT NULL REFERENCES shards(id), language TEXT NOT NULL,
  PRIMARY KEY(shard_id, language));
CREATE TABLE documents(
  id TEXT PRIMARY KEY,
  case_id TEXT NOT NULL REFERENCES cases(id),
  parent_id TEXT,
  shard_id TEXT NOT NULL REFERENCES shards(id),
  move_to TEXT REFERENCES shards(id),
  restrict_set TEXT,
  status TEXT NOT NULL,
  final_status TEXT NOT NULL,
  blob TEXT, text TEXT,
  size INTEGER NOT NULL,
  dedup_key BLOB, place_key BLOB NOT NULL,
  duplicate_of TEXT REFERENCES documents(id),
  sealed_meta BLOB NOT NULL,
  recovery_sealed_key BLOB NOT NULL,
  created_at TEXT NOT NULL);
CREATE INDEX documents_case ON documents(case_id);
CREATE INDEX documents_dedup ON documents(dedup_key);
CREATE INDEX documents_place ON documents(place_key);
CREATE INDEX documents_status ON documents(status);
CREATE INDEX documents_move ON documents(move_to) WHERE move_to IS NOT NULL;
CREATE TABLE document_keys(
  doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  role_id INTEGER NOT NULL REFERENCES roles(id),
  sealed_key BLOB NOT NULL, PRIMARY KEY(doc_id, role_id));
)sql",
    // Data keys wrapped under per-batch keys (see KeyBatch). A key row whose
    // key_batch is NULL was written by version 1: crypto_box_seal directly.
    R"sql(
CREATE TABLE key_batches(
  id INTEGER PRIMARY KEY, recovery_sealed BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE batch_keys(
  batch_id INTEGER NOT NULL REFERENCES key_batches(id),
  role_id INTEGER NOT NULL REFERENCES roles(id),
  sealed_key BLOB NOT NULL, PRIMARY KEY(batch_id, role_id));
ALTER TABLE documents ADD COLUMN key_batch INTEGER REFERENCES key_batches(id);
ALTER TABLE document_keys ADD COLUMN key_batch INTEGER REFERENCES key_batches(id);
)sql",
    // Concurrent readers and the new move order (repo/moves.cpp): a moved
    // document's old copy is recorded until it is deleted; readers find the
    // documents whose copies do not all count through one small index. A
    // pending document names the failure it replaces (--retry-failed), so
    // recovery can finish the replacement. Ingest's lookups go by place or
    // content within a shard: their indexes name the shard too, so the
    // planner never prefers the shard's own index (a scan of the shard).
    // Disabled users. Counters readers compare (context.h).
    R"sql(
ALTER TABLE documents ADD COLUMN move_from TEXT REFERENCES shards(id);
ALTER TABLE documents ADD COLUMN replaces TEXT;
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
CREATE INDEX documents_shard ON documents(shard_id);
DROP INDEX documents_place;
CREATE INDEX documents_place ON documents(place_key, shard_id);
DROP INDEX documents_dedup;
CREATE INDEX documents_dedup ON documents(dedup_key, shard_id);
CREATE INDEX documents_unsettled ON documents(id)
  WHERE status = 'pending' OR move_to IS NOT NULL OR move_from IS NOT NULL;
INSERT OR IGNORE INTO meta(key, value) VALUES('index_epoch', CAST('0' AS BLOB));
INSERT OR IGNORE INTO meta(key, value) VALUES('membership_epoch', CAST('0' AS BLOB));
)sql",
    // A user's second factor: the TOTP secret sealed to their own public
    // key, so only their password (which opens their secret key) opens it,
    // and the time step of the last code spent (each code works once).
    // A document page shows its family: children and duplicates by index.
    R"sql(
ALTER TABLE users ADD COLUMN totp_sealed BLOB;
ALTER TABLE users ADD COLUMN totp_step INTEGER;
CREATE INDEX documents_parent ON documents(parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX documents_duplicate ON documents(duplicate_of) WHERE duplicate_of IS NOT NULL;
)sql",
    // Search for reviewers. A shard records the index format it is built
    // with (indexer kShardFormat; existing ones are format 1, without
    // prefix terms and facet values, until `dossier reindex`). Tags: the
    // tag's blind term, its name sealed under the document's key. Which
    // documents carry a custodian's term (to name a facet value from a
    // document the viewer opens). Saved searches, sealed to their owner.
    R"sql(
ALTER TABLE shards ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
CREATE TABLE document_tags(
  doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  term BLOB NOT NULL, sealed_name BLOB NOT NULL,
  set_by TEXT NOT NULL, set_at TEXT NOT NULL, PRIMARY KEY(doc_id, term));
CREATE INDEX document_tags_term ON document_tags(term);
CREATE TABLE custodian_terms(
  term BLOB NOT NULL, doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  PRIMARY KEY(term, doc_id));
CREATE TABLE saved_searches(
  id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
  sealed_key BLOB NOT NULL, sealed BLOB NOT NULL, created_at TEXT NOT NULL,
  last_run_at TEXT, last_total INTEGER, last_rowid INTEGER);
CREATE INDEX saved_searches_user ON saved_searches(user_id);
CREATE INDEX documents_exceptions ON documents(shard_id, case_id) WHERE duplicate_of IS NULL AND
  (status IN ('error', 'unsupported', 'partial') OR (status = 'indexed' AND text IS NULL));
)sql",
    // Case links (repo/links.h). Each document's entities by keyed hash
    // (the entities subkey), in the shard that decides who sees the
    // document (its destination while it moves: the trigger follows the
    // row); and per hash, shard and case how many documents hold it,
    // kept by triggers so no write path can forget it. Decisions on links,
    // stop-entities set by hand, and the deconfliction notices given.
    R"sql(
CREATE TABLE entity_postings(
  hash BLOB NOT NULL, doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  case_id TEXT NOT NULL, shard_id TEXT NOT NULL, type TEXT NOT NULL,
  PRIMARY KEY(hash, doc_id));
CREATE INDEX entity_postings_doc ON entity_postings(doc_id);
CREATE INDEX entity_postings_case ON entity_postings(case_id, hash);
CREATE TABLE entity_cases(
  hash BLOB NOT NULL, shard_id TEXT NOT NULL, case_id TEXT NOT NULL, type TEXT NOT NULL,
  docs INTEGER NOT NULL, PRIMARY KEY(hash, shard_id, case_id));
CREATE INDEX entity_cases_case ON entity_cases(case_id, shard_id, hash);
CREATE TRIGGER entity_postings_added AFTER INSERT ON entity_postings BEGIN
  INSERT INTO entity_cases(hash, shard_id, case_id, type, docs)
    VALUES(NEW.hash, NEW.shard_id, NEW.case_id, NEW.type, 1)
    ON CONFLICT(hash, shard_id, case_id) DO UPDATE SET docs = docs + 1;
END;
CREATE TRIGGER entity_postings_removed AFTER DELETE ON entity_postings BEGIN
  UPDATE entity_cases SET docs = docs - 1
    WHERE hash = OLD.hash AND shard_id = OLD.shard_id AND case_id = OLD.case_id;
  DELETE FROM entity_cases
    WHERE hash = OLD.hash AND shard_id = OLD.shard_id AND case_id = OLD.case_id AND docs <= 0;
END;
CREATE TRIGGER entity_postings_moved AFTER UPDATE OF shard_id ON entity_postings
  WHEN NEW.shard_id != OLD.shard_id BEGIN
  UPDATE entity_cases SET docs = docs - 1
    WHERE hash = OLD.hash AND shard_id = OLD.shard_id AND case_id = OLD.case_id;
  DELETE FROM entity_cases
    WHERE hash = OLD.hash AND shard_id = OLD.shard_id AND case_id = OLD.case_id AND docs <= 0;
  INSERT INTO entity_cases(hash, shard_id, case_id, type, docs)
    VALUES(NEW.hash, NEW.shard_id, NEW.case_id, NEW.type, 1)
    ON CONFLICT(hash, shard_id, case_id) DO UPDATE SET docs = docs + 1;
END;
CREATE TRIGGER documents_entity_shard AFTER UPDATE OF shard_id, move_to ON documents
  WHEN COALESCE(NEW.move_to, NEW.shard_id) != COALESCE(OLD.move_to, OLD.shard_id) BEGIN
  UPDATE entity_postings SET shard_id = COALESCE(NEW.move_to, NEW.shard_id) WHERE doc_id = NEW.id;
END;
CREATE TABLE case_links(
  case_a TEXT NOT NULL REFERENCES cases(id), case_b TEXT NOT NULL REFERENCES cases(id),
  state TEXT NOT NULL, types TEXT NOT NULL, set_by TEXT NOT NULL, set_at TEXT NOT NULL,
  sealed_why BLOB NOT NULL, PRIMARY KEY(case_a, case_b));
CREATE INDEX case_links_b ON case_links(case_b);
CREATE TABLE stop_entities(
  hash BLOB PRIMARY KEY, type TEXT NOT NULL, set_by TEXT NOT NULL, set_at TEXT NOT NULL);
CREATE TABLE link_notices(
  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, user_name TEXT NOT NULL,
  from_case TEXT NOT NULL REFERENCES cases(id), to_case TEXT NOT NULL REFERENCES cases(id),
  shared INTEGER NOT NULL, types TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX link_notices_user ON link_notices(user_id, at);
CREATE INDEX link_notices_pair ON link_notices(from_case, to_case, user_id);
CREATE INDEX link_notices_to ON link_notices(to_case, at);
)sql",
    // Version 7: the entity tables without rowids, each keyed by what it is
    // looked up by (a posting by hash, case and document; a case count by
    // hash, shard and case), and no index the lookups do not use. Ingest
    // wrote seven B-trees per entity a document holds, at random places as
    // the keys are hashes; it now writes four (measured: entity postings
    // were a third of what entities add to an ingest of mail).
    R"sql(
CREATE TABLE entity_postings_new(
  hash BLOB NOT NULL, doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  case_id TEXT NOT NULL, shard_id TEXT NOT NULL, type TEXT NOT NULL,
  PRIMARY KEY(hash, case_id, doc_id)) WITHOUT ROWID;
INSERT INTO entity_postings_new(hash, doc_id, case_id, shard_id, type)
  SELECT hash, doc_id, case_id, shard_id, type FROM entity_postings;
CREATE TABLE entity_cases_new(
  hash BLOB NOT NULL, shard_id TEXT NOT NULL, case_id TEXT NOT NULL, type TEXT NOT NULL,
  docs INTEGER NOT NULL, PRIMARY KEY(hash, shard_id, case_id)) WITHOUT ROWID;
INSERT INTO entity_cases_new(hash, shard_id, case_id, type, docs)
  SELECT hash, shard_id, case_id, type, docs FROM entity_cases;
DROP TRIGGER documents_entity_shard;
DROP TABLE entity_postings;
DROP TABLE entity_cases;
ALTER TABLE entity_postings_new RENAME TO entity_postings;
ALTER TABLE entity_cases_new RENAME TO entity_cases;
CREATE INDEX entity_postings_doc ON entity_postings(doc_id);
CREATE INDEX entity_cases_case ON entity_cases(case_id, shard_id);
CREATE TRIGGER entity_postings_added AFTER INSERT ON entity_postings BEGIN
  INSERT INTO entity_cases(hash, shard_id, case_id, type, docs)
    VALUES(NEW.hash, NEW.shard_id, NEW.case_id, NEW.type, 1)
    ON CONFLICT(hash, shard_id, case_id) DO UPDATE SET docs = docs + 1;
END;
CREATE TRIGGER entity_postings_removed AFTER DELETE ON entity_postings BEGIN
  UPDATE entity_cases SET docs = docs - 1
    WHERE hash = OLD.hash AND shard_id = OLD.shard_id AND case_id = OLD.case_id;
  DELETE FROM entity_cases
    WHERE hash = OLD.hash AND shard_id = OLD.shard_id AND case_id = OLD.case_id AND docs <= 0;
END;
CREATE TRIGGER entity_postings_moved AFTER UPDATE OF shard_id ON entity_postings
  WHEN NEW.shard_id != OLD.shard_id BEGIN
  UPDATE entity_cases SET docs = docs - 1
    WHERE hash = OLD.hash AND shard_id = OLD.shard_id AND case_id = OLD.case_id;
  DELETE FROM entity_cases
    WHERE hash = OLD.hash AND shard_id = OLD.shard_id AND case_id = OLD.case_id AND docs <= 0;
  INSERT INTO entity_cases(hash, shard_id, case_id, type, docs)
    VALUES(NEW.hash, NEW.shard_id, NEW.case_id, NEW.type, 1)
    ON CONFLICT(hash, shard_id, case_id) DO UPDATE SET docs = docs + 1;
END;
CREATE TRIGGER documents_entity_shard AFTER UPDATE OF shard_id, move_to ON documents
  WHEN COALESCE(NEW.move_to, NEW.shard_id) != COALESCE(OLD.move_to, OLD.shard_id) BEGIN
  UPDATE entity_postings SET shard_id = COALESCE(NEW.move_to, NEW.shard_id) WHERE doc_id = NEW.id;
END;
)sql",
    // Version 8: the audit trail (repo/audit.h). Every event in order (its
    // detail sealed, with the detail's keyed hash; both empty for most),
    // each with the hash of the one before and its own RFC 9162 leaf hash; and
    // the last signed tree head with the right edge of its tree, from
    // which the next head is computed.
    R"sql(
CREATE TABLE audit_events(
  seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  target TEXT NOT NULL, detail_hash BLOB NOT NULL, sealed BLOB NOT NULL, prev BLOB NOT NULL,
  hash BLOB NOT NULL);
CREATE INDEX audit_events_actor ON audit_events(actor, seq);
CREATE INDEX audit_events_target ON audit_events(target, seq);
CREATE TABLE audit_head(
  id INTEGER PRIMARY KEY CHECK(id = 1), size INTEGER NOT NULL, root BLOB NOT NULL,
  at INTEGER NOT NULL, signature BLOB NOT NULL, edge BLOB NOT NULL);
)sql",
    // Version 9: case management (repo/workflow.h). What the server must
    // know with nobody logged in (to remind people of deadlines) is in
    // clear: a case's stage and when it entered it, its status, risk, owner
    // and assignees; tasks' due dates, assignees and done times; which
    // reminders fired. Titles, descriptions, reasons, task text and notes
    // are sealed under the case's key. NULL risk or owner: as in the
    // case's sealed record (a case made before this version).
    R"sql(
ALTER TABLE cases ADD COLUMN stage TEXT NOT NULL DEFAULT 'screening';
ALTER TABLE cases ADD COLUMN stage_since INTEGER;
ALTER TABLE cases ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
ALTER TABLE cases ADD COLUMN risk TEXT;
ALTER TABLE cases ADD COLUMN owner_id INTEGER REFERENCES users(id);
CREATE INDEX cases_open ON cases(status, stage);
CREATE TABLE case_assignees(
  case_id TEXT NOT NULL REFERENCES cases(id), user_id INTEGER NOT NULL REFERENCES users(id),
  PRIMARY KEY(case_id, user_id)) WITHOUT ROWID;
CREATE INDEX case_assignees_user ON case_assignees(user_id);
CREATE TABLE case_history(
  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id), at INTEGER NOT NULL,
  actor TEXT NOT NULL, field TEXT NOT NULL, from_value TEXT NOT NULL, to_value TEXT NOT NULL,
  sealed_reason BLOB);
CREATE INDEX case_history_case ON case_history(case_id, id);
CREATE TABLE tasks(
  id TEXT PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id), sealed_title BLOB NOT NULL,
  assignee_id INTEGER REFERENCES users(id), due INTEGER, done_at INTEGER,
  created_at INTEGER NOT NULL, created_by TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX tasks_case ON tasks(case_id, created_at);
CREATE INDEX tasks_open_due ON tasks(due) WHERE done_at IS NULL AND due IS NOT NULL;
CREATE TABLE case_notes(
  id TEXT PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id), author TEXT NOT NULL,
  at INTEGER NOT NULL, sealed_text BLOB NOT NULL);
CREATE INDEX case_notes_case ON case_notes(case_id, at);
CREATE TABLE reminders(
  kind TEXT NOT NULL, target TEXT NOT NULL, state TEXT NOT NULL, due INTEGER NOT NULL,
  fired_at INTEGER NOT NULL, PRIMARY KEY(kind, target, state, due)) WITHOUT ROWID;
CREATE TABLE notifications(
  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), kind TEXT NOT NULL,
  state TEXT NOT NULL, case_id TEXT NOT NULL, task_id TEXT, stage TEXT, due INTEGER NOT NULL,
  at INTEGER NOT NULL, read_at INTEGER);
CREATE INDEX notifications_user ON notifications(user_id, id);
)sql",
    // Version 10: the count of documents per entity hash, shard and case
    // is added by EntityPostings (repo/links.h) once per batch, no longer by
    // a trigger once per posting (measured: half of what a posting cost).
    // Deletes and moves still keep it by trigger.
    R"sql(
DROP TRIGGER entity_postings_added;
)sql",
};

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

int SchemaVersion(sql::Db& db) {
  sql::Stmt v(db, "PRAGMA user_version");
  v.Step();
  return static_cast<int>(v.Int(0));
}

void Migrate(sql::Db& db) {
  int version = SchemaVersion(db);
  const int latest = LatestSchemaVersion();
  if (version > latest) {
    throw Error(ErrorCode::kUnsupported, "the repository was written by a newer Dossier");
  }
  for (; version < latest; ++version) {
    sql::Transaction t(db);
    db.Exec(kMigrations[version]);
    db.Exec("PRAGMA user_version=" + std::to_string(version + 1));
    t.Commit();
  }
}

}  // namespace dossier::repo
