#include "repo/types.h"

#include <array>
#include <utility>

namespace dossier::repo {

namespace {
template <typename E, std::size_t N>
std::optional<E> Find(const std::array<std::pair<E, std::string_view>, N>& table,
                      std::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}
template <typename E, std::size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [v, n] : table) {
    if (v == e) return n;
  }
  return "";
}

constexpr std::array<std::pair<DocStatus, std::string_view>, 9> kStatuses = {{
    {DocStatus::kPending, "pending"},
    {DocStatus::kIndexed, "indexed"},
    {DocStatus::kPartial, "partial"},
    {DocStatus::kDuplicate, "duplicate"},
    {DocStatus::kUnsupported, "unsupported"},
    {DocStatus::kError, "error"},
    {DocStatus::kLink, "link"},
    {DocStatus::kExists, "exists"},
    {DocStatus::kSkipped, "skipped"},
}};
constexpr std::array<std::pair<Stage, std::string_view>, 7> kStages = {{
    {Stage::kScreening, "screening"},
    {Stage::kAssessment, "assessment"},
    {Stage::kRiskAssessment, "risk_assessment"},
    {Stage::kPlanning, "planning"},
    {Stage::kImplementation, "implementation"},
    {Stage::kFollowUp, "follow_up"},
    {Stage::kEvaluation, "evaluation"},
}};
constexpr std::array<std::pair<Risk, std::string_view>, 4> kRisks = {{
    {Risk::kNone, ""}, {Risk::kLow, "low"}, {Risk::kModerate, "moderate"}, {Risk::kHigh, "high"},
}};
constexpr std::array<std::pair<CaseStatus, std::string_view>, 2> kCaseStatuses = {{
    {CaseStatus::kOpen, "open"}, {CaseStatus::kClosed, "closed"},
}};
constexpr std::array<std::pair<JobKind, std::string_view>, 3> kJobKinds = {{
    {JobKind::kIngest, "ingest"}, {JobKind::kGrant, "grant"}, {JobKind::kRevoke, "revoke"},
}};
constexpr std::array<std::pair<JobState, std::string_view>, 5> kJobStates = {{
    {JobState::kQueued, "queued"},
    {JobState::kRunning, "running"},
    {JobState::kDone, "done"},
    {JobState::kFailed, "failed"},
    {JobState::kCancelled, "cancelled"},
}};
constexpr std::array<std::pair<JobPhase, std::string_view>, 6> kJobPhases = {{
    {JobPhase::kWaiting, "waiting"},
    {JobPhase::kPreparing, "preparing"},
    {JobPhase::kExtracting, "extracting"},
    {JobPhase::kCommitting, "committing"},
    {JobPhase::kMoving, "moving"},
    {JobPhase::kFinished, "finished"},
}};
}  // namespace

std::string_view StatusName(DocStatus s) { return NameOf(kStatuses, s); }
std::optional<DocStatus> ParseStatus(std::string_view n) { return Find(kStatuses, n); }
bool IsFailure(DocStatus s) {
  return s == DocStatus::kError || s == DocStatus::kUnsupported || s == DocStatus::kSkipped;
}
std::string_view StageName(Stage s) { return NameOf(kStages, s); }
std::optional<Stage> ParseStage(std::string_view n) { return Find(kStages, n); }
std::string_view RiskName(Risk r) { return NameOf(kRisks, r); }
std::optional<Risk> ParseRisk(std::string_view n) { return n == "none" ? Risk::kNone : Find(kRisks, n); }
std::string_view CaseStatusName(CaseStatus s) { return NameOf(kCaseStatuses, s); }
std::optional<CaseStatus> ParseCaseStatus(std::string_view n) { return Find(kCaseStatuses, n); }
namespace {
constexpr std::array<std::pair<DeadlineState, std::string_view>, 5> kDeadlineStates = {{
    {DeadlineState::kNone, ""},
    {DeadlineState::kOnTrack, "on_track"},
    {DeadlineState::kDueSoon, "due_soon"},
    {DeadlineState::kOverdue, "overdue"},
    {DeadlineState::kDone, "done"},
}};
}  // namespace
std::string_view DeadlineStateName(DeadlineState s) { return NameOf(kDeadlineStates, s); }
const std::vector<Stage>& AllStages() {
  static const std::vector<Stage> all = {Stage::kScreening,   Stage::kAssessment,     Stage::kRiskAssessment,
                                         Stage::kPlanning,    Stage::kImplementation, Stage::kFollowUp,
                                         Stage::kEvaluation};
  return all;
}
std::string_view JobKindName(JobKind k) { return NameOf(kJobKinds, k); }
std::string_view JobStateName(JobState s) { return NameOf(kJobStates, s); }
std::string_view JobPhaseName(JobPhase p) { return NameOf(kJobPhases, p); }

}  // namespace dossier::repo
