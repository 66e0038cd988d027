// Kubeconfig parsing, in-cluster configuration and kube-proxy's choice between them.
#include "src/watch/kubeconfig.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace kproxy::watch {
namespace {

using ::testing::HasSubstr;

// "PEM" in base64.
constexpr char kPemB64[] = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==";  // "-----BEGIN CERTIFICATE-----\n"

std::string kubeconfig(const std::string& cluster, const std::string& user, const std::string& current = "ctx") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: " + current +
         "\ncontexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\n- name: other\n  context:\n    cluster: "
         "missing\n    user: u\nclusters:\n- name: c\n  cluster:\n" +
         cluster + "users:\n- name: u\n  user:\n" + user;
}

// A short description of a config, for table comparisons.
std::string describe(const ApiClientConfig& c) {
  std::string out = "server=" + c.server;
  if (!c.certificate_authority.file.empty()) out += " ca-file=" + c.certificate_authority.file;
  if (!c.certificate_authority.data.empty()) out += " ca-data=" + std::to_string(c.certificate_authority.data.size()) + "B";
  if (!c.client_certificate.file.empty()) out += " cert-file=" + c.client_certificate.file;
  if (!c.client_certificate.data.empty()) out += " cert-data=" + std::to_string(c.client_certificate.data.size()) + "B";
  if (!c.client_key.file.empty()) out += " key-file=" + c.client_key.file;
  if (!c.client_key.data.empty()) out += " key-data=" + std::to_string(c.client_key.data.size()) + "B";
  if (c.insecure_skip_tls_verify) out += " insecure";
  if (!c.bearer_token.empty()) out += " token=" + c.bearer_token;
  if (!c.bearer_token_file.empty()) out += " token-file=" + c.bearer_token_file;
  if (!c.username.empty()) out += " basic=" + c.username + ":" + c.password;
  return out;
}

// `expected` is describe(config), or "error: <a substring of the message>".
void expectConfig(const Result<ApiClientConfig>& config, const std::string& expected) {
  if (expected.rfind("error: ", 0) == 0) {
    ASSERT_FALSE(config.ok()) << describe(*config);
    EXPECT_THAT(config.error().message, HasSubstr(expected.substr(7)));
  } else {
    ASSERT_TRUE(config.ok()) << config.error().message;
    EXPECT_EQ(describe(*config), expected);
  }
}

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kproxy-kubeconfig-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    write("token", "  secret-token\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  std::filesystem::path dir_;
};

TEST_F(KubeconfigTest, Parse) {
  struct Case {
    std::string name;
    std::string cluster, user;
    std::string expected;  // describe(), or "error: <substring>"
  };
  const std::string d = "/etc/kproxy";
  const std::vector<Case> cases = {
      {"token and CA file (relative to the kubeconfig)", "    server: https://10.0.0.1:6443/\n    certificate-authority: ca.crt\n",
       "    token: abc\n", "server=https://10.0.0.1:6443 ca-file=/etc/kproxy/ca.crt token=abc"},
      {"inline data", std::string("    server: https://api\n    certificate-authority-data: ") + kPemB64 + "\n",
       std::string("    client-certificate-data: ") + kPemB64 + "\n    client-key-data: " + kPemB64 + "\n",
       "server=https://api ca-data=28B cert-data=28B key-data=28B"},
      {"client certificate files", "    server: https://api\n    insecure-skip-tls-verify: true\n",
       "    client-certificate: /pki/c.crt\n    client-key: k.key\n",
       "server=https://api cert-file=/pki/c.crt key-file=/etc/kproxy/k.key insecure"},
      {"basic auth", "    server: https://api\n", "    username: admin\n    password: pw\n",
       "server=https://api basic=admin:pw"},
      {"bad base64", "    server: https://api\n    certificate-authority-data: '!!!'\n", "    token: x\n",
       "error: cluster \"c\": certificate-authority-data: invalid base64"},
      {"exec plugin", "    server: https://api\n", "    exec:\n      command: aws\n",
       "error: user \"u\": exec credential plugins are not supported"},
      {"cert without key", "    server: https://api\n", "    client-certificate: c.crt\n",
       "error: client-certificate and client-key must be given together"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    expectConfig(parseKubeconfig(kubeconfig(tc.cluster, tc.user), d), tc.expected);
  }
}

TEST_F(KubeconfigTest, ContextErrors) {
  auto missing_cluster = parseKubeconfig(kubeconfig("    server: https://api\n", "    token: t\n", "other"), "");
  ASSERT_FALSE(missing_cluster.ok());
  EXPECT_EQ(missing_cluster.error().message, "cluster \"missing\" of context \"other\" does not exist");
  auto missing_context = parseKubeconfig(kubeconfig("    server: https://api\n", "    token: t\n", "nope"), "");
  ASSERT_FALSE(missing_context.ok());
  EXPECT_EQ(missing_context.error().message, "context \"nope\" does not exist");
  auto not_yaml = parseKubeconfig("clusters: [", "");
  ASSERT_FALSE(not_yaml.ok());
  EXPECT_THAT(not_yaml.error().message, HasSubstr("cannot parse"));
}

TEST_F(KubeconfigTest, TokenFileMustBeReadable) {
  auto ok = parseKubeconfig(kubeconfig("    server: https://api\n", "    tokenFile: token\n"), dir_.string());
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->bearer_token_file, (dir_ / "token").string());
  auto missing = parseKubeconfig(kubeconfig("    server: https://api\n", "    tokenFile: nope\n"), dir_.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("user \"u\": tokenFile: cannot read"));
}

