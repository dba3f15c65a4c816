// Private to repo/: the database schema, in versioned migrations.
#pragma once

#include "repo/sqlite.h"

namespace dossier::repo {

// The schema version this build writes.
int LatestSchemaVersion();
int SchemaVersion(sql::Db& db);
// Brings the schema to the latest version, one migration per transaction.
// Throws Error(kUnsupported) for a database written by a newer Dossier.
void Migrate(sql::Db& db);

}  // namespace dossier::repo
