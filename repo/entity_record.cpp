#include "repo/entity_record.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <utility>

#include "repo/sealed_json.h"

namespace dossier::repo {

std::vector<DocumentEntity> StoredEntities(const std::vector<indexer::Entity>& found) {
  // Keyed by views into `found`, in the stored order (type, then value):
  // no string is copied until an entry is made.
  struct Seen {
    std::uint64_t count = 0;
    double weight = 0;
    std::vector<std::string_view> fields;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> offsets;
  };
  std::map<std::pair<indexer::EntityType, std::string_view>, Seen> by_value;
  for (const auto& e : found) {
    const auto key = std::make_pair(e.type, std::string_view(e.value));
    auto it = by_value.find(key);
    if (it == by_value.end()) {
      if (by_value.size() >= kMaxStoredEntities) continue;
      it = by_value.emplace(key, Seen{}).first;
    }
    Seen& s = it->second;
    ++s.count;
    s.weight = std::max(s.weight, e.weight);
    if (!e.field.empty()) {
      if (std::find(s.fields.begin(), s.fields.end(), e.field) == s.fields.end()) s.fields.push_back(e.field);
    } else if (s.offsets.size() < 10) {
      s.offsets.emplace_back(e.begin, e.end);
    }
  }
  std::vector<DocumentEntity> out;
  out.reserve(by_value.size());
  for (auto& [key, s] : by_value) {
    DocumentEntity d;
    d.type = std::string(indexer::EntityTypeName(key.first));
    d.value = std::string(key.second);
    d.count = s.count;
    d.weight = s.weight;
    std::sort(s.fields.begin(), s.fields.end());
    d.fields.assign(s.fields.begin(), s.fields.end());
    d.offsets = std::move(s.offsets);
    out.push_back(std::move(d));
  }
  return out;
}

nlohmann::json EntitiesJson(const std::vector<DocumentEntity>& list) {
  // Built member by member: nlohmann's initializer lists copy every value
  // (measured: they were most of what entities cost the ingest's trusted
  // process outside SQLite).
  nlohmann::json out = nlohmann::json::array();
  auto& arr = out.get_ref<nlohmann::json::array_t&>();
  arr.reserve(list.size());
  for (const auto& e : list) {
    nlohmann::json o = nlohmann::json::object();
    o["type"] = e.type;
    o["value"] = e.value;
    o["count"] = e.count;
    o["weight"] = e.weight;
    o["fields"] = e.fields;
    nlohmann::json offsets = nlohmann::json::array();
    for (const auto& [b, end] : e.offsets) {
      nlohmann::json range = nlohmann::json::array();
      range.push_back(b);
      range.push_back(end);
      offsets.push_back(std::move(range));
    }
    o["offsets"] = std::move(offsets);
    arr.push_back(std::move(o));
  }
  return out;
}

std::vector<DocumentEntity> EntitiesFromJson(const nlohmann::json& list) {
  std::vector<DocumentEntity> out;
  if (!list.is_array()) return out;
  for (const auto& e : list) {
    if (!e.is_object()) continue;
    DocumentEntity de;
    de.type = JsonString(e, "type");
    de.value = JsonString(e, "value");
    if (de.type.empty() || de.value.empty()) continue;
    de.count = JsonUnsigned(e, "count");
    if (auto w = e.find("weight"); w != e.end() && w->is_number()) de.weight = w->get<double>();
    de.fields = JsonStrings(e, "fields");
    if (auto o = e.find("offsets"); o != e.end() && o->is_array()) {
      for (const auto& r : *o) {
        if (r.is_array() && r.size() == 2 && r[0].is_number_unsigned() && r[1].is_number_unsigned()) {
          de.offsets.emplace_back(r[0].get<std::uint64_t>(), r[1].get<std::uint64_t>());
        }
      }
    }
    out.push_back(std::move(de));
  }
  return out;
}

std::vector<std::string> EntityTermsOf(const std::vector<DocumentEntity>& entities) {
  std::vector<std::string> out;
  out.reserve(entities.size());
  for (const auto& e : entities) {
    const auto t = indexer::EntityTypeFromName(e.type);
    if (!t || e.value.empty() || e.value.size() > indexer::kMaxEntityValueBytes) continue;
    out.push_back(indexer::EntityTerm(*t, e.value));
  }
  return out;
}

}  // namespace dossier::repo
