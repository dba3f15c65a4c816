// A document's entities as its sealed record keeps them (meta["entities"]),
// made from what the extraction workers found, read back, and turned into
// index terms.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "indexer/entities.h"
#include "repo/types.h"

namespace dossier::repo {

// A document's entities as its sealed metadata keeps them: one entry per
// distinct (type, value) with its count, weight, the headers it came from
// and the first offsets in the text, ordered by type and value; at most
// kMaxStoredEntities entries (the first distinct ones found).
constexpr std::size_t kMaxStoredEntities = 2000;
std::vector<DocumentEntity> StoredEntities(const std::vector<indexer::Entity>& found);
// Such a list as the sealed record (and the API) writes it, and read back
// from a record: entries of the wrong shape are left out.
nlohmann::json EntitiesJson(const std::vector<DocumentEntity>& list);
std::vector<DocumentEntity> EntitiesFromJson(const nlohmann::json& list);
// The index terms ("type:value") of such a list; unknown types and values
// of a size no extractor makes (the record is read back from the file) are
// left out.
std::vector<std::string> EntityTermsOf(const std::vector<DocumentEntity>& entities);

}  // namespace dossier::repo
