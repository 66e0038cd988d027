#include "src/cli/trace_command.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <memory>

#include "modes/common/restore_text.h"
#include "modes/iptables/packet_tracer.h"
#include "modes/ipvs/saved_state.h"
#include "modes/ipvs/tracer.h"
#include "src/cli/cluster_input.h"
#include "src/cli/offline_context.h"
#include "src/cli/verbs.h"

namespace kproxy::cli {
namespace {

using tracing::TraceMatch;
using tracing::TraceResult;

// This machine's interface addresses (getifaddrs), for --rules without --node-facts.
std::vector<IpAddress> hostAddresses() {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr) continue;
    if (ifa->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ifa->ifa_addr);
      out.push_back(IpAddress::fromBytes(IpFamily::kIPv4, reinterpret_cast<const uint8_t*>(&sin->sin_addr)));
    } else if (ifa->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ifa->ifa_addr);
      out.push_back(IpAddress::fromBytes(IpFamily::kIPv6, sin6->sin6_addr.s6_addr));
    }
  }
  freeifaddrs(list);
  return out;
}

std::vector<IpAddress> factAddresses(const config::NodeFacts& facts) {
  std::vector<IpAddress> out;
  for (const auto& a : facts.local_addresses) out.push_back(a.ip);
  return out;
}

void appendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string number(double v, const char* format = "%.10g") {
  char buf[32];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

void appendJsonMatch(std::string& out, const TraceMatch& m) {
  out += "{\"table\": ";
  appendJsonString(out, m.table);
  out += ", \"chain\": ";
  appendJsonString(out, m.chain);
  out += ", \"comment\": ";
  appendJsonString(out, m.comment);
  out += ", \"target\": ";
  appendJsonString(out, m.target);
  out += ", \"rule\": ";
  appendJsonString(out, m.rule);
  if (m.implied) out += ", \"implied\": true";
  out += "}";
}

std::string formatJson(const TraceResult& r) {
  std::string out = "{\"outputs\": [";
  for (size_t i = 0; i < r.outputs.size(); ++i) {
    if (i) out += ", ";
    appendJsonString(out, r.outputs[i].value);
  }
  out += "], \"masquerade\": ";
  out += r.masquerade ? "true" : "false";
  out += ", \"chains\": [";
  const auto chains = r.chainNames();
  for (size_t i = 0; i < chains.size(); ++i) {
    if (i) out += ", ";
    appendJsonString(out, chains[i]);
  }
  out += "], \"probabilities\": [";
  bool first = true;
  for (const auto& o : r.outputs) {
    if (!o.is_endpoint) continue;
    if (!first) out += ", ";
    first = false;
    out += "{\"endpoint\": ";
    appendJsonString(out, o.value);
    out += ", \"probability\": " + number(o.probability);
    if (o.masquerade) out += *o.masquerade ? ", \"masquerade\": true" : ", \"masquerade\": false";
    out += "}";
  }
  out += "], \"verdict\": ";
  appendJsonString(out, r.verdict());
  out += ", \"masqueradeRules\": [";
  for (size_t i = 0; i < r.masquerade_rules.size(); ++i) {
    if (i) out += ", ";
    appendJsonMatch(out, r.masquerade_rules[i]);
  }
  out += "], \"matches\": [";
  first = true;
  for (const auto& v : r.visits) {
    for (const auto& m : v.matches) {
      if (!first) out += ", ";
      first = false;
      appendJsonMatch(out, m);
    }
  }
  out += "]}\n";
  return out;
}

// `"comment"` or, for a rule without one, the rule itself.
std::string describe(const TraceMatch& m) {
  std::string s = m.comment.empty() ? "(" + m.rule + ")" : "\"" + m.comment + "\"";
  if (m.implied) s += " (implied)";
  return s;
}

std::string formatText(const tracing::TracePacket& packet, const TraceResult& r) {
  std::string out = "packet: " + packet.protocol + " " + packet.source.toString() + " -> " +
                    joinHostPort(packet.destination, packet.destination_port);
  if (!packet.in_interface.empty()) out += " in on " + packet.in_interface;
  out += "\n";
  if (r.filter_destination != packet.destination) {
    out += "(the filter chains see the destination after DNAT: " + r.filter_destination.toString() + ")\n";
  }
  out += "chains entered:\n";
  for (const auto& v : r.visits) {
    out += std::string(2 + 2 * v.depth, ' ') + v.table + " " + v.chain + ": ";
    if (v.matches.empty()) {
      out += "no rule matched";
    } else {
      for (size_t i = 0; i < v.matches.size(); ++i) {
        const auto& m = v.matches[i];
        if (i) out += "; ";
        out += describe(m) + " -> " + m.target;
        if (m.target == "DNAT") out += " " + m.dnat_to;
        if (m.probability) out += " (probability " + number(*m.probability) + ")";
      }
    }
    out += "\n";
  }
  size_t endpoints = 0;
  for (const auto& o : r.outputs) endpoints += o.is_endpoint ? 1 : 0;
  if (endpoints == 0) {
    out += "endpoints: none\n";
  } else {
    out += "endpoints (each branch of the random choice, with the probability it is chosen):\n";
    for (const auto& o : r.outputs) {
      if (!o.is_endpoint) continue;
      out += "  " + o.value + "  " + number(o.probability * 100.0, "%.2f") + "%";
      if (o.masquerade) out += *o.masquerade ? "  (masqueraded)" : "  (not masqueraded)";
      out += "\n";
    }
  }
  if (r.masquerade) {
    const bool partly = std::any_of(r.outputs.begin(), r.outputs.end(), [](const auto& o) { return o.masquerade.has_value(); });
    out += partly ? "masquerade: for the endpoints marked above (the backend sees this node's address as the source), by:\n"
                  : "masquerade: yes (the backend sees this node's address as the source), marked by:\n";
    for (const auto& m : r.masquerade_rules) out += "  " + m.table + " " + m.chain + " " + describe(m) + ": " + m.rule + "\n";
  } else {
    out += "masquerade: no (no rule " + r.masquerade_mechanism +
           "; the backend sees the client's source address)\n";
  }
  const std::string verdict = r.verdict();
  out += "verdict: ";
  if (!verdict.empty()) {
    out += verdict;
    auto decided = [&]() -> const TraceMatch* {
      for (const auto& v : r.visits) {
        for (const auto& m : v.matches) {
          if (m.target == verdict) return &m;
        }
      }
      return nullptr;
    }();
    if (decided != nullptr) out += " by " + decided->table + " " + decided->chain + " " + describe(*decided);
    if (endpoints != 0) out += " (after DNAT)";
    out += "\n";
  } else if (endpoints == 1) {
    out += "DNAT to " + r.outputs.front().value + "\n";
  } else if (endpoints > 1) {
    out += "DNAT to one of " + std::to_string(endpoints) + " endpoints\n";
  } else {
    out += "none: no kproxy rule handles this packet, it continues unchanged\n";
  }
  return out;
}

Result<int> parsePortOption(const std::string& text) {
  int port = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || port < 1 || port > 65535) {
    return Error("--dport: \"" + text + "\" is not a port number (1-65535)");
  }
  return port;
}

}  // namespace

