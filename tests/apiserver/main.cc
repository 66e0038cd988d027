// kproxy_test_apiserver: the test API server as a program (see test_apiserver.h), for tests in
// other processes and languages (the python-kubernetes check, `kproxy run` end-to-end tests).
//
//   kproxy_test_apiserver [--address A] [--port P] [--port-file F] [--tls-cert C --tls-key K]
//                         [--token T] [--bookmark-interval-ms N] [--objects FILE.json]
//
// Prints "listening on <port>" and writes the port to --port-file once it serves; runs until
// SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/apiserver/test_apiserver.h"

int main(int argc, char** argv) {
  kproxy::apiserver::ServerOptions options;
  std::string port_file, objects_file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--address") {
      options.address = value();
    } else if (arg == "--port") {
      options.port = std::atoi(value().c_str());
    } else if (arg == "--port-file") {
      port_file = value();
    } else if (arg == "--tls-cert") {
      options.tls_cert_file = value();
    } else if (arg == "--tls-key") {
      options.tls_key_file = value();
    } else if (arg == "--token") {
      options.token = value();
    } else if (arg == "--bookmark-interval-ms") {
      options.bookmark_interval = std::chrono::milliseconds(std::atoll(value().c_str()));
    } else if (arg == "--objects") {
      objects_file = value();
    } else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before the server's threads start

  kproxy::apiserver::TestApiServer server(options);
  if (!objects_file.empty()) {
    std::ifstream in(objects_file);
    auto applied = server.apply(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
    if (!applied.ok()) {
      std::fprintf(stderr, "%s: %s\n", objects_file.c_str(), applied.error().message.c_str());
      return 1;
    }
  }
  auto port = server.start();
  if (!port.ok()) {
    std::fprintf(stderr, "%s\n", port.error().message.c_str());
    return 1;
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << *port << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  std::printf("listening on %d\n", *port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  server.stop();
  return 0;
}
