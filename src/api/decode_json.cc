// JSON walker: simdjson's On-Demand API, walked through JsonValue. On-Demand indexes the text
// once and then reads only the fields the walker asks for, in document order, skipping the rest
// (managedFields, targetRef, ...) without building a tree or copying a string the walker does not
// keep. The memory it touches (about 4 bytes per JSON token) matters as much as its speed: on a
// cold process, fresh pages are the main cost of decoding a large dump. Hence the parser (and
// the padded copy of the text, when one is needed) is kept per thread, its buffers reused by the
// next call at the cost of keeping them; strings without escapes are read in place; and the text
// is not copied at all when the caller left room for the padding (decode.h).
//
// On-Demand checks the grammar of what it walks; a value it skips (an unknown field) is only
// checked for balanced brackets and well-formed strings. Syntax errors are located by a small
// scanner that runs only on the error path.
#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <simdjson.h>

#include "src/api/decode_internal.h"

namespace kproxy::api::internal {
namespace {

namespace ondemand = simdjson::ondemand;
using ondemand::json_type;

static_assert(simdjson::SIMDJSON_PADDING <= kManifestPadding, "ManifestFile padding must cover simdjson's");

size_t countNewlines(const char* begin, const char* end) {
  size_t n = 0;
  const char* p = begin;
#if defined(__SSE2__)
  // Byte-wise counters (each comparison adds 0 or -1), folded into 64-bit sums with psadbw
  // before they can wrap.
  const __m128i newline = _mm_set1_epi8('\n');
  const __m128i zero = _mm_setzero_si128();
  while (end - p >= 16) {
    __m128i counts = zero;
    for (int i = 0; i < 255 && end - p >= 16; ++i, p += 16) {
      __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      counts = _mm_sub_epi8(counts, _mm_cmpeq_epi8(chunk, newline));
    }
    __m128i sums = _mm_sad_epu8(counts, zero);
    n += static_cast<size_t>(_mm_cvtsi128_si64(sums)) + static_cast<size_t>(_mm_extract_epi16(sums, 4));
  }
#endif
  for (; p < end; ++p) n += *p == '\n';
  return n;
}

// Line numbers of positions in the text, counted incrementally: the walker asks in nearly
// increasing order (each object's start, then the fields of the few objects with problems).
class LineCounter {
 public:
  LineCounter(const char* begin, size_t size) : begin_(begin), end_(begin + size), pos_(begin) {}

  int lineOf(const char* p) {
    if (p == nullptr || p < begin_ || p > end_) return 0;
    if (p >= pos_) {
      line_ += countNewlines(pos_, p);
    } else {
      line_ -= countNewlines(p, pos_);
    }
    pos_ = p;
    return static_cast<int>(line_);
  }

  std::string lineAndColumn(const char* p) {
    int line = lineOf(p);
    const char* line_start = p;
    while (line_start > begin_ && line_start[-1] != '\n') --line_start;
    return "line " + std::to_string(line) + ", column " + std::to_string(p - line_start + 1);
  }

 private:
  const char* begin_;
  const char* end_;
  const char* pos_;
  size_t line_ = 1;
};

// State shared by the JsonValues of one document: line numbers, and the first error that
// makes the rest of the document unreadable (after which every walk stops).
struct JsonWalk {
  JsonWalk(const char* begin, size_t size) : lines(begin, size) {}

  bool failed() const { return error != simdjson::SUCCESS; }
  void fail(simdjson::error_code e, const char* at) {
    if (failed()) return;
    error = e;
    error_at = at;
  }

