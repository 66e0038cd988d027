// kproxy: parses the verb, runs it, maps the result to an exit code. This is the only place that
// wires real clients together.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "src/cli/render_command.h"
#include "src/util/huge_pages.h"

namespace {

constexpr const char* kVersion = "kproxy 0.1.0 (kube-proxy v1.33 compatible)";

int writeOutput(int code, const std::string& out, const std::string& err) {
  if (!out.empty()) std::fwrite(out.data(), 1, out.size(), stdout);
  if (!err.empty()) std::fwrite(err.data(), 1, err.size(), stderr);
  std::fflush(stdout);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  kproxy::reexecWithHugePageMalloc(argv);
  CLI::App app{"kproxy: a kube-proxy replacement (iptables and IPVS modes) that is easy to debug"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);

  kproxy::cli::RenderOptions render;
  auto* render_cmd = app.add_subcommand("render", "Print what would be programmed for the given cluster state");
  render_cmd->add_option("-f,--filename", render.files, "Manifests (YAML/JSON, List, -o yaml dumps); - for stdin")
      ->required()
      ->allow_extra_args(false);
  render_cmd->add_option("--config", render.config_path, "KubeProxyConfiguration file");
  render_cmd->add_option("--node-facts", render.node_facts_path, "Node facts YAML (addresses, iptables features)");
  render_cmd->add_option("--hostname-override", render.hostname_override, "This node's name");
  render_cmd->add_option("--proxy-mode", render.proxy_mode, "iptables (ipvs: not yet)");
  render_cmd->add_option("--ip-family", render.ip_family, "ipv4 or ipv6")->capture_default_str();
  render_cmd->add_option("--from", render.from, "Earlier complete cluster states, synced in order before -f")
      ->allow_extra_args(false);
  render_cmd->add_flag("--full-sync", render.full_sync, "Print the next sync as a full sync");

  auto* version_cmd = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }

  if (version_cmd->parsed()) {
    std::cout << kVersion << "\n";
    return 0;
  }
  if (render_cmd->parsed()) {
    std::string err;
    int code = kproxy::cli::runRender(
        render, [](std::string_view piece) { std::fwrite(piece.data(), 1, piece.size(), stdout); }, err);
    return writeOutput(code, "", err);
  }
  return 2;
}
