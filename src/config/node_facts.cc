// NodeFacts YAML (kproxy's own format, read by `kproxy render --node-facts`, printed by
// `kproxy facts`). Strict: an unknown or repeated key is an error, because a typo would silently
// change the rendered rules.
#include "src/config/node_facts.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace kproxy::config {
namespace {

class FactsReader {
 public:
  explicit FactsReader(std::string_view source) : source_(source) {}

  Error error(int line, std::string_view detail) const {
    std::string where = source_;
    if (line > 0) where += fmt::format(":{}", line);
    return Error(fmt::format("{}: {}", where, detail));
  }

  static int lineOf(const YAML::Node& node, int fallback) {
    int line = node.Mark().line;
    return line >= 0 ? line + 1 : fallback;
  }

  static bool isNull(const YAML::Node& node) {
    if (node.IsNull()) return true;
    if (!node.IsScalar() || node.Tag() != "?") return false;
    const std::string& s = node.Scalar();
    return s == "~" || s == "null" || s == "Null" || s == "NULL";
  }

  Result<bool> readBool(const YAML::Node& node, std::string_view key, int line) const {
    if (node.IsScalar() && node.Tag() == "?") {
      const std::string& s = node.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    return error(line, std::string(key) + ": must be true or false");
  }

  // A list of strings; null is an empty list.
  Result<std::vector<std::pair<std::string, int>>> readStrings(const YAML::Node& node, std::string_view key,
                                                               int line) const {
    std::vector<std::pair<std::string, int>> out;
    if (isNull(node)) return out;
    if (!node.IsSequence()) return error(line, std::string(key) + ": must be a list of strings");
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      int item_line = lineOf(item, line);
      if (!item.IsScalar()) {
        return error(item_line, std::string(key) + "[" + std::to_string(i) + "]: must be a string");
      }
      out.emplace_back(item.Scalar(), item_line);
    }
    return out;
  }

 private:
  std::string source_;
};

// Plain when the text obviously reads back as the same string, double-quoted otherwise
// (IPv6 addresses start with or contain ':').
void appendScalar(std::string& out, std::string_view s) {
  bool plain =
      !s.empty() && std::isalnum(static_cast<unsigned char>(s[0])) &&
      std::all_of(s.begin(), s.end(),
                  [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '/' || c == '-';
                  }) &&
      s != "true" && s != "false" && s != "null" && s != "yes" && s != "no" && s != "on" && s != "off" && s != "y" &&
      s != "n";
  if (plain) {
    out += s;
    return;
  }
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
      continue;
    }
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace

Result<NodeFacts> decodeNodeFacts(std::string_view bytes, std::string_view source) {
  const std::string src(source);
  FactsReader r(source);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(bytes));
  } catch (const YAML::Exception& e) {
    return r.error(e.mark.line >= 0 ? e.mark.line + 1 : 0, "yaml: " + e.msg);
  } catch (const std::exception& e) {
    return r.error(0, e.what());
  }

  NodeFacts facts;
  try {
    if (FactsReader::isNull(root)) return facts;
    if (!root.IsMap()) return r.error(FactsReader::lineOf(root, 1), "node facts must be a mapping");
    std::vector<std::string> seen;
    for (auto it = root.begin(); it != root.end(); ++it) {
      int line = FactsReader::lineOf(it->first, 1);
      if (!it->first.IsScalar()) return r.error(line, "a mapping key must be a scalar");
      const std::string key = it->first.Scalar();
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        return r.error(line, "duplicate field \"" + key + "\"");
      }
      seen.push_back(key);
      const YAML::Node value = it->second;
      if (key == "localAddresses") {
        auto list = r.readStrings(value, key, line);
        if (!list.ok()) return list.error();
        for (size_t i = 0; i < list->size(); ++i) {
          const auto& [text, item_line] = (*list)[i];
          auto addr = InterfaceAddress::parse(text);
          if (!addr.ok()) return r.error(item_line, key + "[" + std::to_string(i) + "]: " + addr.error().message);
          facts.local_addresses.push_back(*addr);
        }
      } else if (key == "nfacctCounters") {
        auto list = r.readStrings(value, key, line);
        if (!list.ok()) return list.error();
        for (const auto& [text, item_line] : *list) facts.nfacct_counters.insert(text);
      } else if (key == "randomFully" || key == "conntrackTCPBeLiberal") {
        if (FactsReader::isNull(value)) continue;
        auto b = r.readBool(value, key, line);
        if (!b.ok()) return b.error();
        (key == "randomFully" ? facts.random_fully : facts.conntrack_tcp_be_liberal) = *b;
      } else {
        return r.error(line, "unknown field \"" + key +
                                 "\" (known: localAddresses, randomFully, nfacctCounters, conntrackTCPBeLiberal)");
      }
    }
  } catch (const std::exception& e) {
    return r.error(0, e.what());
  }
  return facts;
}

std::string encodeNodeFacts(const NodeFacts& facts) {
  std::string out;
  auto list = [&out](std::string_view key, const auto& items, auto&& text) {
    out += key;
    if (items.empty()) {
      out += ": []\n";
      return;
    }
    out += ":\n";
    for (const auto& item : items) {
      out += "- ";
      appendScalar(out, text(item));
      out += "\n";
    }
  };
  list("localAddresses", facts.local_addresses, [](const InterfaceAddress& a) { return a.toString(); });
  out += std::string("randomFully: ") + (facts.random_fully ? "true" : "false") + "\n";
  list("nfacctCounters", facts.nfacct_counters, [](const std::string& s) { return s; });
  out += std::string("conntrackTCPBeLiberal: ") + (facts.conntrack_tcp_be_liberal ? "true" : "false") + "\n";
  return out;
}

}  // namespace kproxy::config