  LineCounter lines;
  simdjson::error_code error = simdjson::SUCCESS;
  const char* error_at = nullptr;
};

// Length of the JSON number at the start of `s` (RFC 8259 grammar), 0 if there is none.
size_t numberLength(std::string_view s) {
  size_t j = 0;
  auto digits = [&] {
    size_t start = j;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    return j > start;
  };
  if (j < s.size() && s[j] == '-') ++j;
  if (j < s.size() && s[j] == '0') {
    ++j;
  } else if (!digits()) {
    return 0;
  }
  if (j < s.size() && s[j] == '.') {
    ++j;
    if (!digits()) return 0;
  }
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    ++j;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (!digits()) return 0;
  }
  return j;
}

// The shared walker's view of an On-Demand value (see the adapter contract in
// decode_internal.h). A value is read in place: forEachField may run more than once on the same
// JsonValue (the object is rewound), forEachItem once, and a value may no longer be read once
// the walker has moved past it.
class JsonValue {
 public:
  static constexpr bool kHasLines = false;  // no field lines recorded; line() still works

  JsonValue(ondemand::value value, JsonWalk& walk) : value_(value), walk_(&walk) {}

  bool isNull() const {
    if (type() != json_type::null) return false;
    bool null = false;
    if (value_.is_null().get(null) != simdjson::SUCCESS || !null) walk_->fail(simdjson::N_ATOM_ERROR, location());
    return true;
  }
  bool isMap() const { return type() == json_type::object; }
  bool isList() const { return type() == json_type::array; }
  int line() const { return walk_->lines.lineOf(location()); }

  template <class F>
  void forEachField(F&& f) const {
    if (walk_->failed() || type() != json_type::object) return;
    if (!object_) {
      ondemand::object object;
      if (auto e = value_.get_object().get(object); e != simdjson::SUCCESS) return walk_->fail(e, location());
      object_ = object;
    } else {
      bool empty = false;
      if (auto e = object_->reset().get(empty); e != simdjson::SUCCESS) return walk_->fail(e, location());
    }
    for (auto result : *object_) {
      ondemand::field field;
      if (auto e = std::move(result).get(field); e != simdjson::SUCCESS) return walk_->fail(e, location());
      std::string_view key;
      if (!rawKey(field, key)) {
        if (auto e = field.unescaped_key().get(key); e != simdjson::SUCCESS) return walk_->fail(e, location());
      }
      JsonValue value(field.value(), *walk_);
      f(key, value);
      if (walk_->failed()) return;
    }
  }

  template <class F>
  void forEachItem(F&& f) const {
    if (walk_->failed() || type() != json_type::array) return;
    ondemand::array array;
    if (auto e = value_.get_array().get(array); e != simdjson::SUCCESS) return walk_->fail(e, location());
    int i = 0;
    for (auto result : array) {
      ondemand::value item;
      if (auto e = std::move(result).get(item); e != simdjson::SUCCESS) return walk_->fail(e, location());
      JsonValue value(item, *walk_);
      f(i++, value);
      if (walk_->failed()) return;
    }
  }

  // Unknown: counting would walk the array twice.
  size_t listSize() const { return 0; }

  bool readString(std::string_view& out) const {
    if (type() != json_type::string) return false;
    location();
    // Without escapes, the text itself: no copy into simdjson's string buffer (the value is
    // left unread; simdjson skips it).
    std::string_view token = rawToken();
    if (token.size() >= 2 && token.front() == '"' && token.back() == '"') {
      std::string_view inner = token.substr(1, token.size() - 2);
      if (inner.find('\\') == std::string_view::npos) {
        out = inner;
        return true;
      }
    }
    if (auto e = value_.get_string().get(out); e != simdjson::SUCCESS) {
      walk_->fail(e, location());
      return false;
    }
    return true;
  }

  IntRead readInt(int64_t& out) const {
    if (type() != json_type::number) return IntRead::kWrongType;
    location();
    if (value_.get_int64().get(out) == simdjson::SUCCESS) return IntRead::kOk;
    std::string_view raw = rawToken();
    if (raw.empty() || numberLength(raw) != raw.size()) {
      walk_->fail(simdjson::NUMBER_ERROR, location());
      return IntRead::kWrongType;
    }
    // A valid number that is not an int64: a fraction or exponent, or too many digits.
    return raw.find_first_of(".eE") == std::string_view::npos ? IntRead::kOutOfRange : IntRead::kWrongType;
  }

