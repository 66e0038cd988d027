// YAML walker. yaml-cpp's event parser builds a small tree per document (an arena of nodes that
// keeps each node's line and whether a scalar was plain or quoted); the shared field walker
// (decode_internal.h) reads it through YamlValue. Building our own tree instead of YAML::Node
// keeps the documents before a syntax error, keeps quoted scalars apart from plain ones ("80" is
// a string, 80 an integer), costs less memory, and lets aliases be references with a bounded
// amount of expansion.
#include <charconv>
#include <deque>
#include <istream>
#include <streambuf>
#include <unordered_map>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "src/api/decode_internal.h"

namespace kproxy::api::internal {
namespace {

// How a scalar was written: the value's type follows from it (YAML 1.1 as go-yaml v2 resolves
// it, which is what kubectl and the API server's YAML decoding use).
enum class ScalarStyle : uint8_t {
  kPlain,   // untagged, unquoted: int, bool, float or string by its text
  kString,  // quoted, or tagged !!str (or any tag of ours we don't know)
  kInt,     // !!int
  kBool,    // !!bool
  kFloat,   // !!float
};

struct YamlNode {
  enum class Type : uint8_t { kNull, kScalar, kList, kMap, kAlias };
  Type type = Type::kNull;
  ScalarStyle style = ScalarStyle::kPlain;
  int line = 0;
  int target = -1;  // kAlias: the anchored node
  int first = -1;   // kList / kMap: first child (a map's children alternate key, value)
  int last = -1;
  int next = -1;    // next sibling
  int count = 0;    // number of children
  std::string value;
};

struct YamlTree {
  std::deque<YamlNode> nodes;  // a deque: growing it moves no node
  int root = -1;
  // Children visits left before the document counts as an alias bomb ("billion laughs").
  mutable int64_t budget = 0;
  mutable bool exhausted = false;

  bool spend() const {
    if (budget <= 0) {
      exhausted = true;
      return false;
    }
    --budget;
    return true;
  }
};

ScalarStyle styleOfTag(const std::string& tag) {
  if (tag == "?") return ScalarStyle::kPlain;
  if (tag == "tag:yaml.org,2002:int") return ScalarStyle::kInt;
  if (tag == "tag:yaml.org,2002:bool") return ScalarStyle::kBool;
  if (tag == "tag:yaml.org,2002:float") return ScalarStyle::kFloat;
  return ScalarStyle::kString;  // "!" (quoted), !!str, custom tags
}

// Thrown when the parser emits more nodes or documents than the input can hold: yaml-cpp 0.7
// loops forever on some malformed input, emitting empty documents or nulls.
struct RunawayParser {
  YAML::Mark mark;
};

// Builds a YamlTree from the parser's events for one document.
class TreeBuilder : public YAML::EventHandler {
 public:
  // `events_left` is shared by all documents of a file: n bytes hold fewer than n + 1 nodes and
  // documents ("[~,~]" is about the densest), so 2n + 1024 leaves room.
  TreeBuilder(YamlTree& tree, size_t& events_left) : tree_(tree), events_left_(events_left) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { add(YamlNode::Type::kNull, mark, anchor); }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      add(YamlNode::Type::kNull, mark, 0);
      return;
    }
    int i = add(YamlNode::Type::kAlias, mark, 0);
    tree_.nodes[i].target = it->second;
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (tag == "tag:yaml.org,2002:null") {
      add(YamlNode::Type::kNull, mark, anchor);
      return;
    }
    int i = add(YamlNode::Type::kScalar, mark, anchor);
    tree_.nodes[i].style = styleOfTag(tag);
    tree_.nodes[i].value = value;
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open_.push_back(add(YamlNode::Type::kList, mark, anchor));
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open_.push_back(add(YamlNode::Type::kMap, mark, anchor));
  }
  void OnMapEnd() override { close(); }

 private:
  int add(YamlNode::Type type, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (events_left_ == 0) throw RunawayParser{mark};
    --events_left_;
    int i = static_cast<int>(tree_.nodes.size());
    YamlNode& node = tree_.nodes.emplace_back();
    node.type = type;
    node.line = mark.is_null() ? 0 : mark.line + 1;
    if (anchor != 0) anchors_[anchor] = i;
    if (open_.empty()) {
      if (tree_.root < 0) tree_.root = i;
    } else {
      YamlNode& parent = tree_.nodes[open_.back()];
      if (parent.last >= 0) {
        tree_.nodes[parent.last].next = i;
      } else {
        parent.first = i;
      }
      parent.last = i;
      ++parent.count;
    }
    return i;
  }

