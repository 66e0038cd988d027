// The nftables plan: kproxy's model of the `kube-proxy` table of one IP family (its chains with
// their rules, its sets and maps with their elements) and of the transactions a sync sends. It is
// a value that prints itself in the form of knftables' fake dumps, one "add ..." command per line
// (`add table ip kube-proxy { comment "rules for kube-proxy" ; }`, `add chain ...`, `add rule
// ...`), in an order `nft -f` accepts into an empty namespace: table, chains, sets, maps, rules,
// elements.
//
// Rules are not text: each is a list of typed statements (the few kinds kube-proxy writes), so
// that the tracer can evaluate them and the netlink applier (issue 14) can lower them to nftnl
// expressions without parsing anything. Text exists only in the printers below, and every
// string that comes from outside (comments, interface names) goes through quoteString(), which
// no input can end early; names go through the identifier check.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "src/api/objects.h"
#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::nftables {

// --- Rule statements (one struct per kind; printed forms in the comments)

// A packet field in a match, lookup or concatenation.
enum class Field : uint8_t {
  kSaddr,    // "ip saddr" / "ip6 saddr"
  kDaddr,    // "ip daddr" / "ip6 daddr"
  kL4Proto,  // "meta l4proto"
  kDport,    // "th dport"
};

// An address or prefix in a match: printed as a CIDR, or as a bare address when `bare`.
struct AddressValue {
  Cidr cidr;
  bool bare = false;

  bool operator==(const AddressValue&) const = default;
};

// How a list of addresses is printed (upstream builds them in two ways).
enum class ListStyle : uint8_t {
  kSingle,        // "10.0.0.0/8" (one value, no braces)
  kCompact,       // "{ a,b }"
  kSpaced,        // "{ a , b }"
};

struct CtStateNew {};        // ct state new
struct CtStatusDnat {};      // ct status dnat
struct MatchAddress {        // ip saddr [!=] 10.0.0.0/8 | ip daddr [!=] { a,b }
  Field field = Field::kDaddr;
  bool negate = false;
  ListStyle style = ListStyle::kSingle;
  std::vector<AddressValue> values;
};
struct MatchSet {            // ip daddr @cluster-ips | ip saddr . ip daddr . meta l4proto . th dport @hairpin-connections
  std::vector<Field> key;
  std::string set;
};
struct MatchFibLocal {       // fib saddr type local
  Field field = Field::kSaddr;
};
struct MatchInterface {      // iifname [!=] "name" (a trailing '*' matches a prefix)
  bool negate = false;
  std::string name;
};
struct MatchL4Proto {        // meta l4proto tcp
  api::Protocol protocol = api::Protocol::kTCP;
};
struct MatchMark {           // mark and 0x4000 != 0
  uint32_t mask = 0;
};
struct SetMarkOr {           // mark set mark or 0x4000
  uint32_t bits = 0;
};
struct SetMarkXor {          // mark set mark xor 0x4000
  uint32_t bits = 0;
};
struct VmapLookup {          // ip daddr . meta l4proto . th dport vmap @service-ips
  std::vector<Field> key;
  std::string map;
};
struct DnatTarget {
  IpAddress ip;
  int port = 0;

  bool operator==(const DnatTarget&) const = default;
};
struct NumgenDnat {          // dnat ip addr . port to numgen random mod N map { 0 : 10.0.0.1 . 80 , ... }
  std::vector<DnatTarget> targets;
};
struct NumgenVmap {          // numgen random mod N vmap { 0 : goto endpoint-... , ... }
  std::vector<std::string> chains;
};
struct UpdateSet {           // update @affinity-... { ip saddr }
  std::string set;
  Field field = Field::kSaddr;
};
struct Dnat {                // dnat to 10.0.0.1:80 | dnat to [fd00::1]:80
  DnatTarget target;
};
struct Masquerade {};        // masquerade fully-random

struct Verdict {             // jump X | goto X | drop | reject | return | accept
  enum class Kind : uint8_t { kJump, kGoto, kDrop, kReject, kReturn, kAccept };
  Kind kind = Kind::kAccept;
  std::string chain;  // jump / goto only

  bool operator==(const Verdict&) const = default;
};

using Statement = std::variant<CtStateNew, CtStatusDnat, MatchAddress, MatchSet, MatchFibLocal, MatchInterface,
                               MatchL4Proto, MatchMark, SetMarkOr, SetMarkXor, VmapLookup, NumgenDnat, NumgenVmap,
                               UpdateSet, Dnat, Masquerade, Verdict>;

struct Rule {
  std::vector<Statement> statements;
  std::string comment;  // "" = none
};

// --- Objects

struct BaseChainSpec {
  std::string_view type;  // filter, nat
  std::string_view hook;  // prerouting, input, forward, output, postrouting
  int priority = 0;
};

struct Chain {
  std::string name;
  std::optional<BaseChainSpec> base;
  std::string comment;
  std::vector<Rule> rules;
};