  bool readBool(bool& out) const {
    if (type() != json_type::boolean) return false;
    location();
    if (auto e = value_.get_bool().get(out); e != simdjson::SUCCESS) {
      walk_->fail(e, location());
      return false;
    }
    return true;
  }

  std::string describe() const {
    switch (type()) {
      case json_type::object:
        return "a map";
      case json_type::array:
        return "a list";
      case json_type::null:
        return "null";
      case json_type::string: {
        std::string_view s;
        if (value_.get_string().get(s) == simdjson::SUCCESS) return quote(s);
        break;
      }
      default:
        break;
    }
    std::string_view raw = rawToken();
    return raw.size() <= 64 ? oneLine(raw) : oneLine(raw.substr(0, 64)) + "...";
  }

 private:
  json_type type() const {
    if (!type_) {
      json_type t = json_type::null;
      if (auto e = value_.type().get(t); e != simdjson::SUCCESS) walk_->fail(e, location());
      type_ = t;
    }
    return *type_;
  }

  // The token as written, without the white space simdjson leaves after it.
  std::string_view rawToken() const {
    std::string_view raw = value_.raw_json_token();
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t')) {
      raw.remove_suffix(1);
    }
    return raw;
  }

  // A string without escapes, straight from the text (`begin` follows the opening quote; the
  // closing one exists, simdjson's indexing checked that).
  static bool rawString(const char* begin, std::string_view& out) {
    const char* p = begin;
    while (*p != '"') {
      if (*p == '\\' || *p == '\0') return false;
      ++p;
    }
    out = std::string_view(begin, static_cast<size_t>(p - begin));
    return true;
  }
  static bool rawKey(ondemand::field& field, std::string_view& out) { return rawString(field.key().raw(), out); }

  // Where the value starts; known only until the value is read, so asked for before reading.
  const char* location() const {
    if (at_ == nullptr) {
      const char* at = nullptr;
      if (value_.current_location().get(at) == simdjson::SUCCESS) at_ = at;
    }
    return at_;
  }

  mutable ondemand::value value_;
  mutable std::optional<ondemand::object> object_;
  mutable std::optional<json_type> type_;
  JsonWalk* walk_;
  mutable const char* at_ = nullptr;
};

// simdjson's default maximum nesting depth; the scanner below matches it.
constexpr size_t kMaxJsonDepth = simdjson::DEFAULT_MAX_DEPTH;

struct JsonSyntaxIssue {
  size_t offset;
  std::string message;
};