  void close() {
    if (!open_.empty()) open_.pop_back();
  }

  YamlTree& tree_;
  size_t& events_left_;
  std::vector<int> open_;
  std::unordered_map<YAML::anchor_t, int> anchors_;
};

bool isDigitIn(char c, int base) {
  int d;
  if (c >= '0' && c <= '9') {
    d = c - '0';
  } else if (c >= 'a' && c <= 'f') {
    d = c - 'a' + 10;
  } else if (c >= 'A' && c <= 'F') {
    d = c - 'A' + 10;
  } else {
    return false;
  }
  return d < base;
}

// go-yaml v2 resolves a plain scalar as an integer with strconv.ParseInt(text without "_", 0, 64):
// an optional sign, then decimal, 0x hex, 0o or leading-0 octal, or 0b binary.
IntRead parseYamlInt(std::string_view text, int64_t& out) {
  std::string s;
  s.reserve(text.size());
  for (char c : text) {
    if (c != '_') s.push_back(c);
  }
  std::string_view v = s;
  bool negative = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    negative = v[0] == '-';
    v.remove_prefix(1);
  }
  int base = 10;
  if (v.size() > 1 && v[0] == '0') {
    char p = v[1];
    if (p == 'x' || p == 'X') {
      base = 16;
      v.remove_prefix(2);
    } else if (p == 'o' || p == 'O') {
      base = 8;
      v.remove_prefix(2);
    } else if (p == 'b' || p == 'B') {
      base = 2;
      v.remove_prefix(2);
    } else {
      base = 8;
      v.remove_prefix(1);
    }
  }
  if (v.empty()) return IntRead::kWrongType;
  unsigned __int128 magnitude = 0;
  bool overflow = false;
  for (char c : v) {
    if (!isDigitIn(c, base)) return IntRead::kWrongType;
    int d = (c >= '0' && c <= '9') ? c - '0' : ((c | 0x20) - 'a' + 10);
    if (!overflow) {
      magnitude = magnitude * static_cast<unsigned>(base) + static_cast<unsigned>(d);
      if (magnitude > (static_cast<unsigned __int128>(1) << 64)) overflow = true;
    }
  }
  const auto limit = static_cast<unsigned __int128>(INT64_MAX) + (negative ? 1 : 0);
  if (overflow || magnitude > limit) return IntRead::kOutOfRange;
  out = negative ? static_cast<int64_t>(-static_cast<__int128>(magnitude)) : static_cast<int64_t>(magnitude);
  return IntRead::kOk;
}

// YAML 1.1 booleans, as go-yaml v2 resolves them.
bool parseYamlBool(std::string_view s, bool& out) {
  static constexpr std::string_view kTrue[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                               "on",   "On",   "ON",   "y",   "Y"};
  static constexpr std::string_view kFalse[] = {"false", "False", "FALSE", "no", "No", "NO",
                                                "off",   "Off",   "OFF",   "n",  "N"};
  for (auto t : kTrue) {
    if (s == t) {
      out = true;
      return true;
    }
  }
  for (auto f : kFalse) {
    if (s == f) {
      out = false;
      return true;
    }
  }
  return false;
}

// A plain scalar that YAML reads as a number (shown unquoted in messages).
bool looksNumeric(const std::string& v) {
  int64_t n = 0;
  if (parseYamlInt(v, n) != IntRead::kWrongType) return true;
  const char* begin = v.data();
  const char* end = v.data() + v.size();
  if (begin != end && *begin == '+') ++begin;
  double d = 0;
  auto [ptr, ec] = std::from_chars(begin, end, d);
  return ptr == end && begin != end && (ec == std::errc() || ec == std::errc::result_out_of_range);
}

// The shared walker's view of a YamlTree node (see the adapter contract in decode_internal.h).
class YamlValue {
 public:
  static constexpr bool kHasLines = true;

  YamlValue(const YamlTree& tree, int index) : tree_(&tree), index_(index) {
    if (node().type == YamlNode::Type::kAlias) index_ = node().target;
  }

  bool isNull() const { return node().type == YamlNode::Type::kNull; }
  bool isMap() const { return node().type == YamlNode::Type::kMap; }
  bool isList() const { return node().type == YamlNode::Type::kList; }
  int line() const { return node().line; }

