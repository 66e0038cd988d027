#include "src/cli/cluster_input.h"

#include <sys/stat.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include "src/config/proxier_settings.h"
#include "src/util/mapped_file.h"

namespace kproxy::cli {
namespace {

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

Result<std::string> readInput(const std::string& path) {
  static std::optional<std::string> stdin_bytes;
  if (path == "-") {
    if (!stdin_bytes) {
      std::ostringstream ss;
      ss << std::cin.rdbuf();
      stdin_bytes = ss.str();
    }
    return *stdin_bytes;
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Error(path + ": cannot open: " + std::strerror(errno));
  const auto end = in.tellg();
  if (end < 0) {  // not a regular file (a pipe, a device): read it as a stream
    in.clear();
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return bytes;
  }
  const auto size = static_cast<size_t>(end);
  in.seekg(0);
  std::string bytes;
  // Spare capacity lets the JSON decoder parse in place instead of copying (api/decode.h).
  bytes.reserve(size + api::kManifestPadding);
  bytes.resize(size);
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (in.bad() || static_cast<size_t>(in.gcount()) != size) return Error(path + ": read error");
  return bytes;
}

Result<LoadedConfig> loadConfig(const std::string& path, std::vector<std::string>* errors) {
  LoadedConfig loaded;
  if (path.empty()) return loaded;
  auto bytes = readInput(path);
  if (!bytes.ok()) {
    errors->push_back(bytes.error().message);
    return bytes.error();
  }
  auto decoded = config::decodeConfiguration(*bytes, path == "-" ? "<stdin>" : path);
  if (!decoded.ok()) {
    errors->push_back(decoded.error().message);
    return decoded.error();
  }
  loaded.config = std::move(decoded->config);
  loaded.warnings = std::move(decoded->warnings);
  auto problems = config::validateConfiguration(loaded.config);
  for (const auto& e : problems) errors->push_back(path + ": " + e.message);
  if (!problems.empty()) return Error("invalid configuration");
  return loaded;
}

api::ClusterState loadManifests(const std::vector<std::string>& paths, std::vector<std::string>* errors) {
  std::vector<api::ManifestFile> files;
  for (const auto& path : paths) {
    struct stat st {};
    if (path != "-" && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      // Regular files are parsed in place from a mapping: a 50 MB dump is neither copied nor
      // backed by fresh pages.
      auto mapped = MappedFile::open(path, api::kManifestPadding);
      if (!mapped.ok()) {
        errors->push_back(mapped.error().message);
        continue;
      }
      api::ManifestFile file{.name = path};
      file.padded_text = (*mapped)->bytes();
      file.storage = *mapped;
      files.push_back(std::move(file));
      continue;
    }
    auto bytes = readInput(path);
    if (!bytes.ok()) {
      errors->push_back(bytes.error().message);
      continue;
    }
    files.push_back({path == "-" ? "<stdin>" : path, std::move(*bytes)});
  }
  auto result = api::decodeManifests(files);
  for (const auto& e : result.errors) errors->push_back(e.message);
  return std::move(result.state);
}

Result<std::string> resolveNodeName(const std::string& flag_override, const config::KubeProxyConfiguration& config) {
  if (!flag_override.empty()) {
    std::string name = lower(trim(flag_override));
    if (name.empty()) return Error("--hostname-override: empty hostname-override is invalid");
    return name;
  }
  if (!config.hostname_override.empty()) {
    std::string name = lower(trim(config.hostname_override));
    if (name.empty()) return Error("hostnameOverride: empty hostname-override is invalid");
    return name;
  }
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return Error("cannot determine the hostname; set --hostname-override");
  return lower(trim(buf));
}

const api::Node* findNode(const api::ClusterState& state, const std::string& node_name) {
  for (const auto& node : state.nodes) {
    if (node->meta.name == node_name) return node.get();
  }
  return nullptr;
}

Result<config::NodeFacts> loadNodeFacts(const std::string& path, const api::Node* node) {
  if (!path.empty()) {
    auto bytes = readInput(path);
    if (!bytes.ok()) return bytes.error();
    return config::decodeNodeFacts(*bytes, path == "-" ? "<stdin>" : path);
  }
  config::NodeFacts facts;
  facts.local_addresses.push_back(*InterfaceAddress::parse("127.0.0.1/8"));
  facts.local_addresses.push_back(*InterfaceAddress::parse("::1/128"));
  if (node != nullptr) {
    for (const auto& addr : node->addresses) {
      if (addr.type != "InternalIP" && addr.type != "ExternalIP") continue;
      auto ip = IpAddress::parseSloppy(addr.address);
      if (ip.ok()) facts.local_addresses.push_back(InterfaceAddress{*ip, ip->isV4() ? 32 : 128});
    }
  }
  return facts;
}

}  // namespace kproxy::cli
