// Private to repo/: creating a repository directory, and opening one into
// the context its services share (the lock, the schema, the server key).
#pragma once

#include <memory>
#include <string>

#include "base/fd.h"
#include "repo/context.h"

namespace dossier::repo {

InitResult InitRepository(const std::string& dir, const InitOptions& options);
// Opens `dir`; a writable open takes the write lock into `lock`.
std::unique_ptr<RepoContext> OpenContext(const std::string& dir, const OpenOptions& options,
                                         Fd* lock);
bool ServerKeyProtected(const std::string& dir);

}  // namespace dossier::repo
