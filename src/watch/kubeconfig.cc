#include "src/watch/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace kproxy::watch {
namespace {

std::optional<std::string> envValue(const InClusterEnvironment& env, const std::string& name) {
  if (env.getenv) return env.getenv(name);
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error("cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string resolvePath(const std::string& path, const std::string& base_dir) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

std::string stripTrailingSlashes(std::string server) {
  while (server.size() > 1 && server.back() == '/') server.pop_back();
  return server;
}

// The entry of a named list ("clusters", "users", "contexts") whose name is `name`: its
// `field` map ("cluster", "user", "context").
YAML::Node findNamed(const YAML::Node& root, const char* list, const char* field, const std::string& name) {
  const YAML::Node entries = root[list];
  if (!entries || !entries.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& entry : entries) {
    if (entry["name"] && entry["name"].as<std::string>() == name) return entry[field];
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string scalar(const YAML::Node& map, const char* key) {
  if (!map || !map.IsMap()) return "";
  const YAML::Node v = map[key];
  if (!v || !v.IsScalar()) return "";
  return v.as<std::string>();
}

// A *-data field (base64 PEM) or the file field beside it.
Status readPem(const YAML::Node& map, const char* file_key, const char* data_key, const std::string& base_dir,
               const std::string& what, PemSource& out) {
  std::string data = scalar(map, data_key);
  if (!data.empty()) {
    auto decoded = decodeBase64(data);
    if (!decoded.ok()) return decoded.error().wrap(what + ": " + data_key);
    out.data = std::move(*decoded);
    return okStatus();
  }
  out.file = resolvePath(scalar(map, file_key), base_dir);
  return okStatus();
}

}  // namespace

Result<std::string> decodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    int v = value(c);
    if (v < 0 || padding) return Error("invalid base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return Error("invalid base64 (truncated)");
  return out;
}

Result<ApiClientConfig> inClusterConfig(const InClusterEnvironment& env) {
  auto host = envValue(env, "KUBERNETES_SERVICE_HOST");
  auto port = envValue(env, "KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    // upstream: rest.ErrNotInCluster
    return Error(
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
        "defined");
  }
  // The token must be readable now (upstream reads it once here); the transport re-reads it
  // when it changes.
  auto token = readFile(env.token_file);
  if (!token.ok()) return token.error().wrap("in-cluster configuration");
  ApiClientConfig config;
  const bool ipv6 = host->find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;
  config.bearer_token_file = env.token_file;
  // upstream: an unreadable CA is logged and the system roots are used.
  if (std::ifstream(env.ca_file).good()) config.certificate_authority.file = env.ca_file;
  return config;
}

Result<ApiClientConfig> parseKubeconfig(const std::string& text, const std::string& base_dir) {
  try {
    YAML::Node root = YAML::Load(text);
    if (!root || root.IsNull()) return Error("empty kubeconfig");
    if (!root.IsMap()) return Error("kubeconfig is not a map");
    const std::string current = scalar(root, "current-context");
    // Without a current context only --master can say where the server is (as in clientcmd).
    if (current.empty()) return ApiClientConfig{};
    const YAML::Node context = findNamed(root, "contexts", "context", current);
    if (!context || !context.IsMap()) return Error("context \"" + current + "\" does not exist");
    const std::string cluster_name = scalar(context, "cluster");
    const std::string user_name = scalar(context, "user");

    ApiClientConfig config;
    const YAML::Node cluster = findNamed(root, "clusters", "cluster", cluster_name);
    if (!cluster || !cluster.IsMap()) return Error("cluster \"" + cluster_name + "\" of context \"" + current + "\" does not exist");
    config.server = stripTrailingSlashes(scalar(cluster, "server"));
    const std::string what = "cluster \"" + cluster_name + "\"";
    if (auto s = readPem(cluster, "certificate-authority", "certificate-authority-data", base_dir, what,
                         config.certificate_authority);
        !s.ok()) {
      return s.error();
    }
    if (cluster["insecure-skip-tls-verify"]) config.insecure_skip_tls_verify = cluster["insecure-skip-tls-verify"].as<bool>();
    if (!scalar(cluster, "tls-server-name").empty()) return Error(what + ": tls-server-name is not supported");
    if (!scalar(cluster, "proxy-url").empty()) return Error(what + ": proxy-url is not supported (set https_proxy instead)");

    if (!user_name.empty()) {
      const YAML::Node user = findNamed(root, "users", "user", user_name);
      if (!user) return Error("user \"" + user_name + "\" of context \"" + current + "\" does not exist");
      const std::string who = "user \"" + user_name + "\"";
      if (user.IsMap()) {
        if (user["exec"]) return Error(who + ": exec credential plugins are not supported");
        if (user["auth-provider"]) return Error(who + ": auth-provider plugins are not supported");
        config.bearer_token = scalar(user, "token");
        config.bearer_token_file = resolvePath(scalar(user, "tokenFile"), base_dir);
        if (config.bearer_token.empty() && !config.bearer_token_file.empty()) {
          // upstream reads it at load time; a missing file is an error now, not at the first request.
          auto token = readFile(config.bearer_token_file);
          if (!token.ok()) return token.error().wrap(who + ": tokenFile");
        }
        config.username = scalar(user, "username");
        config.password = scalar(user, "password");
        if (auto s = readPem(user, "client-certificate", "client-certificate-data", base_dir, who, config.client_certificate);
            !s.ok()) {
          return s.error();
        }
        if (auto s = readPem(user, "client-key", "client-key-data", base_dir, who, config.client_key); !s.ok()) {
          return s.error();
        }
        if (config.client_certificate.empty() != config.client_key.empty()) {
          return Error(who + ": client-certificate and client-key must be given together");
        }
      }
    }
    return config;
  } catch (const YAML::Exception& e) {
    return Error(std::string("cannot parse: ") + e.what());
  }
}

Result<ApiClientConfig> loadKubeconfig(const std::string& path) {
  auto text = readFile(path);
  if (!text.ok()) return Error("kubeconfig: " + text.error().message);
  std::string base_dir;
  if (auto slash = path.rfind('/'); slash != std::string::npos) base_dir = path.substr(0, slash == 0 ? 1 : slash);
  auto config = parseKubeconfig(*text, base_dir);
  if (!config.ok()) return config.error().wrap("kubeconfig " + path);
  return config;
}

Result<ApiClientConfig> buildApiClientConfig(const std::string& kubeconfig_path, const std::string& master,
                                             const InClusterEnvironment& env) {
  // upstream cmd/kube-proxy/app/server.go createClient
  if (kubeconfig_path.empty() && master.empty()) return inClusterConfig(env);
  ApiClientConfig config;
  if (!kubeconfig_path.empty()) {
    auto loaded = loadKubeconfig(kubeconfig_path);
    if (!loaded.ok()) return loaded.error();
    config = std::move(*loaded);
  }
  if (!master.empty()) config.server = stripTrailingSlashes(master);
  if (config.server.empty()) {
    return Error("kubeconfig " + kubeconfig_path + ": no server defined (is current-context set?) and no --master");
  }
  if (config.server.rfind("http://", 0) != 0 && config.server.rfind("https://", 0) != 0) {
    // client-go accepts "host:port" and means https.
    config.server = "https://" + config.server;
  }
  return config;
}

}  // namespace kproxy::watch
