// JSON bodies of the HTTP API (API.md), built from Repository results. The
// CLI's --json prints exactly these, so the two never drift apart.
#pragma once

#include <nlohmann/json.hpp>

#include "repo/repository.h"

namespace dossier::repo {

nlohmann::json ToJson(const CaseInfo& c);
nlohmann::json ToJson(const DocumentInfo& d);
nlohmann::json ToJson(const IngestedDocument& d);
nlohmann::json ToJson(const SearchResults& r);

}  // namespace dossier::repo
