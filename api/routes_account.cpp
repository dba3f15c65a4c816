// Routes: logging in and out, the user's own account, and the admin's
// users and roles.
#include <nlohmann/json.hpp>

#include "api/json_body.h"
#include "api/qr.h"
#include "api/service_impl.h"
#include "repo/views.h"

namespace dossier::api {

namespace {

using nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string SessionCookie(const std::string& token, bool tls) {
  return std::string("dossier_session=") + token + "; Path=/; HttpOnly; SameSite=Strict" +
         (tls ? "; Secure" : "");
}

std::string ClearedCookie(bool tls) {
  return std::string("dossier_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict") +
         (tls ? "; Secure" : "");
}

// Ends every server session of `user` and logs them out of the repository.
void EndSessionsOf(Call& c, const std::string& user) { c.svc.LogOut(c.svc.sessions.EndUser(user)); }

// Runs `check` (a password or one-time code check for the session's user)
// under the login throttle: a stolen session may not guess at the
// password or the second factor any faster than a login may.
template <typename Fn>
void Throttled(Call& c, Fn&& check) {
  const std::string& user = c.session().user();
  if (const std::int64_t wait = c.svc.throttle.Check(user, c.req.client); wait > 0) {
    throw Error(ErrorCode::kRateLimited, "too many failed attempts for this account; try again later");
  }
  try {
    check();
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kUnauthenticated) c.svc.throttle.Failed(user, c.req.client);
    throw;
  }
}

Response Login(Call& c) {
  const JsonBody b(c.req.body, {"user", "password", "totp"});
  const std::string user = b.Str("user", 128);
  const std::string password = b.Str("password", 1024);
  const std::string totp = b.OptStr("totp", 16).value_or("");
  if (const std::int64_t wait = c.svc.throttle.Check(user, c.req.client); wait > 0) {
    Response r = ErrorResponse(ErrorCode::kRateLimited,
                               "too many failed logins for this account; try again later");
    r.Set("Retry-After", std::to_string(wait));
    return r;
  }
  std::optional<repo::Session> session;
  try {
    session = c.svc.repo.Login(user, password, totp);
  } catch (const Error& e) {
    // A missing second factor after the right password is not a failure;
    // everything else that refuses the login counts against the account.
    if (e.code() != ErrorCode::kSecondFactor) c.svc.throttle.Failed(user, c.req.client);
    throw;
  }
  c.svc.throttle.Succeeded(user, c.req.client);
  std::vector<repo::Session> evicted;
  const SessionStore::Issued issued = c.svc.sessions.Create(*session, &evicted);
  c.svc.LogOut(evicted);
  Response r = Json(200, Dump({{"token", issued.token},
                               {"csrf_token", issued.csrf_token},
                               {"expires_at", Rfc3339(issued.expires_at)},
                               {"user", session->user()},
                               {"roles", session->roles()},
                               {"admin", session->is_admin()}}));
  r.Set("Set-Cookie", SessionCookie(issued.token, c.req.tls));
  r.user = session->user();
  return r;
}

Response Logout(Call& c) {
  if (auto s = c.svc.sessions.End(c.match.token)) c.svc.LogOut({*s});
  Response r = NoContent();
  r.Set("Set-Cookie", ClearedCookie(c.req.tls));
  return r;
}

// What /me and /auth/session tell about a live session.
json SessionBody(const repo::UserInfo& u, const SessionStore::Found& found) {
  return {{"user", u.name},
          {"roles", u.roles},
          {"admin", u.admin},
          {"totp", u.totp},
          {"csrf_token", found.csrf_token},
          {"expires_at", Rfc3339(found.expires_at)}};
}

Response Me(Call& c) {
  const repo::UserInfo u = c.svc.repo.CurrentUser(c.session());
  std::vector<repo::Session> expired;
  auto found = c.svc.sessions.Find(c.match.token, &expired);
  c.svc.LogOut(expired);
  if (!found) throw Error(ErrorCode::kUnauthenticated, "this session has ended; log in again");
  return Json(200, Dump(SessionBody(u, *found)));
}

// The page asks this first: whether its cookie still holds a session,
// answered with 200 either way (a 401 would be a console error).
Response SessionState(Call& c) {
  std::vector<repo::Session> expired;
  auto found = c.svc.sessions.Find(TokenOf(c.req, nullptr), &expired);
  c.svc.LogOut(expired);
  if (!found || found->session.ended()) return Json(200, R"({"authenticated":false})");
  const repo::UserInfo u = c.svc.repo.CurrentUser(found->session);
  json body = SessionBody(u, *found);
  body["authenticated"] = true;
  Response r = Json(200, Dump(body));
  r.user = u.name;
  return r;
}

Response ChangePassword(Call& c) {
  const JsonBody b(c.req.body, {"old_password", "new_password"});
  Throttled(c, [&] {
    c.svc.repo.ChangePassword(c.session(), b.Str("old_password", 1024), b.Str("new_password", 1024));
  });
  EndSessionsOf(c, c.session().user());
  Response r = NoContent();
  r.Set("Set-Cookie", ClearedCookie(c.req.tls));
  return r;
}

Response BeginTotp(Call& c) {
  const repo::TotpEnrollment e = c.svc.repo.BeginTotp(c.session());
  const QrCode qr = EncodeQr(e.uri);
  return Json(200, Dump({{"secret", e.secret_base32},
                         {"uri", e.uri},
                         {"qr", {{"size", qr.size}, {"modules", qr.modules}}}}));
}

Response ConfirmTotp(Call& c) {
  const JsonBody b(c.req.body, {"code"});
  Throttled(c, [&] { c.svc.repo.ConfirmTotp(c.session(), b.Str("code", 16)); });
  return NoContent();
}

Response RemoveTotp(Call& c) {
  const JsonBody b(c.req.body, {"code"});
  Throttled(c, [&] { c.svc.repo.RemoveTotp(c.session(), b.Str("code", 16)); });
  return NoContent();
}

Response ListUsers(Call& c) { return Json(200, repo::views::Users(c.svc.repo.ListUsers(c.session()), -1)); }

Response AddUser(Call& c) {
  const JsonBody b(c.req.body, {"user", "password", "roles", "admin"});
  const std::string name = b.Str("user", 128);
  const std::vector<std::string> roles = b.StrList("roles");
  const bool admin = b.Bool("admin", false);
  c.svc.repo.AddUser(c.session(), name, b.Str("password", 1024), roles, admin);
  return Json(201, Dump({{"user", name}, {"admin", admin}, {"roles", roles}}));
}

Response DisableUser(Call& c) {
  const std::string user = c.param("user");
  c.svc.repo.DisableUser(c.session(), user);
  EndSessionsOf(c, user);
  return NoContent();
}

Response ResetPassword(Call& c) {
  const JsonBody b(c.req.body, {"new_password"});
  const std::string user = c.param("user");
  c.svc.repo.ResetPassword(c.session(), user, b.Str("new_password", 1024));
  EndSessionsOf(c, user);
  return NoContent();
}

Response ListRoles(Call& c) { return Json(200, repo::views::Roles(c.svc.repo.ListRoles(c.session()), -1)); }

Response AddRole(Call& c) {
  const JsonBody b(c.req.body, {"name", "join"});
  const std::string name = b.Str("name", 128);
  c.svc.repo.AddRole(c.session(), name, b.Bool("join", true));
  return Json(201, Dump({{"name", name}}));
}

Response AddMember(Call& c) {
  const JsonBody b(c.req.body, {"user"});
  c.svc.repo.AddMember(c.session(), c.param("role"), b.Str("user", 128));
  return NoContent();
}

Response RemoveMember(Call& c) {
  c.svc.repo.RemoveMember(c.session(), c.param("role"), c.param("user"));
  return NoContent();
}

}  // namespace

