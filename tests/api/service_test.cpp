// The HTTP layer without a network: parsing, sessions, throttling and the
// Service's routing, authentication and error bodies, driven with Request
// structs (the end-to-end tests drive the real listener).
#include <nlohmann/json.hpp>

#include "api/auth.h"
#include "api/http.h"
#include "api/json_body.h"
#include "api/service.h"
#include "tests/support.h"

using namespace dossier;
using namespace dossier::testing;
using nlohmann::json;

namespace {

struct Served {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(1'800'000'000);
  std::unique_ptr<Fixture> f;
  std::unique_ptr<api::Service> service;
  std::vector<std::string> log;

  explicit Served(api::ServiceOptions so = {}) {
    repo::OpenOptions o;
    o.clock = clock;
    f = std::make_unique<Fixture>(o);
    so.clock = clock;
    so.log = [this](const std::string& line) { log.push_back(line); };
    service = std::make_unique<api::Service>(*f->repo, so);
  }

  api::Response Call(const std::string& method, const std::string& target,
                     const std::string& body = "", std::map<std::string, std::string> headers = {},
                     const std::string& client = "127.0.0.1") {
    api::Request req;
    req.method = method;
    req.target = target;
    req.headers = std::move(headers);
    req.client = client;
    if (!body.empty()) {
      req.headers.emplace("content-type", "application/json");
      req.headers["content-length"] = std::to_string(body.size());
    }
    api::Prepared p = service->Prepare(req);
    req.body = body;
    if (auto busy = service->Admit(p)) return *busy;
    api::Response r = service->Handle(req, p);
    service->Decorate(req, r);
    service->Record(req, &p, r, r.body.size());
    return r;
  }

  // A bearer token and the login's JSON.
  json Login(const std::string& user, const std::string& password) {
    api::Response r = Call("POST", "/api/v1/auth/login",
                           json{{"user", user}, {"password", password}}.dump());
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  std::map<std::string, std::string> Bearer(const json& login) {
    return {{"authorization", "Bearer " + login["token"].get<std::string>()}};
  }
};

json Body(const api::Response& r) { return json::parse(r.body); }

}  // namespace

TEST_CASE("targets are decoded strictly", "[api]") {
  api::Request req;
  api::ParseTarget("/api/v1/search?q=caf%C3%A9+bar&limit=5", req);
  CHECK(req.path == "/api/v1/search");
  CHECK(req.query.at("q") == "caf\xC3\xA9 bar");
  CHECK(req.query.at("limit") == "5");
  for (const char* bad : {"/a?q=%zz", "/a?q=%4", "/a?q=1&q=2", "/a%00b", "/a?q=%C3%28", "relative",
                          "/a?q=%ED%A0%80"}) {
    CAPTURE(bad);
    CHECK(CodeOf([&] { api::ParseTarget(bad, req); }) == ErrorCode::kInvalidArgument);
  }
  CHECK(api::ValidUtf8("plain \xE2\x82\xAC"));
  CHECK_FALSE(api::ValidUtf8("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(api::ValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
}

TEST_CASE("JSON bodies are checked field by field", "[api]") {
  CHECK(api::JsonBody(R"({"user":"a","roles":["x"]})", {"user", "roles"}).StrList("roles") ==
        std::vector<std::string>{"x"});
  auto bad = [](const std::string& text) {
    return CodeOf([&] { api::JsonBody(text, {"user"}).Str("user"); });
  };
  CHECK(bad("") == ErrorCode::kInvalidArgument);
  CHECK(bad("[1]") == ErrorCode::kInvalidArgument);
  CHECK(bad("{\"user\": 5}") == ErrorCode::kInvalidArgument);
  CHECK(bad("{\"user\": \"a\", \"other\": 1}") == ErrorCode::kInvalidArgument);
  CHECK(bad("{\"user\": \"\xFF\"}") == ErrorCode::kInvalidArgument);
  CHECK(bad("{\"user\": 1e999999}") == ErrorCode::kInvalidArgument);
  CHECK(bad(std::string(100000, '[')) == ErrorCode::kInvalidArgument);
  CHECK(bad("{}") == ErrorCode::kInvalidArgument);  // required
}

TEST_CASE("sessions end when idle for 30 minutes or 12 hours after login", "[api]") {
  Fixture f;
  auto clock = std::make_shared<ManualClock>(1'000'000);
  api::SessionStore store(clock, {});
  const auto issued = store.Create(f.Ivan(), nullptr);
  CHECK(issued.token.size() == 43);  // 32 bytes, URL-safe base64
  CHECK(store.Find(issued.token, nullptr));
  std::string tampered = issued.token;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  CHECK_FALSE(store.Find(tampered, nullptr));
  // Used every 20 minutes, it lives until the absolute limit.
  for (int i = 0; i < 35; ++i) {
    clock->Advance(20 * 60);
    CHECK(store.Find(issued.token, nullptr));
  }
  clock->Advance(20 * 60);  // 12 h passed
  std::vector<repo::Session> expired;
  CHECK_FALSE(store.Find(issued.token, &expired));
  CHECK(expired.size() == 1);

  const auto idle = store.Create(f.Ivan(), nullptr);
  clock->Advance(30 * 60);
  CHECK_FALSE(store.Find(idle.token, nullptr));
  CHECK(store.size() == 0);

  const auto a = store.Create(f.Ivan(), nullptr);
  const auto b = store.Create(f.Ivan(), nullptr);
  const auto other = store.Create(f.Lena(), nullptr);
  CHECK(store.EndUser("ivan").size() == 2);
  CHECK_FALSE(store.Find(a.token, nullptr));
  CHECK_FALSE(store.Find(b.token, nullptr));
  CHECK(store.Find(other.token, nullptr));
}

TEST_CASE("one user's sessions cannot push out everyone else's", "[api]") {
  Fixture f;
  auto clock = std::make_shared<ManualClock>(1'000'000);
  api::SessionLimits limits;
  limits.max_per_user = 3;
  api::SessionStore store(clock, limits);
  const auto lena = store.Create(f.Lena(), nullptr);
  std::vector<api::SessionStore::Issued> ivan;
  std::vector<repo::Session> evicted;
  for (int i = 0; i < 5; ++i) {
    clock->Advance(1);
    ivan.push_back(store.Create(f.Ivan(), &evicted));
  }
  CHECK(evicted.size() == 2);
  CHECK(store.size() == 4);
  CHECK(store.Find(lena.token, nullptr));
  CHECK_FALSE(store.Find(ivan[0].token, nullptr));  // his oldest went first
  CHECK(store.Find(ivan[4].token, nullptr));
}

TEST_CASE("failed logins are throttled per account and address, and age out", "[api]") {
  auto clock = std::make_shared<ManualClock>(1'000'000);
  api::LoginThrottle t(clock, 100, 250);
  for (int i = 0; i < 100; ++i) t.Failed("ivan", "10.0.0.1");
  CHECK(t.Check("ivan", "10.0.0.1") > 0);
  CHECK(t.Check("ivan", "10.0.0.1") <= 3600);
  CHECK(t.Check("ivan", "10.0.0.2") == 0);  // another address may still try
  CHECK(t.Check("lena", "10.0.0.1") == 0);  // another account too
  for (int i = 0; i < 150; ++i) t.Failed("ivan", "10.0.0." + std::to_string(3 + i % 100));
  CHECK(t.Check("ivan", "10.0.0.250") > 0);  // the account's own limit, from all addresses
  clock->Advance(3601);
  CHECK(t.Check("ivan", "10.0.0.1") == 0);
  CHECK(t.Check("ivan", "10.0.0.250") == 0);
}

TEST_CASE("logins are admitted up to the slots and the queue", "[api]") {
  api::LoginGate gate(2, 1);
  auto a = gate.Admit(), b = gate.Admit(), c = gate.Admit();
  CHECK((a && b && c));
  CHECK_FALSE(gate.Admit());
  c.reset();
  CHECK(gate.Admit());
}

TEST_CASE("routes, methods and sessions are checked before any work", "[api]") {
  Served s;
  auto r = s.Call("GET", "/api/v1/nothing");
  CHECK(r.status == 404);
  CHECK(Body(r)["error"]["code"] == "no_route");
  r = s.Call("PUT", "/api/v1/cases");
  CHECK(r.status == 405);
  CHECK(*r.Find("Allow") == "GET, HEAD, POST");
  r = s.Call("GET", "/api/v1/cases");
  CHECK(r.status == 401);
  CHECK(Body(r)["error"]["code"] == "unauthenticated");
  r = s.Call("GET", "/api/v1/cases", "", {{"authorization", "Bearer not-a-token"}});
  CHECK(r.status == 401);
  CHECK(*r.Find("X-Content-Type-Options") == "nosniff");
  CHECK(*r.Find("X-Frame-Options") == "DENY");
}

TEST_CASE("what a user may not see is a 404 byte for byte like what never existed", "[api]") {
  Served s;
  const json ivan = s.Login("ivan", "ivan-password");
  const auto unknown_case = s.Call("GET", "/api/v1/cases/zzzzzzzzzzzz", "", s.Bearer(ivan));
  const auto hidden_case = s.Call("GET", "/api/v1/cases/" + s.f->legal_case, "", s.Bearer(ivan));
  const auto unknown_doc = s.Call("GET", "/api/v1/documents/nope", "", s.Bearer(ivan));
  CHECK(unknown_case.status == 404);
  CHECK(hidden_case.status == 404);
  CHECK(hidden_case.body == unknown_case.body);
  CHECK(unknown_doc.body == unknown_case.body);
  CHECK(s.Call("GET", "/api/v1/cases/" + s.f->inv_case, "", s.Bearer(ivan)).status == 200);
}

TEST_CASE("a cookie session needs the CSRF header to change anything", "[api]") {
  Served s;
  const json login = s.Login("alice", "alice-password");
  const std::string cookie = "dossier_session=" + login["token"].get<std::string>();
  const std::string body = R"({"name":"auditors"})";
  CHECK(s.Call("GET", "/api/v1/roles", "", {{"cookie", cookie}}).status == 200);
  auto r = s.Call("POST", "/api/v1/roles", body, {{"cookie", cookie}});
  CHECK(r.status == 403);
  r = s.Call("POST", "/api/v1/roles", body, {{"cookie", cookie}, {"x-csrf-token", "wrong"}});
  CHECK(r.status == 403);
  r = s.Call("POST", "/api/v1/roles", body,
             {{"cookie", cookie}, {"x-csrf-token", login["csrf_token"].get<std::string>()}});
  CHECK(r.status == 201);
  // A bearer token needs no CSRF header (no browser sends it on its own).
  CHECK(s.Call("POST", "/api/v1/roles", R"({"name":"clerks"})", s.Bearer(login)).status == 201);
}

TEST_CASE("bodies over their cap, or of the wrong type, are refused unread", "[api]") {
  Served s;
  const json alice = s.Login("alice", "alice-password");
  auto headers = s.Bearer(alice);
  headers["content-length"] = std::to_string((1 << 20) + 1);
  headers["content-type"] = "application/json";
  api::Request req;
  req.method = "POST";
  req.target = "/api/v1/roles";
  req.headers = headers;
  CHECK(s.service->Prepare(req).early->status == 413);
  req.headers["content-length"] = "10";
  req.headers["content-type"] = "text/plain";
  CHECK(s.service->Prepare(req).early->status == 400);
  req.target = "/api/v1/cases/" + s.f->inv_case + "/documents?filename=a.txt";
  req.headers["content-length"] = std::to_string((std::uint64_t{2} << 30) + 1);
  CHECK(s.service->Prepare(req).early->status == 413);
  req.method = "GET";
  req.target = "/api/v1/cases";
  req.headers["content-length"] = "5";
  CHECK(s.service->Prepare(req).early->status == 400);  // this route takes no body
}

TEST_CASE("a login reveals nothing about unknown users and is logged without secrets", "[api]") {
  Served s;
  const auto wrong = s.Call("POST", "/api/v1/auth/login", R"({"user":"ivan","password":"nope-nope"})");
  const auto unknown =
      s.Call("POST", "/api/v1/auth/login", R"({"user":"nobody","password":"nope-nope"})");
  CHECK(wrong.status == 401);
  CHECK(unknown.status == 401);
  CHECK(wrong.body == unknown.body);
  const json ok = s.Login("ivan", "ivan-password");
  CHECK(ok["roles"] == json::array({"investigator"}));
  const auto r = s.Call("GET", "/api/v1/search?q=secretword", "", s.Bearer(ok));
  CHECK(r.status == 200);
  for (const auto& line : s.log) {
    const json j = json::parse(line);
    CHECK(j.contains("route"));
    CHECK(line.find("secretword") == std::string::npos);
    CHECK(line.find("ivan-password") == std::string::npos);
    CHECK(line.find(ok["token"].get<std::string>()) == std::string::npos);
  }
}

TEST_CASE("the OpenAPI document lists every route with its methods", "[api]") {
  Served s;
  const json doc = Body(s.Call("GET", "/api/v1/openapi.json"));
  CHECK(doc["openapi"] == "3.0.3");
  std::size_t n = 0;
  for (const auto& [path, methods] : doc["paths"].items()) n += methods.size();
  CHECK(n == s.service->Routes().size());
  for (const auto& r : s.service->Routes()) {
    std::string m = r.method;
    for (auto& ch : m) ch = static_cast<char>(std::tolower(ch));
    CAPTURE(r.method, r.path);
    CHECK(doc["paths"][r.path].contains(m));
  }
}

TEST_CASE("behind a trusted proxy, throttling goes by the forwarded client address", "[api]") {
  api::ServiceOptions so;
  so.trusted_proxies = {"10.9.9.9"};
  so.throttle_per_client = 3;
  Served s(so);
  const std::string wrong = R"({"user":"ivan","password":"wrong-password"})";
  const std::string right = R"({"user":"ivan","password":"ivan-password"})";
  auto via = [&](const std::string& peer, const std::string& forwarded, const std::string& body) {
    std::map<std::string, std::string> h;
    if (!forwarded.empty()) h["x-forwarded-for"] = forwarded;
    return s.Call("POST", "/api/v1/auth/login", body, h, peer).status;
  };
  for (int i = 0; i < 3; ++i) CHECK(via("10.9.9.9", "spoofed, 192.0.2.1", wrong) == 401);
  CHECK(via("10.9.9.9", "192.0.2.1", right) == 429);  // the last hop the proxy added counts
  CHECK(via("10.9.9.9", "192.0.2.2", right) == 200);  // another client behind the proxy
  // A peer that is not the proxy cannot pick its address with the header.
  for (int i = 0; i < 3; ++i) CHECK(via("198.51.100.7", "192.0.2.9", wrong) == 401);
  CHECK(via("198.51.100.7", "192.0.2.10", right) == 429);
}
