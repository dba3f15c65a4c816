#include "repo/links.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "crypto/envelope.h"
#include "indexer/entities.h"
#include "repo/cases.h"
#include "repo/documents.h"
#include "repo/key_ring.h"
#include "repo/sealed_json.h"

namespace dossier::repo {

namespace {

constexpr std::size_t kHashBytes = 16;
constexpr std::size_t kEvidenceDocs = 5;       // per entity and case
constexpr std::size_t kSharedShown = 20;       // entities explained per link
constexpr std::size_t kIncomingShown = 20;
constexpr std::size_t kStopsShown = 50;
constexpr std::size_t kMaxWhy = 2000;
constexpr std::size_t kGraphCases = 60;
constexpr std::size_t kGraphLinksPerCase = 8;

std::string LinkAd(const std::string& a, const std::string& b) {
  return "dossier.link.v1|" + a + "|" + b;
}

std::string MetaOr(sql::Db& db, const char* key, const std::string& fallback) {
  sql::Stmt s(db, "SELECT value FROM meta WHERE key=?");
  s.Bind(1, std::string(key));
  if (!s.Step() || s.SizeOf(0) > 64) return fallback;
  const auto b = s.Blob(0);
  return std::string(b.begin(), b.end());
}

LinkSettings ReadSettings(sql::Db& db) {
  LinkSettings s;
  auto number = [&](const char* key, std::uint32_t fallback) {
    const std::string v = MetaOr(db, key, "");
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
      return fallback;
    }
    return static_cast<std::uint32_t>(std::stoul(v));
  };
  s.stop_threshold = number("link_stop_threshold", s.stop_threshold);
  s.notices_per_hour = number("link_notices_per_hour", s.notices_per_hour);
  const std::string policy = MetaOr(db, "link_deconfliction", s.deconfliction);
  s.deconfliction = policy == "none" ? "none" : "notice";
  const std::string region = MetaOr(db, "phone_region", s.phone_region);
  if (indexer::IsPhoneRegion(region)) s.phone_region = region;
  return s;
}

// The shards whose documents the actor may open.
std::vector<std::string> VisibleShards(sql::Db& db, const Actor& actor) {
  std::vector<std::string> out;
  sql::Stmt st(db, "SELECT id, access_set FROM shards ORDER BY id");
  while (st.Step()) {
    const std::string id = col::Id(st, 0, col::IdKind::kShard, "a shard id");
    if (actor.HoldsAny(col::Set(st, 1, "a shard's access set"))) out.push_back(id);
  }
  return out;
}

std::string Placeholders(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += i ? ",?" : "?";
  return s;
}

// Rarity across the cases the viewer may open: 1 for an entity two cases
// share, falling slowly as more cases hold it.
double Rarity(std::size_t cases) { return 1.0 / std::log2(static_cast<double>(std::max<std::size_t>(cases, 2))); }

std::string Joined(const std::set<std::string>& s) {
  std::string out;
  for (const auto& t : s) out += (out.empty() ? "" : ",") + t;
  return out;
}

std::set<std::string> Split(const std::string& s) {
  std::set<std::string> out;
  std::size_t at = 0;
  while (at < s.size()) {
    std::size_t next = s.find(',', at);
    if (next == std::string::npos) next = s.size();
    if (next > at) out.insert(s.substr(at, next - at));
    at = next + 1;
  }
  return out;
}

// What one viewer may see of the entity tables, over one read connection.
class View {
 public:
  View(RepoContext& ctx, sql::Db& db, const Actor& actor)
      : ctx_(ctx), db_(db), actor_(actor), shards_(VisibleShards(db, actor)),
        visible_set_(shards_.begin(), shards_.end()) {
    sql::Stmt st(db, "SELECT id FROM shards ORDER BY id");
    while (st.Step()) {
      std::string id = st.Text(0);
      if (!visible_set_.count(id)) hidden_shards_.push_back(std::move(id));
    }
  }

