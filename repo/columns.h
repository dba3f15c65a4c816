// Private to repo/: values read back from dossier.db, checked for size and
// form where they enter. Anyone who can write the file can put anything in
// any column, and the process reading it holds keys: a sealed key one byte
// short must never reach a primitive that reads 32 bytes, an id must be an
// id, a status one of the statuses. Each reader throws Error(kCorrupt)
// naming what is damaged ("a document's content key is malformed"), never
// quoting the value.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "crypto/keys.h"
#include "repo/sqlite.h"
#include "repo/types.h"

namespace dossier::repo {

using RoleId = std::int64_t;
using AccessSet = std::set<RoleId>;

namespace col {

// Ids Dossier makes: a prefix letter and random base-32 characters.
enum class IdKind { kCase, kDocument, kShard, kStoredFile, kRepository, kSavedSearch, kTask, kNote };
bool IsId(std::string_view text, IdKind kind);
std::string Id(const sql::Stmt& st, int col, IdKind kind, const char* what);
// NULL (or, for ids written as '' by older versions, empty) is nothing.
std::optional<std::string> OptionalId(const sql::Stmt& st, int col, IdKind kind,
                                      const char* what);

// A BLOB of exactly `n` bytes.
crypto::Bytes Exact(const sql::Stmt& st, int col, std::size_t n, const char* what);
// A BLOB of min..max bytes.
crypto::Bytes Bounded(const sql::Stmt& st, int col, std::size_t min, std::size_t max,
                      const char* what);
crypto::PublicKey PublicKey(const sql::Stmt& st, int col, const char* what);
// A 32-byte key sealed (crypto_box_seal) to someone.
crypto::Bytes SealedKey(const sql::Stmt& st, int col, const char* what);
// A document's data key: wrapped under a batch key, or (key_batch NULL,
// schema version 1) sealed directly.
crypto::Bytes DataKey(const sql::Stmt& st, int col, bool wrapped, const char* what);

std::int64_t Integer(const sql::Stmt& st, int col, std::int64_t min, std::int64_t max,
                     const char* what);
std::string Time(const sql::Stmt& st, int col, const char* what);  // RFC 3339
std::string Name(const sql::Stmt& st, int col, const char* what);  // user, role
DocStatus Status(const sql::Stmt& st, int col, const char* what);
std::string Language(const sql::Stmt& st, int col, const char* what);
// "3,5,9": role ids, ascending, at least one.
AccessSet Set(const sql::Stmt& st, int col, const char* what);
std::optional<AccessSet> OptionalSet(const sql::Stmt& st, int col, const char* what);

}  // namespace col

// The text form of an access set ("3,5,9") and its strict parse.
std::string EncodeSet(const AccessSet& set);
std::optional<AccessSet> ParseSet(std::string_view text);

// User and role names: 1-64 of letters, digits, '.', '_', '-'.
bool ValidName(std::string_view name);
// Throws Error(kInvalidArgument) for a name that is not valid; `what` is
// "user" or "role".
void RequireValidName(std::string_view name, const char* what);

}  // namespace dossier::repo
