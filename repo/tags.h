// Private to repo/: tags on documents (hot, privileged, responsive, custom
// ones). A tag is seen by everyone who may open its document: its name is
// sealed under the document's key in `document_tags`, next to its blind
// term, and the term goes into the document's index entry (every copy of
// it) so `tag:` searches and the tag facet work like any other field.
// Who may set or remove `privileged` is a repository setting: the roles in
// `meta.privileged_tag_roles` (none set: anyone who opens the document).
// Thread-safety: any number of threads; changes take the write lock.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "repo/context.h"
#include "repo/session_impl.h"

namespace dossier::repo {

// The tag's canonical form (NFKC, case-folded): 1 to 64 bytes of letters,
// digits, '-' and '_'. Throws Error(kInvalidArgument) otherwise.
std::string NormalizeTag(std::string_view name);

// The tags of a document, sorted, opened with its data key.
std::vector<std::string> TagsOf(sql::Db& db, const std::string& doc_id,
                                const crypto::SecretBytes& data_key);

class TagService {
 public:
  explicit TagService(RepoContext& ctx) : ctx_(ctx) {}
  // Adds and removes tags of one document; returns its tags after.
  // Throws Error(kNotFound) unless the actor opens it (the same error as
  // for no such document), Error(kForbidden) for `privileged` without a
  // role the policy names.
  std::vector<std::string> Update(const Actor& actor, const std::string& doc_id,
                                  const std::vector<std::string>& add,
                                  const std::vector<std::string>& remove);
  // The same on many documents (a query's hits): each one the actor
  // cannot open is skipped. Returns how many documents changed.
  std::uint64_t UpdateMany(const Actor& actor, const std::vector<std::string>& doc_ids,
                           const std::vector<std::string>& add,
                           const std::vector<std::string>& remove);
  std::vector<std::string> PrivilegedRoles();
  // Admin only: the roles that may set `privileged` (empty: anyone).
  void SetPrivilegedRoles(const Actor& actor, const std::vector<std::string>& roles);

 private:
  // Update and UpdateMany: the documents in groups, each group one
  // transaction and one commit of the shards it touched. `skip_unopenable`:
  // a document the actor cannot open is skipped instead of refused.
  // `after`: the (last) document's tags after.
  std::uint64_t Apply(const Actor& actor, const std::vector<std::string>& doc_ids,
                      const std::vector<std::string>& add, const std::vector<std::string>& remove,
                      bool skip_unopenable, std::vector<std::string>* after);
  // One document, under the write lock (the policy is checked on the first
  // one the actor opens); the shards it touched are added to `touched`
  // (commit them). Returns whether it changed.
  bool UpdateOne(sql::Db& w, const Actor& actor, const std::string& doc_id,
                 const std::vector<std::string>& add, const std::vector<std::string>& remove,
                 bool& policy_checked, std::set<std::string>& touched,
                 std::vector<std::string>* after);
  void CheckPrivileged(sql::Db& db, const Actor& actor, const std::vector<std::string>& tags);
  RepoContext& ctx_;
};

}  // namespace dossier::repo