  struct Held {
    std::string type;
    std::uint64_t docs = 0;
  };
  // The entity hashes of a case's documents the viewer may open.
  std::map<crypto::Bytes, Held> HashesOf(const std::string& case_id) {
    std::map<crypto::Bytes, Held> out;
    sql::Stmt st(db_, "SELECT hash, type, docs FROM entity_cases WHERE case_id=? AND shard_id=?");
    for (const auto& shard : shards_) {
      st.Reset();
      st.Bind(1, case_id).Bind(2, shard);
      while (st.Step()) {
        Held& h = out[st.Blob(0)];
        h.type = st.Text(1);
        h.docs += static_cast<std::uint64_t>(st.Int(2));
      }
    }
    return out;
  }
  // The cases the viewer may open documents of that hold `hash`, at most
  // `cap` of them (cap = threshold + 1 tells a stop-entity apart).
  std::set<std::string> Holders(const crypto::Bytes& hash, std::size_t cap) {
    std::set<std::string> out;
    sql::Stmt st(db_, "SELECT case_id FROM entity_cases WHERE hash=? AND shard_id=? LIMIT ?");
    for (const auto& shard : shards_) {
      st.Reset();
      st.Bind(1, hash).Bind(2, shard).Bind(3, static_cast<std::int64_t>(cap));
      while (st.Step()) out.insert(st.Text(0));
      if (out.size() >= cap) break;
    }
    return out;
  }
  // The cases the viewer may not open at all that hold `hash` (at most
  // `cap`): documents kept from the viewer inside a case the viewer may
  // open make no notice.
  std::set<std::string> HiddenHolders(const crypto::Bytes& hash, std::size_t cap) {
    std::set<std::string> out;
    sql::Stmt st(db_, "SELECT case_id FROM entity_cases WHERE hash=? AND shard_id=? LIMIT ?");
    for (const auto& shard : hidden_shards_) {
      st.Reset();
      st.Bind(1, hash).Bind(2, shard).Bind(3, static_cast<std::int64_t>(cap));
      while (st.Step()) {
        std::string c = st.Text(0);
        if (!CaseOpens(c)) out.insert(std::move(c));
      }
      if (out.size() >= cap) break;
    }
    return out;
  }
  bool CaseOpens(const std::string& case_id) {
    auto it = case_opens_.find(case_id);
    if (it != case_opens_.end()) return it->second;
    const bool opens = actor_.HoldsAny(CaseRoles(db_, case_id));
    case_opens_.emplace(case_id, opens);
    return opens;
  }
  bool Stopped(const crypto::Bytes& hash) {
    sql::Stmt st(db_, "SELECT 1 FROM stop_entities WHERE hash=?");
    st.Bind(1, hash);
    return st.Step();
  }
  // Documents of the case the viewer may open that hold `hash`.
  std::vector<std::string> Documents(const crypto::Bytes& hash, const std::string& case_id, std::size_t n) {
    std::vector<std::string> out;
    if (shards_.empty()) return out;
    sql::Stmt st(db_,
                 "SELECT p.doc_id FROM entity_postings p JOIN documents d ON d.id = p.doc_id "
                 "WHERE p.hash=? AND p.case_id=? AND d.status != 'pending' AND p.shard_id IN (" +
                     Placeholders(shards_.size()) + ") ORDER BY d.created_at, p.doc_id LIMIT ?");
    st.Bind(1, hash).Bind(2, case_id);
    int i = 3;
    for (const auto& s : shards_) st.Bind(i++, s);
    st.Bind(i, static_cast<std::int64_t>(n));
    while (st.Step()) out.push_back(st.Text(0));
    return out;
  }
  // One document's entities by hash (opened once), with its filename.
  struct Opened {
    std::string filename;
    std::map<crypto::Bytes, DocumentEntity> by_hash;
  };
  const Opened* Open(const std::string& doc_id) {
    auto it = opened_.find(doc_id);
    if (it != opened_.end()) return it->second ? &*it->second : nullptr;
    std::optional<Opened> o;
    try {
      const OpenedDocument doc = OpenDocument(db_, actor_, doc_id);
      const DocumentInfo info = InfoOf(doc);
      o.emplace();
      o->filename = info.filename;
      for (const auto& e : info.entities) o->by_hash.emplace(LinkKey(ctx_, e.type, e.value, e.weight).second, e);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
    }
    auto [at, _] = opened_.emplace(doc_id, std::move(o));
    return at->second ? &*at->second : nullptr;
  }
  // The value of a hash as a document of the case shows it ("" if none).
  std::string ValueOf(const crypto::Bytes& hash, const std::string& case_id) {
    for (const auto& id : Documents(hash, case_id, 3)) {
      if (const Opened* o = Open(id)) {
        auto e = o->by_hash.find(hash);
        if (e != o->by_hash.end()) return e->second.value;
      }
    }
    return "";
  }
  std::vector<LinkEvidence> Evidence(const crypto::Bytes& hash, const std::string& case_id) {
    std::vector<LinkEvidence> out;
    for (const auto& id : Documents(hash, case_id, kEvidenceDocs)) {
      const Opened* o = Open(id);
      if (!o) continue;
      LinkEvidence ev;
      ev.doc_id = id;
      ev.filename = o->filename;
      if (auto e = o->by_hash.find(hash); e != o->by_hash.end()) ev.offsets = e->second.offsets;
      out.push_back(std::move(ev));
    }
    return out;
  }
  bool Empty() const { return shards_.empty(); }