// The first grammar error of `text` (a stream of JSON values), or nullopt if the grammar holds.
// Only run after simdjson rejected the input, to say where; it does not check UTF-8 or
// number ranges (simdjson's message covers those).
std::optional<JsonSyntaxIssue> findJsonSyntaxError(std::string_view text) {
  enum class State { kTopValue, kValue, kFirstValueOrClose, kFirstKeyOrClose, kKey, kColon, kAfterValue };
  std::vector<char> stack;  // '{' or '['
  State state = State::kTopValue;
  size_t i = 0;
  const size_t n = text.size();
  auto fail = [&](size_t at, std::string message) { return JsonSyntaxIssue{at, std::move(message)}; };
  auto afterValue = [&] { return stack.empty() ? State::kTopValue : State::kAfterValue; };
  auto describeChar = [&](size_t at) {
    auto c = static_cast<unsigned char>(text[at]);
    if (c < 0x20 || c >= 0x7f) return "a byte " + quote(text.substr(at, 1));
    std::string quoted(3, '\'');
    quoted[1] = text[at];
    return quoted;
  };
  // Returns the offset after the string starting at `at` (a '"'), or an issue.
  auto scanString = [&](size_t at, size_t& end) -> std::optional<JsonSyntaxIssue> {
    size_t j = at + 1;
    while (j < n) {
      auto c = static_cast<unsigned char>(text[j]);
      if (c == '"') {
        end = j + 1;
        return std::nullopt;
      }
      if (c < 0x20) return fail(j, "control character in a string");
      if (c == '\\') {
        if (j + 1 >= n) break;
        char e = text[j + 1];
        if (e == 'u') {
          for (size_t k = 2; k < 6; ++k) {
            if (j + k >= n || !std::isxdigit(static_cast<unsigned char>(text[j + k]))) return fail(j, "bad \\u escape");
          }
          j += 6;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) return fail(j, "bad escape");
        j += 2;
        continue;
      }
      ++j;
    }
    return fail(at, "unterminated string");
  };
  for (;;) {
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    if (i == n) {
      if (state == State::kTopValue) return std::nullopt;
      return fail(n, "unexpected end of input");
    }
    char c = text[i];
    switch (state) {
      case State::kFirstKeyOrClose:
        if (c == '}') {
          stack.pop_back();
          ++i;
          state = afterValue();
          break;
        }
        [[fallthrough]];
      case State::kKey: {
        if (c != '"') return fail(i, "expected a string key, found " + describeChar(i));
        size_t end = 0;
        if (auto issue = scanString(i, end)) return issue;
        i = end;
        state = State::kColon;
        break;
      }
      case State::kColon:
        if (c != ':') return fail(i, "expected ':', found " + describeChar(i));
        ++i;
        state = State::kValue;
        break;
      case State::kAfterValue: {
        char close = stack.back() == '{' ? '}' : ']';
        if (c == ',') {
          ++i;
          state = stack.back() == '{' ? State::kKey : State::kValue;
        } else if (c == close) {
          stack.pop_back();
          ++i;
          state = afterValue();
        } else {
          return fail(i, std::string("expected ',' or '") + close + "', found " + describeChar(i));
        }
        break;
      }
      case State::kFirstValueOrClose:
        if (c == ']') {
          stack.pop_back();
          ++i;
          state = afterValue();
          break;
        }
        [[fallthrough]];
      case State::kTopValue:
      case State::kValue: {
        size_t end = 0;
        if (c == '{' || c == '[') {
          if (stack.size() >= kMaxJsonDepth) {
            return fail(i, "nested more than " + std::to_string(kMaxJsonDepth) + " deep");
          }
          stack.push_back(c);
          ++i;
          state = c == '{' ? State::kFirstKeyOrClose : State::kFirstValueOrClose;
          break;
        }
        if (c == '"') {
          if (auto issue = scanString(i, end)) return issue;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          size_t length = numberLength(text.substr(i));
          if (length == 0) return fail(i, "bad number");
          end = i + length;
        } else if (text.compare(i, 4, "true") == 0 || text.compare(i, 4, "null") == 0) {
          end = i + 4;
        } else if (text.compare(i, 5, "false") == 0) {
          end = i + 5;
        } else {
          return fail(i, "expected a value, found " + describeChar(i));
        }
        i = end;
        state = afterValue();
        break;
      }
    }
  }
}

// Walks the root value of a parsed document into the sink. Returns the error that stopped it,
// if any.
simdjson::error_code walkDocument(ondemand::document& document, JsonWalk& walk, ManifestSink& sink) {
  ondemand::value root;
  if (auto e = document.get_value().get(root); e != simdjson::SUCCESS) return e;
  decodeDocument(JsonValue(root, walk), sink);
  return walk.error;
}

std::string syntaxMessage(std::string_view text, JsonWalk& walk, simdjson::error_code error) {
  if (auto issue = findJsonSyntaxError(text)) {
    return "JSON syntax error at " + walk.lines.lineAndColumn(text.data() + issue->offset) + ": " + issue->message;
  }
  std::string message = "JSON syntax error";
  if (walk.error_at != nullptr) message += " at " + walk.lines.lineAndColumn(walk.error_at);
  return message + ": " + simdjson::error_message(error);
}