  template <class F>
  void forEachField(F&& f) const {
    if (!isMap()) return;
    for (int k = node().first; k >= 0;) {
      int v = tree_->nodes[k].next;
      if (v < 0 || !tree_->spend()) return;
      YamlValue key(*tree_, k);
      // Only scalar keys name fields; complex keys ("? [a, b]") are ignored like unknown fields.
      if (key.node().type == YamlNode::Type::kScalar) f(std::string_view(key.node().value), YamlValue(*tree_, v));
      k = tree_->nodes[v].next;
    }
  }

  template <class F>
  void forEachItem(F&& f) const {
    if (!isList()) return;
    int i = 0;
    for (int c = node().first; c >= 0; c = tree_->nodes[c].next) {
      if (!tree_->spend()) return;
      f(i++, YamlValue(*tree_, c));
    }
  }

  size_t listSize() const { return isList() ? static_cast<size_t>(node().count) : 0; }

  bool readString(std::string_view& out) const {
    if (node().type != YamlNode::Type::kScalar) return false;
    // Lenient where Kubernetes is strict: a plain scalar such as 8080 or true is accepted as
    // the string it spells.
    out = node().value;
    return true;
  }

  IntRead readInt(int64_t& out) const {
    if (node().type != YamlNode::Type::kScalar) return IntRead::kWrongType;
    if (node().style != ScalarStyle::kPlain && node().style != ScalarStyle::kInt) return IntRead::kWrongType;
    return parseYamlInt(node().value, out);
  }

  bool readBool(bool& out) const {
    if (node().type != YamlNode::Type::kScalar) return false;
    if (node().style != ScalarStyle::kPlain && node().style != ScalarStyle::kBool) return false;
    return parseYamlBool(node().value, out);
  }

  std::string describe() const {
    bool b = false;
    switch (node().type) {
      case YamlNode::Type::kNull:
        return "null";
      case YamlNode::Type::kList:
        return "a list";
      case YamlNode::Type::kMap:
        return "a map";
      default:
        break;
    }
    const std::string& v = node().value;
    if (node().style == ScalarStyle::kPlain && (looksNumeric(v) || parseYamlBool(v, b))) {
      return v.size() <= 64 ? oneLine(v) : oneLine(v.substr(0, 64)) + "...";
    }
    return quote(v);
  }

 private:
  const YamlNode& node() const { return tree_->nodes[index_]; }

  const YamlTree* tree_;
  int index_;
};

// A read-only streambuf over the file's bytes, so that yaml-cpp reads them without a copy.
class MemoryBuffer : public std::streambuf {
 public:
  MemoryBuffer(const char* data, size_t size) {
    char* p = const_cast<char*>(data);  // never written: the stream is input only
    setg(p, p, p + size);
  }
};

std::string syntaxMessage(const YAML::Exception& e) {
  std::string message = "YAML syntax error";
  if (!e.mark.is_null()) {
    message += " at line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1);
  }
  message += ": ";
  message += e.msg;
  return message;
}

}  // namespace

void decodeYamlFile(const ManifestFile& file, ManifestSink& sink) {
  MemoryBuffer buffer(file.text().data(), file.text().size());
  std::istream in(&buffer);
  try {
    YAML::Parser parser(in);
    size_t events_left = 2 * file.text().size() + 1024;
    for (;;) {
      YamlTree tree;
      TreeBuilder builder(tree, events_left);
      if (!parser.HandleNextDocument(builder)) break;
      if (events_left == 0) throw RunawayParser{YAML::Mark::null_mark()};
      --events_left;
      if (tree.root < 0) continue;
      // Each node is visited about twice by the walker (the kind lookup, then the fields);
      // much more than that can only come from aliases.
      tree.budget = 16 * static_cast<int64_t>(tree.nodes.size()) + 4096;
      auto checkpoint = sink.checkpoint();
      YamlValue root(tree, tree.root);
      decodeDocument(root, sink);
      if (tree.exhausted) {
        sink.rollback(checkpoint);
        sink.fileError(root.line(), "document too large after alias expansion");
      }
    }
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for it is "bad file".
    sink.syntaxError(syntaxMessage(YAML::ParserException(e.mark, "nested too deeply")));
  } catch (const YAML::Exception& e) {
    sink.syntaxError(syntaxMessage(e));
  } catch (const RunawayParser& e) {
    sink.syntaxError(syntaxMessage(YAML::ParserException(e.mark, "the parser stopped making progress")));
  }
}

}  // namespace kproxy::api::internal