 private:
  RepoContext& ctx_;
  sql::Db& db_;
  const Actor& actor_;
  std::vector<std::string> shards_;
  std::set<std::string> visible_set_;
  std::vector<std::string> hidden_shards_;
  std::map<std::string, bool> case_opens_;
  std::map<std::string, std::optional<Opened>> opened_;
};

// The type a user reads: capitalised-words names are names.
std::string Shown(const std::string& link_type) { return link_type == "cname" ? "name" : link_type; }

int StateRank(const std::string& state) {
  if (state == "confirmed") return 0;
  if (state == "added") return 1;
  if (state == "suggested") return 2;
  return 3;
}

std::vector<std::string> RoleNames(sql::Db& db, const std::string& case_id) {
  std::vector<std::string> out;
  for (RoleId r : CaseRoles(db, case_id)) out.push_back(RoleNameOf(db, r));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string RepositoryPhoneRegion(sql::Db& db) { return ReadSettings(db).phone_region; }

std::string PhoneRegionFor(sql::Db& db, const Actor& actor, const std::string& case_id) {
  const std::string own = CaseRegion(db, actor, case_id);
  return own.empty() ? RepositoryPhoneRegion(db) : own;
}

crypto::Bytes EntityHash(const RepoContext& ctx, const std::string& type, const std::string& value) {
  const std::string h = ctx.entities->Hash(type + ":" + value, kHashBytes);
  return crypto::Bytes(h.begin(), h.end());
}

std::pair<std::string, crypto::Bytes> LinkKey(const RepoContext& ctx, const std::string& type,
                                              const std::string& value, double weight) {
  // A name found only as capitalised words (weight < 1) is another, weaker
  // entity than a watchlist name: it links only to the same capitalised
  // words, at a lower weight.
  if (type == "name" && weight < 1.0) return {"cname", EntityHash(ctx, "cname", value)};
  return {type, EntityHash(ctx, type, value)};
}

double LinkTypeWeight(const std::string& type) {
  // Identifiers issued to one holder weigh most; shared infrastructure
  // (addresses, domains) and loose values less; a date says nothing.
  static const std::map<std::string, double> weights = {
      {"iban", 1.0}, {"card", 1.0},  {"btc", 1.0}, {"eth", 1.0},    {"phone", 0.9},
      {"email", 0.9}, {"name", 0.6}, {"ip", 0.5},  {"url", 0.4},     {"domain", 0.3},
      {"money", 0.1}, {"cname", 0.15}, {"date", 0.0}};
  auto it = weights.find(type);
  return it == weights.end() ? 0.0 : it->second;
}

EntityPostings::EntityPostings(const RepoContext& ctx, sql::Db& w)
    : ctx_(ctx),
      w_(w),
      ins_(w,
           "INSERT OR IGNORE INTO entity_postings(hash, doc_id, case_id, shard_id, type) "
           "VALUES(?, ?, ?, ?, ?)") {}

void EntityPostings::Add(const std::string& doc_id, const std::string& case_id,
                         const std::string& shard_id, const std::vector<DocumentEntity>& entities) {
  for (const auto& e : entities) {
    if (!indexer::EntityTypeFromName(e.type) || e.value.empty() ||
        e.value.size() > indexer::kMaxEntityValueBytes || LinkTypeWeight(e.type) == 0) {
      continue;
    }
    auto [link_type, hash] = LinkKey(ctx_, e.type, e.value, e.weight);
    ins_.Reset();
    ins_.Bind(1, hash).Bind(2, doc_id).Bind(3, case_id).Bind(4, shard_id).Bind(5, link_type);
    ins_.Run();
    if (w_.Changes() == 0) continue;  // posted already
    auto& count = counts_[{std::move(hash), shard_id, case_id}];
    if (count.first.empty()) count.first = std::move(link_type);
    ++count.second;
  }
}

void EntityPostings::Finish() {
  sql::Stmt up(w_,
               "INSERT INTO entity_cases(hash, shard_id, case_id, type, docs) VALUES(?, ?, ?, ?, ?) "
               "ON CONFLICT(hash, shard_id, case_id) DO UPDATE SET docs = docs + excluded.docs");
  for (const auto& [key, count] : counts_) {
    up.Reset();
    up.Bind(1, std::get<0>(key)).Bind(2, std::get<1>(key)).Bind(3, std::get<2>(key));
    up.Bind(4, count.first).Bind(5, count.second).Run();
  }
  counts_.clear();
}

namespace {

// One of the case's entities that links no more, as the viewer sees it.
StopEntity StopOf(sql::Db& db, View& view, const crypto::Bytes& hash, const std::string& type,
                  const std::string& case_id, std::size_t cases, bool manual) {
  StopEntity s;
  s.type = type;
  s.manual = manual;
  s.cases = cases;
  s.value = view.ValueOf(hash, case_id);
  if (manual) {
    sql::Stmt st(db, "SELECT set_by, set_at FROM stop_entities WHERE hash=?");
    st.Bind(1, hash);
    if (st.Step()) {
      s.set_by = st.Text(0);
      s.set_at = st.Text(1);
    }
  }
  return s;
}

// A decision on one of a case's links.
struct Decision {
  std::string state, by, at, why;
  std::set<std::string> types;
};

// Decisions on a case's links, for the other cases the viewer may open.
std::map<std::string, Decision> ReadDecisions(sql::Db& db, const Actor& actor, View& view,
                                              const std::string& case_id) {
  std::map<std::string, Decision> decisions;
  sql::Stmt d(db,
              "SELECT case_a, case_b, state, types, set_by, set_at, sealed_why FROM case_links "
              "WHERE case_a=?1 OR case_b=?1");
  d.Bind(1, case_id);
  while (d.Step()) {
    const std::string a = d.Text(0), b = d.Text(1);
    const std::string other = a == case_id ? b : a;
    if (!view.CaseOpens(other)) continue;
    Decision dec;
    dec.state = d.Text(2);
    dec.types = Split(d.Text(3));
    dec.by = d.Text(4);
    dec.at = d.Text(5);
    const crypto::SecretBytes key = OpenCaseKey(db, actor, a);
    dec.why = JsonString(OpenJson(crypto::DeriveDataSubkey(key, crypto::DataKeyUse::kMeta),
                                  LinkAd(a, b), d.Blob(6)),
                         "why");
    decisions.emplace(other, std::move(dec));
  }
  return decisions;
}

// Incoming notices: who was told that this case shares entities with theirs.
std::vector<LinkNotice> IncomingNotices(sql::Db& db, const std::string& case_id) {
  std::vector<LinkNotice> out;
  sql::Stmt in(db,
               "SELECT user_name, shared, types, at, from_case FROM link_notices WHERE to_case=? "
               "ORDER BY at DESC, id DESC LIMIT ?");
  in.Bind(1, case_id).Bind(2, static_cast<std::int64_t>(kIncomingShown));
  while (in.Step()) {
    LinkNotice n;
    n.incoming = true;
    n.user = in.Text(0);
    n.shared = static_cast<std::uint64_t>(in.Int(1));
    const auto types = Split(in.Text(2));
    n.types.assign(types.begin(), types.end());
    n.at = Rfc3339(in.Int(3));
    n.contact = RoleNames(db, in.Text(4));
    out.push_back(std::move(n));
  }
  return out;
}

// A case the viewer may not open that shares entities with the viewer's.
struct Hidden {
  std::uint64_t shared = 0;
  std::set<std::string> types;
  bool given = false;  // this notice was given to this user before
  std::vector<std::string> contact;
};

// Outgoing notices, each recorded once for the restricted case's roles,
// at most notices_per_hour new ones per user (the rest count in *withheld).
std::vector<LinkNotice> GiveNotices(RepoContext& ctx, const Actor& actor, const std::string& case_id,
                                    const LinkSettings& settings, const std::map<std::string, Hidden>& hidden,
                                    std::uint64_t* withheld) {
  std::vector<LinkNotice> outgoing;
  auto show = [&](const Hidden& h) {
    LinkNotice n;
    n.shared = h.shared;
    n.types.assign(h.types.begin(), h.types.end());
    n.contact = h.contact;
    outgoing.push_back(std::move(n));
  };
  const bool fresh = std::any_of(hidden.begin(), hidden.end(), [](const auto& e) { return !e.second.given; });
  if (fresh && !ctx.writable) {
    for (const auto& [c, h] : hidden) {
      if (h.given) show(h);
      else ++*withheld;
    }
  } else if (fresh) {
    auto w = ctx.db->Write();
    sql::Transaction t(*w);
    const std::int64_t now = ctx.Now();
    sql::Stmt seen(*w,
                   "SELECT 1 FROM link_notices WHERE from_case=? AND to_case=? AND user_id=? AND "
                   "shared=? AND types=?");
    sql::Stmt recent(*w, "SELECT COUNT(*) FROM link_notices WHERE user_id=? AND at > ?");
    recent.Bind(1, actor.user_id()).Bind(2, now - 3600);
    std::int64_t given = recent.Step() ? recent.Int(0) : 0;
    sql::Stmt ins(*w,
                  "INSERT INTO link_notices(user_id, user_name, from_case, to_case, shared, types, at) "
                  "VALUES(?, ?, ?, ?, ?, ?, ?)");
    for (const auto& [c, h] : hidden) {
      const std::string types = Joined(h.types);
      seen.Reset();
      seen.Bind(1, case_id).Bind(2, c).Bind(3, actor.user_id())
          .Bind(4, static_cast<std::int64_t>(h.shared)).Bind(5, types);
      if (!seen.Step()) {  // checked again under the write lock
        if (given >= settings.notices_per_hour) {
          ++*withheld;
          continue;
        }
        ins.Reset();
        ins.Bind(1, actor.user_id()).Bind(2, actor.name()).Bind(3, case_id).Bind(4, c)
            .Bind(5, static_cast<std::int64_t>(h.shared)).Bind(6, types).Bind(7, now);
        ins.Run();
        ++given;
        ctx.events.Changed(*w, EventKind::kLinkNotice, actor.name(), c);
      }
      show(h);
    }
    t.Commit();
  } else {
    for (const auto& [c, h] : hidden) show(h);
  }
  // In an order that says nothing of the hidden cases' ids.
  std::sort(outgoing.begin(), outgoing.end(), [](const LinkNotice& x, const LinkNotice& y) {
    return std::tie(y.shared, x.types, x.contact) < std::tie(x.shared, y.types, y.contact);
  });
  return outgoing;
}

}  // namespace

CaseLinks LinkService::Links(const Actor& actor, const std::string& case_id, std::uint32_t limit,
                             bool with_notices) {
  if (limit == 0 || limit > 500) throw Error(ErrorCode::kInvalidArgument, "limit is 1-500");
  CaseLinks out;
  out.case_id = case_id;
  std::map<std::string, Hidden> hidden;
  {
    auto db = ctx_.db->Read();
    sql::ReadTransaction snapshot(*db);
    RequireCaseVisible(*db, actor, case_id);
    out.settings = ReadSettings(*db);
    const std::size_t threshold = out.settings.stop_threshold;
    View view(ctx_, *db, actor);
    const auto mine = view.HashesOf(case_id);

    struct Pending {
      double score = 0;
      std::vector<std::pair<double, crypto::Bytes>> shared;
      std::set<std::string> types;
    };
    std::map<std::string, Pending> found;
    std::map<crypto::Bytes, std::pair<std::string, std::size_t>> entity_info;  // type, cases
    for (const auto& [hash, held] : mine) {
      const bool manual = view.Stopped(hash);
      const std::set<std::string> holders = view.Holders(hash, threshold + 1);
      if (manual || holders.size() > threshold) {
        if (out.stop_entities.size() < kStopsShown) {
          out.stop_entities.push_back(StopOf(*db, view, hash, Shown(held.type), case_id, holders.size(), manual));
        }
        continue;
      }
      const double w = LinkTypeWeight(held.type) * Rarity(holders.size());
      entity_info[hash] = {held.type, holders.size()};
      for (const auto& other : holders) {
        if (other == case_id) continue;
        Pending& p = found[other];
        p.score += w;
        p.shared.emplace_back(w, hash);
        p.types.insert(Shown(held.type));
      }
      if (with_notices && out.settings.deconfliction == "notice") {
        const std::set<std::string> restricted = view.HiddenHolders(hash, threshold + 1);
        if (restricted.size() + holders.size() <= threshold) {
          for (const auto& c : restricted) {
            ++hidden[c].shared;
            hidden[c].types.insert(Shown(held.type));
          }
        }
      }
    }

    const std::map<std::string, Decision> decisions = ReadDecisions(*db, actor, view, case_id);

    std::vector<CaseLink> links;
    auto add_link = [&](const std::string& other, const Pending* p) {
      CaseLink l;
      l.case_id = other;
      l.state = "suggested";
      if (p) l.score = p->score;
      if (auto dec = decisions.find(other); dec != decisions.end()) {
        l.state = dec->second.state;
        l.decided_by = dec->second.by;
        l.decided_at = dec->second.at;
        l.why = dec->second.why;
        if (l.state == "rejected" && p) {
          for (const auto& t : p->types) {
            if (!dec->second.types.count(t)) {
              l.state = "suggested";
              l.reopened = true;
            }
          }
        }
      }
      links.push_back(std::move(l));
    };
    for (auto& [other, p] : found) {
      // Summed in an order fixed by the weights alone (the hashes, and so
      // the map's order, differ between repositories).
      std::vector<double> ws;
      for (const auto& [w, hash] : p.shared) ws.push_back(w);
      std::sort(ws.begin(), ws.end());
      p.score = 0;
      for (double w : ws) p.score += w;
      add_link(other, &p);
    }
    for (const auto& [other, dec] : decisions) {
      if (!found.count(other)) add_link(other, nullptr);
    }
    std::sort(links.begin(), links.end(), [](const CaseLink& x, const CaseLink& y) {
      const int rx = StateRank(x.state), ry = StateRank(y.state);
      if (rx != ry) return rx < ry;
      if (x.score != y.score) return x.score > y.score;
      return x.case_id < y.case_id;
    });
    if (links.size() > limit) links.resize(limit);
    CaseService cases(ctx_);
    for (auto& l : links) {
      l.title = cases.Get(actor, l.case_id).title;
      auto p = found.find(l.case_id);
      if (p == found.end()) continue;
      auto shared = p->second.shared;
      std::sort(shared.begin(), shared.end(), [](const auto& x, const auto& y) {
        return x.first != y.first ? x.first > y.first : x.second < y.second;
      });
      if (shared.size() > kSharedShown) shared.resize(kSharedShown);
      for (const auto& [w, hash] : shared) {
        SharedEntity e;
        e.type = Shown(entity_info[hash].first);
        e.cases = entity_info[hash].second;
        e.weight = w;
        e.here = view.Evidence(hash, case_id);
        e.there = view.Evidence(hash, l.case_id);
        e.value = view.ValueOf(hash, case_id);
        l.shared.push_back(std::move(e));
      }
    }
    out.links = std::move(links);

    // Which of the outgoing notices this user was given already (those
    // cost nothing more and need no write).
    sql::Stmt seen(*db,
                   "SELECT 1 FROM link_notices WHERE from_case=? AND to_case=? AND user_id=? AND "
                   "shared=? AND types=?");
    for (auto& [c, h] : hidden) {
      seen.Reset();
      seen.Bind(1, case_id).Bind(2, c).Bind(3, actor.user_id())
          .Bind(4, static_cast<std::int64_t>(h.shared)).Bind(5, Joined(h.types));
      h.given = seen.Step();
      h.contact = RoleNames(*db, c);
    }

    out.notices = IncomingNotices(*db, case_id);
  }

  if (!hidden.empty()) {
    const auto outgoing = GiveNotices(ctx_, actor, case_id, out.settings, hidden, &out.notices_withheld);
    out.notices.insert(out.notices.begin(), outgoing.begin(), outgoing.end());
  }
  ctx_.events.Read(EventKind::kLinksRead, actor.name(), case_id);
  return out;
}

void LinkService::Decide(const Actor& actor, const std::string& case_id, const std::string& other,
                         const std::string& decision, const std::string& why) {
  ctx_.RequireWritable();
  static const std::map<std::string, std::string> states = {
      {"confirm", "confirmed"}, {"reject", "rejected"}, {"add", "added"}, {"clear", ""}};
  auto st = states.find(decision);
  if (st == states.end()) {
    throw Error(ErrorCode::kInvalidArgument, "a decision is confirm, reject, add or clear");
  }
  if (st->second.empty() == false && why.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "say why (a few words the next investigator reads)");
  }
  if (why.size() > kMaxWhy) throw Error(ErrorCode::kInvalidArgument, "why is at most 2,000 bytes");
  if (case_id == other) throw Error(ErrorCode::kInvalidArgument, "a case does not link to itself");
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  RequireCaseVisible(*w, actor, case_id);
  RequireCaseVisible(*w, actor, other);
  const std::string& a = std::min(case_id, other);
  const std::string& b = std::max(case_id, other);
  if (st->second.empty()) {
    sql::Stmt del(*w, "DELETE FROM case_links WHERE case_a=? AND case_b=?");
    del.Bind(1, a).Bind(2, b).Run();
  } else {
    // The types the two cases share now, as this viewer sees them: a
    // rejected link comes back when a type not among them appears.
    View view(ctx_, *w, actor);
    const auto here = view.HashesOf(case_id);
    const auto there = view.HashesOf(other);
    std::set<std::string> types;
    for (const auto& [hash, held] : here) {
      if (there.count(hash)) types.insert(Shown(held.type));
    }
    const crypto::SecretBytes key = OpenCaseKey(*w, actor, a);
    const crypto::Bytes sealed =
        SealJson(crypto::DeriveDataSubkey(key, crypto::DataKeyUse::kMeta), LinkAd(a, b), {{"why", why}});
    sql::Stmt ins(*w,
                  "INSERT OR REPLACE INTO case_links(case_a, case_b, state, types, set_by, set_at, "
                  "sealed_why) VALUES(?, ?, ?, ?, ?, ?, ?)");
    ins.Bind(1, a).Bind(2, b).Bind(3, st->second).Bind(4, Joined(types)).Bind(5, actor.name())
        .Bind(6, ctx_.NowText()).Bind(7, sealed).Run();
  }
  ctx_.events.Changed(*w, EventKind::kLinkDecided, actor.name(), a + " " + b);
  t.Commit();
}

void LinkService::SetStop(const Actor& actor, const std::string& type, const std::string& value,
                          bool stop) {
  ctx_.RequireWritable();
  const auto t = indexer::EntityTypeFromName(type);
  if (!t) throw Error(ErrorCode::kInvalidArgument, "unknown entity type '" + type + "'");
  const auto normal = indexer::NormalizeEntity(*t, value);
  if (!normal) throw Error(ErrorCode::kInvalidArgument, "'" + value + "' is not a valid " + type);
  // A name stops both as a watchlist name and as capitalised words.
  std::vector<std::pair<std::string, crypto::Bytes>> keys = {LinkKey(ctx_, type, *normal, 1.0)};
  if (type == "name") keys.push_back(LinkKey(ctx_, type, *normal, 0.0));
  auto w = ctx_.db->Write();
  sql::Transaction txn(*w);
  {
    // Only someone who can see the entity may stop it from linking.
    const auto shards = VisibleShards(*w, actor);
    bool seen = false;
    sql::Stmt st(*w, "SELECT 1 FROM entity_cases WHERE hash=? AND shard_id=? LIMIT 1");
    for (const auto& s : shards) {
      for (const auto& [t, hash] : keys) {
        st.Reset();
        st.Bind(1, hash).Bind(2, s);
        seen = seen || st.Step();
      }
    }
    if (!seen) throw Error(ErrorCode::kNotFound, "no document you can open holds this entity");
  }
  sql::Stmt ins(*w, "INSERT OR REPLACE INTO stop_entities(hash, type, set_by, set_at) VALUES(?, ?, ?, ?)");
  sql::Stmt del(*w, "DELETE FROM stop_entities WHERE hash=?");
  for (const auto& [t, hash] : keys) {
    if (stop) {
      ins.Reset();
      ins.Bind(1, hash).Bind(2, t).Bind(3, actor.name()).Bind(4, ctx_.NowText()).Run();
    } else {
      del.Reset();
      del.Bind(1, hash).Run();
    }
  }
  ctx_.events.Changed(*w, EventKind::kStopEntitySet, actor.name(), type);
  txn.Commit();
}

LinkGraph LinkService::Graph(const Actor& actor, const std::string& case_id, int depth) {
  if (depth < 1 || depth > 3) throw Error(ErrorCode::kInvalidArgument, "depth is 1-3");
  LinkGraph g;
  std::map<std::string, int> level{{case_id, 0}};
  std::vector<std::string> frontier{case_id};
  std::map<std::pair<std::string, std::string>, std::string> entity_ids;  // (type, value) -> node
  std::set<std::pair<std::string, std::string>> edges;
  auto add_case = [&](const std::string& id, const std::string& title, bool root) {
    g.nodes.push_back({"case:" + id, "case", title, root ? "root" : "", id});
  };
  bool root_added = false;
  for (int d = 0; d < depth && !frontier.empty(); ++d) {
    std::vector<std::string> next;
    for (const auto& c : frontier) {
      const CaseLinks links = Links(actor, c, kGraphLinksPerCase, false);
      if (!root_added) {
        add_case(c, CaseService(ctx_).Get(actor, c).title, true);
        root_added = true;
      }
      for (const auto& l : links.links) {
        if (l.state == "rejected") continue;
        if (!level.count(l.case_id)) {
          if (level.size() >= kGraphCases) {
            g.truncated = true;
            continue;
          }
          level[l.case_id] = d + 1;
          add_case(l.case_id, l.title, false);
          next.push_back(l.case_id);
        }
        if (l.state == "confirmed" || l.state == "added") {
          const auto key = std::minmax(c, l.case_id);
          if (edges.insert({"link:" + key.first, key.second}).second) {
            g.edges.push_back({"case:" + c, "case:" + l.case_id, l.score, "link"});
          }
        }
        for (const auto& e : l.shared) {
          auto [it, fresh] = entity_ids.emplace(std::make_pair(e.type, e.value),
                                                "entity:" + std::to_string(entity_ids.size() + 1));
          if (fresh) g.nodes.push_back({it->second, "entity", e.value, e.type, ""});
          for (const auto& holder : {c, l.case_id}) {
            if (edges.insert({"case:" + holder, it->second}).second) {
              g.edges.push_back({"case:" + holder, it->second, e.weight, "holds"});
            }
          }
        }
      }
    }
    frontier = std::move(next);
  }
  return g;
}

LinkSettings LinkService::Settings() {
  auto db = ctx_.db->Read();
  return ReadSettings(*db);
}

void LinkService::SetSettings(const Actor& actor, const LinkSettings& s) {
  ctx_.RequireWritable();
  actor.RequireAdmin();
  if (s.stop_threshold < 2 || s.stop_threshold > 100000) {
    throw Error(ErrorCode::kInvalidArgument, "the stop threshold is 2-100000 cases");
  }
  if (s.deconfliction != "notice" && s.deconfliction != "none") {
    throw Error(ErrorCode::kInvalidArgument, "deconfliction is notice or none");
  }
  if (s.notices_per_hour > 100000) throw Error(ErrorCode::kInvalidArgument, "at most 100000 notices an hour");
  if (!indexer::IsPhoneRegion(s.phone_region)) {
    throw Error(ErrorCode::kInvalidArgument, "'" + s.phone_region + "' is not a region code (ES, PT, IT, …)");
  }
  auto w = ctx_.db->Write();
  sql::Transaction t(*w);
  SetMeta(*w, "link_stop_threshold", std::to_string(s.stop_threshold));
  SetMeta(*w, "link_deconfliction", s.deconfliction);
  SetMeta(*w, "link_notices_per_hour", std::to_string(s.notices_per_hour));
  SetMeta(*w, "phone_region", s.phone_region);
  ctx_.events.Changed(*w, EventKind::kLinkSettings, actor.name(), "links");
  t.Commit();
}

}  // namespace dossier::repo