TEST_F(KubeconfigTest, InCluster) {
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
  InClusterEnvironment in_cluster{
      .getenv = [&](const std::string& k) -> std::optional<std::string> {
        auto it = env.find(k);
        if (it == env.end()) return std::nullopt;
        return it->second;
      },
      .token_file = (dir_ / "token").string(),
      .ca_file = write("ca.crt", "PEM"),
  };
  auto config = inClusterConfig(in_cluster);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(describe(*config), "server=https://10.96.0.1:443 ca-file=" + (dir_ / "ca.crt").string() +
                                   " token-file=" + (dir_ / "token").string());

  env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  EXPECT_EQ(inClusterConfig(in_cluster)->server, "https://[fd00::1]:443");

  // No CA file: the system roots (upstream logs and goes on).
  in_cluster.ca_file = (dir_ / "missing.crt").string();
  EXPECT_TRUE(inClusterConfig(in_cluster)->certificate_authority.empty());

  in_cluster.token_file = (dir_ / "missing-token").string();
  EXPECT_FALSE(inClusterConfig(in_cluster).ok());

  env.erase("KUBERNETES_SERVICE_PORT");
  auto outside = inClusterConfig(in_cluster);
  ASSERT_FALSE(outside.ok());
  EXPECT_THAT(outside.error().message, HasSubstr("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"));
}

TEST_F(KubeconfigTest, KubeProxyPrecedence) {
  const std::string path = write("kubeconfig", kubeconfig("    server: https://from-file:6443\n", "    token: t\n"));
  const std::string no_context = write("empty", "apiVersion: v1\nkind: Config\n");
  InClusterEnvironment no_cluster{.getenv = [](const std::string&) { return std::optional<std::string>(); }};
  struct Case {
    std::string name, kubeconfig, master, expected;
  };
  const std::vector<Case> cases = {
      {"kubeconfig", path, "", "server=https://from-file:6443 token=t"},
      {"--master overrides the server", path, "https://master:443/", "server=https://master:443 token=t"},
      {"--master alone", "", "http://127.0.0.1:8080", "server=http://127.0.0.1:8080"},
      {"host:port means https", "", "10.0.0.1:6443", "server=https://10.0.0.1:6443"},
      {"kubeconfig without a context and --master", no_context, "https://m", "server=https://m"},
      {"kubeconfig without a context", no_context, "", "error: no server defined"},
      {"neither: in-cluster", "", "", "error: must be defined"},
      {"missing file", (dir_ / "nope").string(), "", "error: kubeconfig: cannot read"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    expectConfig(buildApiClientConfig(tc.kubeconfig, tc.master, no_cluster), tc.expected);
  }
}

TEST(Base64Test, Decode) {
  EXPECT_EQ(*decodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(*decodeBase64("aGVs\nbG8"), "hello");
  EXPECT_EQ(*decodeBase64(""), "");
  EXPECT_FALSE(decodeBase64("a$b").ok());
  EXPECT_FALSE(decodeBase64("a").ok());
}

}  // namespace
}  // namespace kproxy::watch
