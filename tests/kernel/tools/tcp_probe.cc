// kproxy_tcp_probe: the TCP ends of the real-packet scenarios inside the VM (busybox-static's
// wget and nc crash there).
//   kproxy_tcp_probe serve PORT NAME   accept forever; answer each connection with "NAME\n", close
//   kproxy_tcp_probe get ADDR PORT     connect (5 s timeout), print what the server sends, exit 0;
//                                      exit 1 and print nothing when there is no answer
//   kproxy_tcp_probe serve-hold PORT NAME   like serve, but keeps each connection open until the
//                                      client closes it (one child process per connection)
//   kproxy_tcp_probe hold ADDR PORT    connect, print the first line, keep the connection open;
//                                      on SIGTERM reset it (RST: IPVS forgets it after 10 s)
//   kproxy_tcp_probe udp-serve PORT NAME  answer every UDP datagram with "NAME\n", forever
//   kproxy_tcp_probe udp-get ADDR PORT SPORT  send one datagram from source port SPORT (so that
//                                      repeated calls are one conntrack flow), print the answer
//                                      (2 s timeout); exit 1 and print nothing without one
//   kproxy_tcp_probe http ADDR PORT PATH   an HTTP/1.0 GET of PATH; prints the whole answer
//                                      (status line, headers, body) like get
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <csignal>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int serve(int port, const std::string& name) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 64) != 0) {
    std::perror("kproxy_tcp_probe serve");
    return 1;
  }
  const std::string reply = name + "\n";
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0) continue;
    if (write(c, reply.data(), reply.size()) < 0) {
      // the client went away; nothing to do
    }
    close(c);
  }
}

int serveHold(int port, const std::string& name) {
  signal(SIGCHLD, SIG_IGN);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 64) != 0) {
    std::perror("kproxy_tcp_probe serve-hold");
    return 1;
  }
  const std::string reply = name + "\n";
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0) continue;
    if (fork() == 0) {
      if (write(c, reply.data(), reply.size()) < 0) _exit(0);
      char buf[64];
      while (read(c, buf, sizeof(buf)) > 0) {
      }
      _exit(0);
    }
    close(c);
  }
}

int held_fd = -1;

void resetAndExit(int) {
  linger hard{1, 0};
  setsockopt(held_fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  close(held_fd);
  _exit(0);
}

int hold(const char* address, int port) {
  held_fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval five{.tv_sec = 5, .tv_usec = 0};
  setsockopt(held_fd, SOL_SOCKET, SO_SNDTIMEO, &five, sizeof(five));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address, &addr.sin_addr) != 1) return 2;
  if (connect(held_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return 1;
  signal(SIGTERM, resetAndExit);
  std::string line;
  char ch;
  while (read(held_fd, &ch, 1) == 1 && ch != '\n') line.push_back(ch);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  for (;;) pause();
}

// Connects, sends `request` (if any), prints everything the server sends until it closes.
int get(const char* address, int port, const std::string& request = "") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval five{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &five, sizeof(five));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof(five));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address, &addr.sin_addr) != 1) return 2;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return 1;
  if (!request.empty() && write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return 1;
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  close(fd);
  if (got.empty()) return 1;
  std::fwrite(got.data(), 1, got.size(), stdout);
  return 0;
}

int udpServe(int port, const std::string& name) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("kproxy_tcp_probe udp-serve");
    return 1;
  }
  const std::string reply = name + "\n";
  for (;;) {
    char buf[512];
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    if (recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &len) < 0) continue;
    sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
  }
}

int udpGet(const char* address, int port, int source_port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  timeval two{.tv_sec = 2, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &two, sizeof(two));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(static_cast<uint16_t>(source_port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return 2;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address, &addr.sin_addr) != 1) return 2;
  if (sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 1) return 1;
  char buf[512];
  const ssize_t n = recv(fd, buf, sizeof(buf), 0);
  close(fd);
  if (n <= 0) return 1;
  std::fwrite(buf, 1, static_cast<size_t>(n), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "serve") == 0) return serve(std::atoi(argv[2]), argv[3]);
  if (argc == 4 && std::strcmp(argv[1], "get") == 0) return get(argv[2], std::atoi(argv[3]));
  if (argc == 4 && std::strcmp(argv[1], "serve-hold") == 0) return serveHold(std::atoi(argv[2]), argv[3]);
  if (argc == 4 && std::strcmp(argv[1], "hold") == 0) return hold(argv[2], std::atoi(argv[3]));
  if (argc == 4 && std::strcmp(argv[1], "udp-serve") == 0) return udpServe(std::atoi(argv[2]), argv[3]);
  if (argc == 5 && std::strcmp(argv[1], "udp-get") == 0) return udpGet(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  if (argc == 5 && std::strcmp(argv[1], "http") == 0) {
    return get(argv[2], std::atoi(argv[3]), std::string("GET ") + argv[4] + " HTTP/1.0\r\n\r\n");
  }
  std::fprintf(stderr, "usage: kproxy_tcp_probe serve|serve-hold PORT NAME | get|hold ADDR PORT | http ADDR PORT PATH | udp-serve PORT NAME | udp-get ADDR PORT SPORT\n");
  return 2;
}
