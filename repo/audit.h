// Private to repo/: the audit trail's reading side (the writing side is
// repo/audit_trail.h): listing events, checking the whole chain against
// its signed head (and a head kept elsewhere), and the proofs an outside
// verifier checks (scripts/audit_check.py).
//
// Who reads it: admins and members of the `auditor` role list events and
// prove one; checking the chain and the consistency of heads reveal only
// counts and hashes, so they need no session (an operator checks a copy).
// Thread-safety: all of it (reads on pooled connections).
#pragma once

#include <optional>

#include "repo/rooms.h"
#include "repo/session_impl.h"
#include "repo/types.h"

namespace dossier::repo {

class AuditService : public Room {
 public:
  using Room::Room;
  std::vector<AuditEventInfo> List(const Actor& actor, const AuditFilter& filter);
  // Flushes queued reads first, so the head covers everything done so far.
  AuditHead Head();
  AuditVerdict Verify(const std::optional<AuditHead>& against);
  AuditProof Prove(const Actor& actor, std::uint64_t seq);
  AuditConsistency ProveConsistency(std::uint64_t first_size);
  // Throws Error(kForbidden) unless the actor is an admin, holds the
  // auditor role or is the recovery key.
  void RequireAuditor(const Actor& actor);
  static bool IsAuditor(const Actor& actor);
  // Error(kNotFound) for a case the actor may not open, kForbidden unless
  // they own it.
  void RequireCaseOwner(const Actor& actor, const std::string& case_id);
  // Every event whose target is the document, in order (at most 10,000).
  // A document's events and the grants and revokes of its case since its
  // intake (each moved it), in order.
  std::vector<AuditEventInfo> Custody(const Actor& actor, const std::string& doc_id, const std::string& case_id,
                                      bool* truncated);
};

}  // namespace dossier::repo