void AddAccountRoutes(std::vector<Route>& r) {
  using B = BodyKind;
  using L = Lane;
  r.push_back({"POST", "/api/v1/auth/login", B::kJson, L::kLogin, false,
               "Log in: {user, password, totp?} -> {token, csrf_token, expires_at, user, roles, admin}",
               Login});
  r.push_back({"POST", "/api/v1/auth/logout", B::kNone, L::kQuery, true, "End this session", Logout});
  r.push_back({"GET", "/api/v1/auth/session", B::kNone, L::kQuery, false,
               "Whether this request carries a live session: {authenticated, user?, roles?, ...}",
               SessionState});
  r.push_back({"GET", "/api/v1/me", B::kNone, L::kQuery, true,
               "The session's user: {user, roles, admin, totp, csrf_token, expires_at}", Me});
  r.push_back({"POST", "/api/v1/me/password", B::kJson, L::kLogin, true,
               "Change your password: {old_password, new_password}; ends all your sessions",
               ChangePassword});
  r.push_back({"POST", "/api/v1/me/totp", B::kNone, L::kQuery, true,
               "Start enrolling a second factor: {secret, uri, qr: {size, modules}}", BeginTotp});
  r.push_back({"POST", "/api/v1/me/totp/confirm", B::kJson, L::kQuery, true,
               "Finish enrolling: {code}", ConfirmTotp});
  r.push_back({"DELETE", "/api/v1/me/totp", B::kJson, L::kQuery, true,
               "Remove the second factor: {code}", RemoveTotp});
  r.push_back({"GET", "/api/v1/users", B::kNone, L::kQuery, true, "Admin: every user", ListUsers});
  r.push_back({"POST", "/api/v1/users", B::kJson, L::kLogin, true,
               "Admin: a new user {user, password, roles, admin?}", AddUser});
  r.push_back({"POST", "/api/v1/users/{user}/disable", B::kNone, L::kQuery, true,
               "Admin: disable a user (leaves every role; sessions end)", DisableUser});
  r.push_back({"POST", "/api/v1/users/{user}/password", B::kJson, L::kLogin, true,
               "Admin holding the user's roles: reset a forgotten password {new_password}",
               ResetPassword});
  r.push_back({"GET", "/api/v1/roles", B::kNone, L::kQuery, true, "Admin: every role and its members",
               ListRoles});
  r.push_back({"POST", "/api/v1/roles", B::kJson, L::kQuery, true,
               "Admin: a new role {name, join?}", AddRole});
  r.push_back({"POST", "/api/v1/roles/{role}/members", B::kJson, L::kQuery, true,
               "Admin holding the role: add a member {user}", AddMember});
  r.push_back({"DELETE", "/api/v1/roles/{role}/members/{user}", B::kNone, L::kQuery, true,
               "Admin holding the role: remove a member (the role's keys rotate)", RemoveMember});
}

}  // namespace dossier::api