struct DecoderBuffers {
  ondemand::parser parser{};
  std::unique_ptr<char[]> copy;
  size_t copy_capacity = 0;
};
thread_local DecoderBuffers t_buffers;

}  // namespace

void releaseJsonDecoderBuffers() {
  t_buffers.parser = ondemand::parser();
  t_buffers.copy.reset();
  t_buffers.copy_capacity = 0;
}

void decodeJsonFile(const ManifestFile& file, ManifestSink& sink) {
  std::string_view text = file.text();
  size_t capacity = file.readable();
  if (text.substr(0, 3) == "\xEF\xBB\xBF") {  // simdjson wants no byte order mark
    text.remove_prefix(3);
    capacity -= 3;
  }
  // In place when the caller left room for simdjson's padding (decode.h), else one copy into a
  // buffer kept for the next call, like the parser (see the top of this file).
  ondemand::parser& parser = t_buffers.parser;
  std::unique_ptr<char[]>& copy = t_buffers.copy;
  size_t& copy_capacity = t_buffers.copy_capacity;
  simdjson::padded_string_view json;
  if (capacity - text.size() >= simdjson::SIMDJSON_PADDING) {
    json = simdjson::padded_string_view(text.data(), text.size(), capacity);
  } else {
    const size_t needed = text.size() + simdjson::SIMDJSON_PADDING;
    if (copy_capacity < needed) {
      copy.reset(new char[needed]);
      copy_capacity = needed;
    }
    std::memcpy(copy.get(), text.data(), text.size());
    std::memset(copy.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    json = simdjson::padded_string_view(copy.get(), text.size(), needed);
    text = std::string_view(copy.get(), text.size());
  }

  auto checkpoint = sink.checkpoint();
  JsonWalk walk(text.data(), text.size());
  ondemand::document document;
  simdjson::error_code error = parser.iterate(json).get(document);
  if (error == simdjson::SUCCESS) error = walkDocument(document, walk, sink);
  if (error == simdjson::SUCCESS) {
    // The walker reads every root fully; anything after it is a second value or garbage.
    const char* rest = nullptr;
    if (document.current_location().get(rest) != simdjson::SUCCESS) return;
    error = simdjson::TRAILING_CONTENT;
    walk.fail(error, rest);
  }
  sink.rollback(checkpoint);

  // Several values one after the other ("{...}\n{...}"): decode each, if the grammar holds
  // all through.
  if (error == simdjson::TRAILING_CONTENT && !findJsonSyntaxError(text)) {
    ondemand::document_stream stream;
    simdjson::error_code stream_error =
        parser.iterate_many(json.data(), json.size(), std::max<size_t>(json.size(), 1024)).get(stream);
    JsonWalk stream_walk(text.data(), text.size());
    if (stream_error == simdjson::SUCCESS) {
      for (auto result : stream) {
        ondemand::document_reference document_ref;
        if (stream_error = std::move(result).get(document_ref); stream_error != simdjson::SUCCESS) break;
        ondemand::value root;
        if (stream_error = document_ref.get_value().get(root); stream_error != simdjson::SUCCESS) break;
        decodeDocument(JsonValue(root, stream_walk), sink);
        if (stream_walk.failed()) {
          stream_error = stream_walk.error;
          break;
        }
      }
    }
    if (stream_error == simdjson::SUCCESS && stream.truncated_bytes() == 0) return;
    sink.rollback(checkpoint);
    if (stream_error == simdjson::SUCCESS) stream_error = simdjson::TAPE_ERROR;  // truncated
    sink.syntaxError(syntaxMessage(text, stream_walk, stream_error));
    return;
  }
  sink.syntaxError(syntaxMessage(text, walk, error));
}

}  // namespace kproxy::api::internal
