// Private to repo/: cases — creating them, reading them back, and who may
// see one. A case's title, description and workflow fields are sealed
// under its own key; the roles granted on it are in clear.
// Thread-safety: any thread.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

// Throws Error(kNotFound) unless the actor holds a role granted on the case
// (or is the recovery key): a case one may not see does not exist.
void RequireCaseVisible(sql::Db& db, const Actor& actor, const std::string& case_id);
// The case's own phone region ("" if it has none).
std::string CaseRegion(sql::Db& db, const Actor& actor, const std::string& case_id);
// The case's sealed record (title, description, phone region) and its key,
// for a change; SealCaseRecord writes it back.
nlohmann::json OpenCaseRecord(sql::Db& db, const Actor& actor, const std::string& case_id,
                              crypto::SecretBytes* case_key);
void SealCaseRecord(sql::Db& w, const std::string& case_id, const crypto::SecretBytes& case_key,
                    const nlohmann::json& record);

class CaseService {
 public:
  explicit CaseService(RepoContext& ctx) : ctx_(ctx) {}
  CaseInfo Create(const Actor& actor, const NewCase& c);
  // Many cases in one transaction (an import): all or none.
  std::vector<CaseInfo> CreateMany(const Actor& actor, const std::vector<NewCase>& list);
  CaseInfo Get(const Actor& actor, const std::string& case_id);
  std::vector<CaseInfo> List(const Actor& actor, const CaseFilter& filter = {});

 private:
  // `settings`: the stage targets, read once per call, not once per case.
  CaseInfo Read(sql::Db& db, const Actor& actor, const std::string& case_id, const WorkflowSettings& settings);
  RepoContext& ctx_;
};

}  // namespace dossier::repo
