#include "netlink/nl_batch.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "netlink/errors.h"

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

namespace kproxy::netlink {
namespace {

constexpr int kReceiveBufferBytes = 4 * 1024 * 1024;
// Answers read per recvmmsg(); an acknowledgement is 36 bytes, an error one a little more.
constexpr size_t kAnswersPerRead = 64;
constexpr size_t kAnswerBytes = 1024;
// A dump datagram is at most 32 KiB (netlink_dump caps it at max_recvmsg_len <= 32768).
constexpr size_t kDumpBytes = 64 * 1024;
constexpr int kDumpAttempts = 5;

}  // namespace

void prepareBatchSocket(nl_sock* sock, int timeout_seconds) {
  const int fd = nl_socket_get_fd(sock);
  int size = kReceiveBufferBytes;
  // Root may exceed net.core.rmem_max; others get what SO_RCVBUF allows.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  timeval tv{.tv_sec = timeout_seconds, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  nl_socket_disable_seq_check(sock);
  nl_socket_disable_auto_ack(sock);
}

void AckedBatch::append(nl_msg* msg) {
  const nlmsghdr* hdr = nlmsg_hdr(msg);
  const size_t len = NLMSG_ALIGN(hdr->nlmsg_len);
  offsets_.push_back(bytes_.size());
  bytes_.resize(bytes_.size() + len);
  std::memcpy(bytes_.data() + offsets_.back(), hdr, hdr->nlmsg_len);
}

void AckedBatch::clear() {
  bytes_.clear();
  offsets_.clear();
}

std::vector<int> AckedBatch::send(nl_sock* sock, uint32_t& seq, Error* socket_error) {
  std::vector<int> answers(offsets_.size(), 0);
  const int fd = nl_socket_get_fd(sock);
  const uint32_t port = nl_socket_get_local_port(sock);

  std::vector<uint8_t> storage(kAnswersPerRead * kAnswerBytes);
  mmsghdr msgs[kAnswersPerRead];
  iovec iovs[kAnswersPerRead];

  size_t begin = 0;
  while (begin < offsets_.size()) {
    // One window: up to kWindow requests and kWindowBytes bytes (at least one request).
    size_t end = begin;
    const size_t first_byte = offsets_[begin];
    while (end < offsets_.size() && end - begin < kWindow) {
      const size_t next = end + 1 < offsets_.size() ? offsets_[end + 1] : bytes_.size();
      if (end > begin && next - first_byte > kWindowBytes) break;
      ++end;
    }
    const uint32_t base_seq = seq;
    for (size_t i = begin; i < end; ++i) {
      auto* hdr = reinterpret_cast<nlmsghdr*>(bytes_.data() + offsets_[i]);
      hdr->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
      hdr->nlmsg_seq = seq++;
      hdr->nlmsg_pid = port;
    }
    const size_t last_byte = end < offsets_.size() ? offsets_[end] : bytes_.size();
    sockaddr_nl kernel{.nl_family = AF_NETLINK};
    iovec iov{.iov_base = bytes_.data() + first_byte, .iov_len = last_byte - first_byte};
    msghdr mh{};
    mh.msg_name = &kernel;
    mh.msg_namelen = sizeof(kernel);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t sent;
    do {
      sent = sendmsg(fd, &mh, 0);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      const int err = errno;
      for (size_t i = begin; i < answers.size(); ++i) answers[i] = err;
      if (socket_error != nullptr) *socket_error = errnoError("netlink: send requests", err);
      return answers;
    }

    // Collect one answer per request of the window.
    size_t pending = end - begin;
    std::vector<bool> answered(pending, false);
    while (pending > 0) {
      for (size_t k = 0; k < kAnswersPerRead; ++k) {
        iovs[k] = {.iov_base = storage.data() + k * kAnswerBytes, .iov_len = kAnswerBytes};
        msgs[k] = {};
        msgs[k].msg_hdr.msg_iov = &iovs[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
      }
      const unsigned want = static_cast<unsigned>(std::min(pending, kAnswersPerRead));
      int got = recvmmsg(fd, msgs, want, MSG_WAITFORONE, nullptr);
      if (got < 0) {
        if (errno == EINTR) continue;
        // ENOBUFS: answers were dropped (receive buffer full); EAGAIN: timed out. Either way
        // the outcome of the unanswered requests is unknown.
        const int err = errno;
        for (size_t i = 0; i < answered.size(); ++i) {
          if (!answered[i]) answers[begin + i] = err;
        }
        for (size_t i = end; i < answers.size(); ++i) answers[i] = err;
        if (socket_error != nullptr) *socket_error = errnoError("netlink: read answers", err);
        return answers;
      }
      for (int k = 0; k < got; ++k) {
        const auto* buf = storage.data() + static_cast<size_t>(k) * kAnswerBytes;
        int len = static_cast<int>(msgs[k].msg_len);
        for (auto* hdr = reinterpret_cast<const nlmsghdr*>(buf); NLMSG_OK(hdr, len); hdr = NLMSG_NEXT(hdr, len)) {
          if (hdr->nlmsg_type != NLMSG_ERROR) continue;
          const uint32_t index = hdr->nlmsg_seq - base_seq;
          if (index >= answered.size() || answered[index]) continue;  // a stale answer
          const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(hdr));
          answers[begin + index] = -err->error;
          answered[index] = true;
          --pending;
        }
      }
    }
    begin = end;
  }
  return answers;
}

namespace {

// Sends `req` and reads its answers: every message of its sequence number goes to on_message until
// NLMSG_DONE (dumps) or the acknowledgement (other requests). `interrupted` reports NLM_F_DUMP_INTR.
Status exchange(int fd, nlmsghdr* req, bool dump, std::string_view what, uint8_t* buffer,
                const std::function<int(const nlmsghdr*)>& on_message, bool& interrupted) {
  ssize_t sent;
  do {
    sent = ::send(fd, req, req->nlmsg_len, 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return errnoError(std::string(what) + ": send request", errno);

  interrupted = false;
  int callback_error = 0;
  for (bool done = false; !done;) {
    ssize_t n = recv(fd, buffer, kDumpBytes, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoError(std::string(what) + ": read answer", errno);
    }
    int len = static_cast<int>(n);
    for (auto* hdr = reinterpret_cast<const nlmsghdr*>(buffer); NLMSG_OK(hdr, len); hdr = NLMSG_NEXT(hdr, len)) {
      if (hdr->nlmsg_seq != req->nlmsg_seq) continue;  // a stale answer of an earlier request
      if (hdr->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      if (hdr->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      if (hdr->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(hdr));
        if (err->error != 0) return errnoError(what, -err->error);
        if (!dump) {
          done = true;
          break;
        }
        continue;
      }
      if (hdr->nlmsg_type == NLMSG_NOOP || hdr->nlmsg_type == NLMSG_OVERRUN) continue;
      if (callback_error == 0) callback_error = on_message(hdr);
    }
  }
  if (callback_error != 0) return errnoError(std::string(what) + ": parse answer", callback_error);
  return okStatus();
}

}  // namespace

Status runDump(nl_sock* sock, uint32_t& seq, nl_msg* request, std::string_view what,
               const std::function<int(const nlmsghdr*)>& on_message, const std::function<void()>& on_restart) {
  nlmsghdr* req = nlmsg_hdr(request);
  req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  req->nlmsg_pid = nl_socket_get_local_port(sock);
  auto buffer = std::make_unique<uint8_t[]>(kDumpBytes);
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    if (attempt > 0 && on_restart) on_restart();
    req->nlmsg_seq = seq++;
    bool interrupted = false;
    if (auto s = exchange(nl_socket_get_fd(sock), req, true, what, buffer.get(), on_message, interrupted); !s.ok()) {
      return s;
    }
    if (!interrupted) return okStatus();
  }
  return errnoError(std::string(what) + ": the table kept changing during the dump", EINTR);
}

Status runGet(nl_sock* sock, uint32_t& seq, nl_msg* request, std::string_view what,
              const std::function<int(const nlmsghdr*)>& on_message) {
  nlmsghdr* req = nlmsg_hdr(request);
  req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  req->nlmsg_pid = nl_socket_get_local_port(sock);
  req->nlmsg_seq = seq++;
  auto buffer = std::make_unique<uint8_t[]>(kDumpBytes);
  bool interrupted = false;
  return exchange(nl_socket_get_fd(sock), req, false, what, buffer.get(), on_message, interrupted);
}

}  // namespace kproxy::netlink