int runTrace(const TraceOptions& options, std::string& out, std::string& err) {
  out.clear();
  std::vector<std::string> errors;
  auto fail = [&]() {
    for (const auto& e : errors) err += "error: " + e + "\n";
    return 2;
  };

  // The command line first, all problems together.
  if (options.output != "text" && options.output != "json") {
    errors.push_back("-o: \"" + options.output + "\" is not text or json");
  }
  const bool from_rules = !options.rules_path.empty();
  if (from_rules && !options.files.empty()) {
    errors.push_back("trace: give either -f FILE... or --rules FILE, not both");
  } else if (!from_rules && options.files.empty()) {
    errors.push_back("trace: one of -f FILE... or --rules FILE is required");
  }
  if (from_rules && options.files.empty()) {
    if (!options.proxy_mode.empty()) errors.push_back("--proxy-mode: only with -f (--rules is iptables text)");
    if (!options.from.empty()) errors.push_back("--from: only with -f");
    if (!options.config_path.empty()) errors.push_back("--config: only with -f");
    if (!options.hostname_override.empty()) errors.push_back("--hostname-override: only with -f");
    if (!options.proxy_mode.empty()) errors.push_back("--proxy-mode: only with -f");
  }
  if (!from_rules && (!options.ipsets_path.empty() || !options.ipvs_path.empty())) {
    errors.push_back("--ipsets and --ipvs: only with --rules");
  }
  if (options.rules_path == "-" && (options.ipsets_path == "-" || options.ipvs_path == "-")) {
    errors.push_back("only one of --rules, --ipsets and --ipvs can read stdin");
  }
  tracing::TracePacket packet;
  auto parseAddress = [&](const std::string& flag, const std::string& text, IpAddress* ip) {
    if (text.empty()) {
      errors.push_back(flag + " is required");
      return false;
    }
    auto parsed = IpAddress::parse(text);
    if (!parsed.ok()) {
      errors.push_back(flag + ": \"" + text + "\" is not an IP address");
      return false;
    }
    *ip = *parsed;
    return true;
  };
  const bool src_ok = parseAddress("--src", options.src, &packet.source);
  const bool dst_ok = parseAddress("--dst", options.dst, &packet.destination);
  if (src_ok && dst_ok && packet.source.family() != packet.destination.family()) {
    errors.push_back("--src " + options.src + " and --dst " + options.dst + " are not of the same IP family");
  }
  if (options.dport.empty()) {
    errors.push_back("--dport is required");
  } else if (auto port = parsePortOption(options.dport); !port.ok()) {
    errors.push_back(port.error().message);
  } else {
    packet.destination_port = *port;
  }
  packet.protocol.clear();
  for (char c : options.protocol) packet.protocol.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (packet.protocol != "tcp" && packet.protocol != "udp" && packet.protocol != "sctp") {
    errors.push_back("--protocol: \"" + options.protocol + "\" is not tcp, udp or sctp");
  }
  packet.in_interface = options.in_interface;
  std::string family = options.ip_family;
  if (family.empty() && dst_ok) family = packet.destination.isV4() ? "ipv4" : "ipv6";
  if (!options.ip_family.empty()) {
    if (family != "ipv4" && family != "ipv6") {
      errors.push_back("--ip-family: \"" + family + "\" is not ipv4 or ipv6");
    } else if (dst_ok && (family == "ipv4") != packet.destination.isV4()) {
      errors.push_back("--ip-family " + family + " does not match --dst " + options.dst);
    }
  }
  if (!errors.empty()) return fail();

  // The state to trace: the rules given, or what the offline syncs left.
  std::unique_ptr<tracing::Tracer> tracer;
  if (from_rules) {
    auto bytes = readInput(options.rules_path);
    if (!bytes.ok()) {
      errors.push_back(bytes.error().message);
      return fail();
    }
    const std::string name = options.rules_path == "-" ? "<stdin>" : options.rules_path;
    auto parsed = restore::parseRestoreText(restore::withoutRuleCounters(*bytes));
    if (!parsed.ok()) {
      errors.push_back("--rules " + name + ": " + parsed.error().message);
      return fail();
    }
    if (parsed->find("nat") == nullptr && parsed->find("filter") == nullptr) {
      errors.push_back("--rules " + name + ": no nat or filter table (expected iptables-save or iptables-restore text)");
      return fail();
    }
    std::vector<IpAddress> local;
    if (!options.node_facts_path.empty()) {
      auto facts = loadNodeFacts(options.node_facts_path, nullptr);
      if (!facts.ok()) {
        errors.push_back(facts.error().message);
        return fail();
      }
      local = factAddresses(*facts);
    } else {
      local = hostAddresses();
    }
    if (!options.ipsets_path.empty() || !options.ipvs_path.empty()) {
      ipvs::IpvsState state;
      state.family = packet.destination.family();
      if (!options.ipsets_path.empty()) {
        auto text = readInput(options.ipsets_path);
        auto sets = text.ok() ? ipvs::parseIpsetSave(*text) : Result<std::vector<ipvs::IpSet>>(text.error());
        if (!sets.ok()) {
          errors.push_back("--ipsets " + options.ipsets_path + ": " + sets.error().message);
          return fail();
        }
        state.ipsets = std::move(*sets);
      }
      if (!options.ipvs_path.empty()) {
        auto text = readInput(options.ipvs_path);
        auto servers = text.ok() ? ipvs::parseIpvsadmSave(*text) : Result<std::vector<ipvs::VirtualServer>>(text.error());
        if (!servers.ok()) {
          errors.push_back("--ipvs " + options.ipvs_path + ": " + servers.error().message);
          return fail();
        }
        state.virtual_servers = std::move(*servers);
      }
      // IPVS mode binds every virtual server's address that is not a node address on kube-ipvs0.
      for (const auto& vs : state.virtual_servers) {
        if (vs.family() == state.family) state.kube_ipvs0_addresses.push_back(vs.address);
      }
      auto compiled = ipvs::IpvsTracer::create(*parsed, state, local);
      if (!compiled.ok()) {
        errors.push_back("--rules: " + compiled.error().message);
        return fail();
      }
      tracer = std::make_unique<ipvs::IpvsTracer>(std::move(*compiled));
    }
    if (!tracer) {
      auto compiled = iptables::PacketTracer::create(*parsed, local);
      if (!compiled.ok()) {
        errors.push_back("--rules: " + compiled.error().message);
        return fail();
      }
      tracer = std::make_unique<iptables::PacketTracer>(std::move(*compiled));
    }
  } else {
    RenderOptions render{.files = options.files,
                         .config_path = options.config_path,
                         .node_facts_path = options.node_facts_path,
                         .hostname_override = options.hostname_override,
                         .proxy_mode = options.proxy_mode,
                         .ip_family = family,
                         .from = options.from,
                         .full_sync = false};
    auto synced = runOfflineSyncs(render, /*for_trace=*/true, err);
    if (!synced) return 2;
    auto offline = synced->proxier->tracer(factAddresses(synced->node_facts));
    if (!offline.ok()) {
      errors.push_back(offline.error().message);
      return fail();
    }
    tracer = std::move(*offline);
  }
  const TraceResult result = tracer->trace(packet);
  if (result.limit_reached) {
    std::string message = "trace: the packet entered more than ";
    message += std::to_string(tracing::kMaxChainEntries);
    message += " chains or met more than ";
    message += std::to_string(tracing::kMaxRulesExamined);
    message += " rules; the rules jump to the same chains over and over, which kproxy does not trace";
    errors.push_back(std::move(message));
    return fail();
  }

  out = options.output == "json" ? formatJson(result) : formatText(packet, result);
  return 0;
}

