// A strict parser of the Prometheus text exposition format (0.0.4), for tests: it checks what a
// scraper relies on (HELP/TYPE before a family's samples, each family once, sample names that
// belong to their family, label syntax and escapes, float syntax, no duplicate series, histogram
// buckets cumulative and ending in +Inf equal to _count) and returns the families.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "src/util/result.h"

namespace kproxy::testing {

struct PromSample {
  std::string name;  // including _bucket / _sum / _count
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromFamily {
  std::string name;
  std::string help;
  std::string type;
  std::vector<PromSample> samples;

  // The sample with exactly these labels (and this name suffix), or null.
  const PromSample* find(const std::map<std::string, std::string>& labels, std::string_view suffix = "") const {
    for (const auto& s : samples) {
      if (s.name == name + std::string(suffix) && s.labels == labels) return &s;
    }
    return nullptr;
  }
};

using PromFamilies = std::map<std::string, PromFamily>;

namespace prom_detail {

inline bool validName(std::string_view s, bool label) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

inline Result<double> parseValue(const std::string& s) {
  if (s == "+Inf") return HUGE_VAL;
  if (s == "-Inf") return -HUGE_VAL;
  if (s == "NaN") return std::nan("");
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || s.find_first_of("xXpP") != std::string::npos) {
    return Error("bad value \"" + s + "\"");
  }
  return v;
}

}  // namespace prom_detail

inline Result<PromFamilies> parsePrometheusText(std::string_view text) {
  using namespace prom_detail;
  PromFamilies families;
  std::string current;  // family whose samples may follow
  std::set<std::string> series_seen;
  size_t line_no = 0;
  auto fail = [&](const std::string& why) { return Error("line " + std::to_string(line_no) + ": " + why); };
  if (!text.empty() && text.back() != '\n') return Error("exposition does not end with a newline");
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    std::string line(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::string_view rest = std::string_view(line).substr(1);
      if (rest.substr(0, 6) != " HELP " && rest.substr(0, 6) != " TYPE ") continue;  // a comment
      const bool help = rest.substr(0, 6) == " HELP ";
      rest.remove_prefix(6);
      const size_t sp = rest.find(' ');
      const std::string name(rest.substr(0, sp));
      const std::string value = sp == std::string_view::npos ? "" : std::string(rest.substr(sp + 1));
      if (!validName(name, false)) return fail("bad metric name \"" + name + "\"");
      PromFamily& f = families[name];
      if (!f.samples.empty() || (current != name && !f.name.empty())) return fail("family " + name + " appears twice");
      f.name = name;
      current = name;
      if (help) {
        if (!f.help.empty()) return fail("second HELP for " + name);
        std::string unescaped;
        for (size_t i = 0; i < value.size(); ++i) {
          if (value[i] == '\\' && i + 1 < value.size()) {
            const char n = value[++i];
            if (n == 'n') {
              unescaped.push_back('\n');
            } else if (n == '\\') {
              unescaped.push_back('\\');
            } else {
              return fail("bad escape in HELP");
            }
          } else {
            unescaped.push_back(value[i]);
          }
        }
        f.help = unescaped;
      } else {
        if (!f.type.empty()) return fail("second TYPE for " + name);
        if (value != "counter" && value != "gauge" && value != "histogram" && value != "summary" && value != "untyped") {
          return fail("bad type \"" + value + "\"");
        }
        f.type = value;
      }
      continue;
    }
    // name{l="v",...} value [timestamp]
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    PromSample s;
    s.name = line.substr(0, i);
    if (!validName(s.name, false)) return fail("bad sample name \"" + s.name + "\"");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) return fail("label without '='");
        const std::string lname = line.substr(i, eq - i);
        if (!validName(lname, true)) return fail("bad label name \"" + lname + "\"");
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') return fail("label value not quoted");
        ++i;
        std::string lvalue;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (i + 1 >= line.size()) return fail("dangling escape");
            const char n = line[++i];
            if (n == 'n') {
              lvalue.push_back('\n');
            } else if (n == '\\' || n == '"') {
              lvalue.push_back(n);
            } else {
              return fail("bad escape in label value");
            }
          } else {
            lvalue.push_back(line[i]);
          }
          ++i;
        }
        if (i >= line.size()) return fail("unterminated label value");
        ++i;  // closing quote
        if (!s.labels.emplace(lname, lvalue).second) return fail("duplicate label " + lname);
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return fail("unterminated label set");
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') return fail("no value");
    std::string rest = line.substr(i + 1);
    const size_t sp = rest.find(' ');
    auto v = parseValue(rest.substr(0, sp));
    if (!v.ok()) return fail(v.error().message);
    s.value = *v;
    // The family: the current one, which must own this name.
    auto it = families.find(current);
    if (it == families.end()) return fail("sample " + s.name + " before any TYPE");
    PromFamily& f = it->second;
    bool belongs = s.name == f.name;
    if (f.type == "histogram") {
      belongs = s.name == f.name + "_bucket" || s.name == f.name + "_sum" || s.name == f.name + "_count";
      if (s.name == f.name + "_bucket" && s.labels.count("le") == 0) return fail("bucket without le");
    }
    if (!belongs) return fail("sample " + s.name + " does not belong to family " + f.name);
    std::string key = s.name;
    for (const auto& [k, lv] : s.labels) key += "|" + k + "=" + lv;
    if (!series_seen.insert(key).second) return fail("duplicate series " + key);
    f.samples.push_back(std::move(s));
  }
  // Histograms: per label set, buckets cumulative by ascending le, +Inf last and equal to _count.
  for (const auto& [name, f] : families) {
    if (f.type.empty()) return Error("family " + name + " has no TYPE");
    if (f.type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    std::map<std::map<std::string, std::string>, double> counts;
    for (const auto& s : f.samples) {
      auto labels = s.labels;
      if (s.name == name + "_bucket") {
        auto le = parseValue(labels.at("le"));
        if (!le.ok()) return Error(name + ": bad le");
        labels.erase("le");
        buckets[labels].emplace_back(*le, s.value);
      } else if (s.name == name + "_count") {
        counts[labels] = s.value;
      }
    }
    for (const auto& [labels, bs] : buckets) {
      for (size_t k = 1; k < bs.size(); ++k) {
        if (!(bs[k].first > bs[k - 1].first)) return Error(name + ": le not ascending");
        if (bs[k].second < bs[k - 1].second) return Error(name + ": buckets not cumulative");
      }
      if (bs.empty() || !std::isinf(bs.back().first)) return Error(name + ": no +Inf bucket");
      if (counts.count(labels) == 0 || counts.at(labels) != bs.back().second) {
        return Error(name + ": +Inf bucket differs from _count");
      }
    }
  }
  return families;
}

}  // namespace kproxy::testing
