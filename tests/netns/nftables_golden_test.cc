// The real kernel (through nft 1.0.6, in fresh network namespaces) must accept what nftables
// mode renders:
//  * every rendered dump of every golden case under testdata/golden/nftables loads with `nft -f`
//    into an empty namespace;
//  * for every case, the transactions `render --transaction` prints for its steps, applied with
//    `nft -f` one after the other to an empty namespace, leave after each step the same table as
//    loading that step's dump into an empty namespace (compared as `nft list table` prints them,
//    with blocks and set elements in a fixed order).
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "modes/nftables/plan.h"
#include "src/cli/render_command.h"
#include "src/util/subprocess.h"
#include "tests/golden/golden_case.h"
#include "tests/netns/netns.h"

namespace kproxy::netns {
namespace {
namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

// `nft list table` output with its top-level blocks (sets, maps, chains) sorted, and the
// elements of each set sorted: the order nft lists them in follows the order they were created
// (or hashed), which differs between a table built in one go and one built by transactions.
std::string canonicalListing(const std::string& listing) {
  std::vector<std::string> header, blocks;
  std::string block;
  bool in_block = false;
  std::istringstream in(listing);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (!in_block && (line.rfind("\tset ", 0) == 0 || line.rfind("\tmap ", 0) == 0 || line.rfind("\tchain ", 0) == 0)) {
      in_block = true;
      block = line + "\n";
      continue;
    }
    if (in_block) {
      block += line + "\n";
      if (line == "\t}") {
        // Elements: "elements = { a, b,\n c }" -> one sorted list.
        const size_t open = block.find("elements = {");
        if (open != std::string::npos) {
          const size_t close = block.find('}', open);
          std::string inner = block.substr(open + 12, close - open - 12);
          std::vector<std::string> items;
          std::string item;
          std::istringstream parts(inner);
          while (std::getline(parts, item, ',')) {
            item = trim(item);
            item.erase(std::remove(item.begin(), item.end(), '\n'), item.end());
            items.push_back(trim(item));
          }
          std::sort(items.begin(), items.end());
          std::string joined;
          for (const auto& i : items) joined += (joined.empty() ? "" : ", ") + i;
          block = block.substr(0, open) + "elements = { " + joined + " }" + block.substr(close + 1);
        }
        blocks.push_back(block);
        in_block = false;
      }
      continue;
    }
    header.push_back(line);
  }
  std::sort(blocks.begin(), blocks.end());
  std::string out;
  for (const auto& h : header) out += h + "\n";
  for (const auto& b : blocks) out += b;
  return out;
}

std::string familyOf(const cli::RenderOptions& options) { return options.ip_family == "ipv6" ? "ip6" : "ip"; }

// Loads `text` with nft -f into the current namespace; "" or the failure.
std::string nftLoad(const std::string& text) {
  auto run = runProcess({"nft", "-f", "-"}, text);
  if (!run.ok()) return run.error().message;
  if (!run->succeeded()) return "nft -f: exit " + std::to_string(run->exit_code) + ": " + run->err;
  return "";
}

Result<std::string> nftList(const std::string& family) {
  auto run = runProcess({"nft", "list", "table", family, "kube-proxy"});
  if (!run.ok()) return run.error();
  if (!run->succeeded()) return Error("nft list table: " + run->err);
  return run->out;
}

class KernelAcceptsNftablesDumps : public ::testing::TestWithParam<golden::GoldenCase> {};

TEST_P(KernelAcceptsNftablesDumps, LoadsWithNft) {
  const golden::GoldenCase& c = GetParam();
  ASSERT_FALSE(c.steps.empty()) << c.upstream;
  for (const auto& step : c.steps) {
    SCOPED_TRACE(c.name + (step.name.empty() ? "" : "/" + step.name));
    std::string out, err;
    ASSERT_EQ(cli::runRender(step.options, out, err), 0) << err;
    KPROXY_ENTER_FRESH_NETNS();
    const std::string problem = nftLoad(out);
    ASSERT_EQ(problem, "") << "dump:\n" << out;
    auto listed = nftList(familyOf(step.options));
    ASSERT_TRUE(listed.ok()) << listed.error().message;
    EXPECT_NE(listed->find("chain services"), std::string::npos) << *listed;
  }
}

TEST_P(KernelAcceptsNftablesDumps, TransactionsReachTheRenderedTable) {
  const golden::GoldenCase& c = GetParam();
  ASSERT_FALSE(c.steps.empty()) << c.upstream;
  // What loading each step's dump into an empty namespace gives.
  std::vector<std::string> reference;
  std::vector<std::string> transactions;
  for (const auto& step : c.steps) {
    std::string out, err;
    ASSERT_EQ(cli::runRender(step.options, out, err), 0) << err;
    cli::RenderOptions tx_options = step.options;
    tx_options.transaction = true;
    std::string tx;
    ASSERT_EQ(cli::runRender(tx_options, tx, err), 0) << err;
    transactions.push_back(tx);
    KPROXY_ENTER_FRESH_NETNS();
    ASSERT_EQ(nftLoad(out), "") << out;
    auto listed = nftList(familyOf(step.options));
    ASSERT_TRUE(listed.ok()) << listed.error().message;
    reference.push_back(canonicalListing(*listed));
  }
  // The same, reached one transaction at a time.
  KPROXY_ENTER_FRESH_NETNS();
  for (size_t i = 0; i < c.steps.size(); ++i) {
    SCOPED_TRACE(c.steps[i].name);
    ASSERT_EQ(nftLoad(transactions[i]), "") << transactions[i];
    auto listed = nftList(familyOf(c.steps[i].options));
    ASSERT_TRUE(listed.ok()) << listed.error().message;
    EXPECT_EQ(canonicalListing(*listed), reference[i]) << "transaction:\n" << transactions[i];
  }
}

// Hostile text in every quoted place the writer has (comments, interface names) loads as inert
// text: the kernel gets exactly the objects of the ruleset, nothing more.
TEST(NftablesWriterInTheKernel, HostileCommentsStayComments) {
  const std::string hostile[] = {
      std::string("a\"; flush ruleset; add table ip evil"),
      std::string("x\nadd table ip evil\n"),
      std::string("nul\0after", 9),
      std::string("back\\slash\\\" } ; add table ip evil { "),
  };
  // Interface names are at most 15 bytes for nft (longer ones are an error, not an injection).
  const std::string hostile_interfaces[] = {std::string("e\";drop;\""), std::string("i\nf\n"),
                                            std::string("n\0u", 3), std::string("b\\\"}*")};
  nftables::Ruleset r;
  r.chains.push_back(nftables::Chain{.name = "services", .base = std::nullopt, .comment = hostile[0], .rules = {}});
  for (size_t i = 0; i < 4; ++i) {
    r.chains[0].rules.push_back(nftables::Rule{
        {nftables::MatchInterface{false, hostile_interfaces[i]}, nftables::Verdict{nftables::Verdict::Kind::kAccept, {}}},
        hostile[i]});
  }
  nftables::Set map{.name = "no-endpoint-services", .is_map = true,
                    .type = "ipv4_addr . inet_proto . inet_service : verdict", .flags = {},
                    .timeout_seconds = std::nullopt, .comment = hostile[1], .elements = {}};
  uint16_t port = 1;
  for (const auto& h : hostile) {
    map.elements.push_back(nftables::Element{
        .key = nftables::ElementKey{.address = *IpAddress::parse("10.0.0.1"), .address2 = {},
                                    .protocol = api::Protocol::kTCP, .port = port++},
        .value = nftables::Verdict{nftables::Verdict::Kind::kDrop, {}},
        .comment = h});
  }
  r.sets.push_back(map);
  r.comment = hostile[3];
  KPROXY_ENTER_FRESH_NETNS();
  ASSERT_EQ(nftLoad(r.dump()), "") << r.dump();
  auto tables = runProcess({"nft", "list", "tables"});
  ASSERT_TRUE(tables.ok() && tables->succeeded());
  EXPECT_EQ(tables->out, "table ip kube-proxy\n");
  auto listed = nftList("ip");
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  // Exactly the four rules and the four elements, each with its (sanitised) comment.
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t pos = listed->find(needle); pos != std::string::npos; pos = listed->find(needle, pos + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(" accept comment \""), 4u) << *listed;
  EXPECT_EQ(count(" : drop"), 4u) << *listed;
  EXPECT_EQ(count("\tchain "), 1u) << *listed;
}

std::string caseName(const ::testing::TestParamInfo<golden::GoldenCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Nftables, KernelAcceptsNftablesDumps,
                         ::testing::ValuesIn(golden::discoverGoldenCases(fs::path(KPROXY_SOURCE_DIR) /
                                                                         "testdata/golden/nftables")),
                         caseName);

}  // namespace
}  // namespace kproxy::netns