// A set or map element. Which parts exist follows the container's type: address (and address2)
// for ipv4_addr/ipv6_addr, protocol for inet_proto, port for inet_service, in that order.
struct ElementKey {
  std::optional<IpAddress> address;
  std::optional<IpAddress> address2;
  std::optional<api::Protocol> protocol;
  std::optional<uint16_t> port;

  // The order of the parts, each absent part first (the dump's order within a set).
  std::strong_ordering operator<=>(const ElementKey& other) const;
  bool operator==(const ElementKey&) const = default;
};

struct ElementKeyHash {
  size_t operator()(const ElementKey& key) const;
};

struct Element {
  ElementKey key;
  std::optional<Verdict> value;  // maps only
  std::string comment;
};

// A named set, or (is_map) a verdict map.
struct Set {
  std::string name;
  bool is_map = false;
  std::string type;                       // "ipv4_addr . inet_proto . inet_service : verdict"
  std::vector<std::string_view> flags;    // "dynamic", "timeout"
  std::optional<int64_t> timeout_seconds;
  std::string comment;
  std::vector<Element> elements;          // sorted by key, unique
};

// The whole kube-proxy table of one family. Chains and sets are sorted by name (so two rulesets
// holding the same objects print the same bytes, whatever order they were built in).
struct Ruleset {
  IpFamily family = IpFamily::kIPv4;
  std::string comment{"rules for kube-proxy"};
  std::vector<Chain> chains;
  std::vector<Set> sets;  // sets and maps

  const Chain* findChain(std::string_view name) const;
  const Set* findSet(std::string_view name) const;
  // Sorts chains and sets by name and each set's elements by key (dropping duplicate keys).
  void normalize();

  // knftables' dump form (see the top of this file).
  std::string dump() const;
  void dumpTo(std::string& out) const;

  size_t ruleCount() const;
  size_t elementCount() const;
};

// --- Transactions (what one sync sends: upstream's knftables.Transaction)

struct AddTable {
  std::string comment;
};
struct AddChain {            // the chain's rules are not part of it (see AddRule)
  std::string name;
  std::optional<BaseChainSpec> base;
  std::string comment;
};
struct FlushChain {
  std::string name;
};
struct DeleteChain {
  std::string name;
};
struct AddSet {              // the set's elements are not part of it (see AddElement)
  std::string name;
  bool is_map = false;
  std::string type;
  std::vector<std::string_view> flags;
  std::optional<int64_t> timeout_seconds;
  std::string comment;
};
struct FlushSet {
  std::string name;
  bool is_map = false;
};
struct DeleteSet {
  std::string name;
  bool is_map = false;
};
struct AddRule {
  std::string chain;
  Rule rule;
};
struct AddElement {
  std::string set;
  Element element;
};
struct DeleteElement {
  std::string set;
  ElementKey key;
};

using Operation = std::variant<AddTable, AddChain, FlushChain, DeleteChain, AddSet, FlushSet, DeleteSet, AddRule,
                               AddElement, DeleteElement>;

struct Transaction {
  IpFamily family = IpFamily::kIPv4;
  std::vector<Operation> operations;

  bool empty() const { return operations.empty(); }
  size_t size() const { return operations.size(); }
  // One nft command per line, in order (`nft -f` input).
  std::string text() const;
  void textTo(std::string& out) const;
};

// What applying `transaction` to a table holding `before` leaves, with nft's semantics (adding
// an existing chain or set changes nothing, flushing empties it, deleting removes it, a deleted
// element must exist). An error names the operation that nft would reject. Tests use it to check
// that a sync's transaction turns the previous ruleset into the planned one.
Result<Ruleset> applyTransaction(const Ruleset& before, const Transaction& transaction);

// --- Text primitives (exposed for the tests of the writer)

// `text` as an nft quoted string: '"', the text, '"'. nft's scanner has no escapes, so a
// character that could end the string or the line ('"', '\\', control characters, NUL) and any
// non-ASCII byte is replaced by '_'.
void appendQuoted(std::string& out, std::string_view text);
std::string quoteString(std::string_view text);
// A comment: cut to kCommentLengthMax bytes (truncateComment), then quoted.
inline constexpr size_t kCommentLengthMax = 128;  // upstream knftables.CommentLengthMax
void appendComment(std::string& out, std::string_view comment);
// upstream truncateNFTablesComment: the first kCommentLengthMax bytes.
std::string_view truncateComment(std::string_view comment);
// A name (chain, set, map) as nft reads it unquoted: [A-Za-z0-9_./-]; any other character is
// replaced by '_' (the planner never makes such a name; this is the writer's own guard).
void appendName(std::string& out, std::string_view name);

// One statement / one rule body (without the comment) / a key, as nft text, for `family`.
void appendStatement(std::string& out, IpFamily family, const Statement& statement);
std::string ruleText(IpFamily family, const Rule& rule);  // statements, then ` comment "..."`
std::string keyText(const ElementKey& key);
std::string verdictText(const Verdict& verdict);

}  // namespace kproxy::nftables