Verb addTraceVerb(CLI::App& app) {
  auto options = std::make_shared<TraceOptions>();
  auto* cmd = app.add_subcommand("trace", "Trace where a packet goes: chains, endpoints, masquerade and verdict");
  cmd->add_option("-f,--filename", options->files, "Manifests (YAML/JSON, List, -o yaml dumps); - for stdin")
      ->allow_extra_args(false);
  cmd->add_option("--config", options->config_path, "KubeProxyConfiguration file (with -f)");
  cmd->add_option("--hostname-override", options->hostname_override, "This node's name (with -f)");
  cmd->add_option("--proxy-mode", options->proxy_mode, "iptables, nftables or ipvs (with -f; overrides the config file)");
  cmd->add_option("--ip-family", options->ip_family, "ipv4 or ipv6 (default: the family of --dst)");
  cmd->add_option("--from", options->from, "Earlier complete cluster states, synced in order before -f")
      ->allow_extra_args(false);
  cmd->add_option("--rules", options->rules_path,
                  "iptables-save or iptables-restore text taken as the whole kernel state; - for stdin");
  cmd->add_option("--ipsets", options->ipsets_path,
                  "With --rules: `ipset save` text of an IPVS-mode node (traces IPVS mode); - for stdin");
  cmd->add_option("--ipvs", options->ipvs_path,
                  "With --rules: `ipvsadm -S -n` text of an IPVS-mode node (traces IPVS mode); - for stdin");
  cmd->add_option("--node-facts", options->node_facts_path,
                  "Node facts YAML; its localAddresses match --src-type/--dst-type LOCAL");
  cmd->add_option("--src", options->src, "Source IP address of the packet");
  cmd->add_option("--dst", options->dst, "Destination IP address of the packet");
  cmd->add_option("--dport", options->dport, "Destination port of the packet");
  cmd->add_option("--protocol", options->protocol, "tcp, udp or sctp")->capture_default_str();
  cmd->add_option("--in-interface", options->in_interface,
                  "Interface the packet arrives on (rules with -i match only when it is given)");
  cmd->add_option("-o,--output", options->output, "text or json")->capture_default_str();
  return {cmd, [options] {
            std::string out, err;
            int code = runTrace(*options, out, err);
            writeStdout(out);
            std::fflush(stdout);
            std::fwrite(err.data(), 1, err.size(), stderr);
            return code;
          }};
}

}  // namespace kproxy::cli
