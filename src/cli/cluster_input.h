// Loading what the offline verbs (render, trace, diff) take from the command line: manifests, a
// KubeProxyConfiguration, node facts. Every problem becomes one line naming the file (and line,
// object and field where known); callers print them and exit 2 without writing to stdout.
#pragma once

#include <string>
#include <vector>

#include "src/api/decode.h"
#include "src/config/kube_proxy_configuration.h"
#include "src/config/node_facts.h"

namespace kproxy::cli {

// Reads a file, "-" meaning standard input (read once; later reads of "-" get the same bytes).
Result<std::string> readInput(const std::string& path);

struct LoadedConfig {
  config::KubeProxyConfiguration config;
  std::vector<std::string> warnings;
};
// Decodes and validates `path`; an empty path gives the defaults.
Result<LoadedConfig> loadConfig(const std::string& path, std::vector<std::string>* errors);

// Decodes all manifest files into one cluster state; appends one message per problem to errors.
api::ClusterState loadManifests(const std::vector<std::string>& paths, std::vector<std::string>* errors);

// Upstream's node name: --hostname-override (trimmed, lower-cased), else the configuration's
// hostnameOverride, else the OS hostname, lower-cased.
Result<std::string> resolveNodeName(const std::string& flag_override, const config::KubeProxyConfiguration& config);

// The Node named `node_name` in `state`, or null.
const api::Node* findNode(const api::ClusterState& state, const std::string& node_name);

// Node facts from `path`, or when empty the defaults: the Node's status addresses as host
// prefixes plus loopback, nothing else probed.
Result<config::NodeFacts> loadNodeFacts(const std::string& path, const api::Node* node);

}  // namespace kproxy::cli
