// Where the API server is and how to authenticate to it: a kubeconfig file, the in-cluster
// service account, or just `--master`, combined as upstream kube-proxy's createClient does:
//
//   --kubeconfig "" and --master ""  -> in-cluster config (KUBERNETES_SERVICE_HOST/PORT, the
//                                       service account token and CA)
//   otherwise                        -> the kubeconfig file's current context (if a path is
//                                       given), with --master replacing its server
//
// Like upstream (clientcmd with an explicit path only), neither $KUBECONFIG nor ~/.kube/config
// is read. Relative paths inside a kubeconfig are relative to the file's directory.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "src/util/result.h"

namespace kproxy::watch {

// A PEM blob given either as a file or inline; `data` wins when both are set.
struct PemSource {
  std::string file;
  std::string data;

  bool empty() const { return file.empty() && data.empty(); }
};

struct ApiClientConfig {
  std::string server;  // "https://10.96.0.1:443" (no trailing slash)

  PemSource certificate_authority;  // empty: the system's CA store
  PemSource client_certificate;
  PemSource client_key;
  bool insecure_skip_tls_verify = false;

  // Bearer token. A token file is re-read whenever it changes on disk (service account token
  // rotation) and after a 401; it wins over `bearer_token`, as in client-go.
  std::string bearer_token;
  std::string bearer_token_file;
  // Basic authentication (kubeconfig username/password), when no token is set.
  std::string username;
  std::string password;

  std::string user_agent = "kproxy";

  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // Each list page as a whole.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
};

// The in-cluster environment, injectable for tests.
struct InClusterEnvironment {
  std::function<std::optional<std::string>(const std::string&)> getenv;  // null: ::getenv
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
};

// upstream rest.InClusterConfig: server https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
// (IPv6 hosts bracketed), the token file (which must be readable now) and the CA file.
Result<ApiClientConfig> inClusterConfig(const InClusterEnvironment& env = {});

// Reads a kubeconfig: the current context's cluster and user. Supported user fields: token,
// tokenFile, client-certificate(-data), client-key(-data), username/password; exec and
// auth-provider plugins are errors naming the user.
Result<ApiClientConfig> loadKubeconfig(const std::string& path);
// The same from text; `base_dir` resolves relative paths.
Result<ApiClientConfig> parseKubeconfig(const std::string& text, const std::string& base_dir);

// kube-proxy's choice between the above (see the top of this file). `master` overrides the
// server in every case where it is set.
Result<ApiClientConfig> buildApiClientConfig(const std::string& kubeconfig_path, const std::string& master,
                                             const InClusterEnvironment& env = {});

// Base64 (standard alphabet, padding optional, white space ignored), as kubeconfig *-data
// fields carry PEM.
Result<std::string> decodeBase64(std::string_view text);

}  // namespace kproxy::watch
