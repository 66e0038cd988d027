#include "src/cli/verbs.h"

#include <cstdio>
#include <iostream>
#include <memory>

#include "src/cli/render_command.h"
#include "src/cli/version.h"

namespace kproxy::cli {

void writeStdout(std::string_view bytes) { std::fwrite(bytes.data(), 1, bytes.size(), stdout); }

Verb addRenderVerb(CLI::App& app) {
  auto options = std::make_shared<RenderOptions>();
  auto* cmd = app.add_subcommand("render", "Print what would be programmed for the given cluster state");
  cmd->add_option("-f,--filename", options->files, "Manifests (YAML/JSON, List, -o yaml dumps); - for stdin")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("--config", options->config_path, "KubeProxyConfiguration file");
  cmd->add_option("--node-facts", options->node_facts_path, "Node facts YAML (addresses, iptables features)");
  cmd->add_option("--hostname-override", options->hostname_override, "This node's name");
  cmd->add_option("--proxy-mode", options->proxy_mode, "iptables, ipvs or nftables (overrides the config file)");
  cmd->add_option("--ip-family", options->ip_family, "ipv4 or ipv6")->capture_default_str();
  cmd->add_option("--from", options->from, "Earlier complete cluster states, synced in order before -f")
      ->allow_extra_args(false);
  cmd->add_flag("--full-sync", options->full_sync, "Print the next sync as a full sync");
  cmd->add_flag("--transaction", options->transaction,
                "nftables: print the transaction(s) the last sync sends instead of the whole table");
  cmd->add_flag("--timings", options->timings, "Print the time of each stage (parse, track, render) to stderr");
  cmd->add_option("--output-dir", options->output_dir,
                  "Write files to this directory instead of stdout (ipvs: ipvsadm.txt, ipset.txt, kube-ipvs0.txt, "
                  "iptables.txt; iptables: iptables.txt; nftables: nftables.txt or transaction.txt)");
  return {cmd, [options] {
            std::string err;
            int code = runRender(*options, writeStdout, err);
            std::fflush(stdout);
            std::fwrite(err.data(), 1, err.size(), stderr);
            return code;
          }};
}

Verb addVersionVerb(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print the version");
  return {cmd, [] {
            std::cout << kVersionString << "\n";
            return 0;
          }};
}

}  // namespace kproxy::cli
