// A fresh repository for a benchmark program: DIR (and its recovery key
// beside it) removed, initialised with the admin "bench" (the cheap
// password cost: benchmarks measure the work, not the key derivation),
// opened with `options`, and logged in holding ROLE.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "repo/repository.h"

namespace dossier::bench {

struct BenchRepo {
  std::unique_ptr<repo::Repository> repo;
  std::optional<repo::Session> login;
  const repo::Session& session() const { return *login; }
};

inline BenchRepo FreshBenchRepo(const std::string& dir, const std::string& role,
                                repo::OpenOptions options = {}) {
  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir + ".recovery-key");
  repo::InitOptions io;
  io.admin_user = "bench";
  io.admin_password = "bench-password-1";
  io.protect = false;
  io.cost = crypto::PasswordCost::kInteractive;
  repo::Repository::Init(dir, io);
  options.cost = crypto::PasswordCost::kInteractive;
  BenchRepo b;
  b.repo = repo::Repository::Open(dir, options);
  b.login.emplace(b.repo->Login("bench", "bench-password-1"));
  b.repo->AddRole(b.session(), role);
  b.login.emplace(b.repo->Login("bench", "bench-password-1"));  // now holding the role
  return b;
}

}  // namespace dossier::bench
