// Owner types of every C handle kproxy uses, declared once (design.md convention 4).
#pragma once

#include <netlink/msg.h>
#include <netlink/socket.h>

#include "src/util/unique_handle.h"

namespace kproxy::netlink {

using NlSocket = UniqueHandle<nl_sock, nl_socket_free>;
using NlMsg = UniqueHandle<nl_msg, nlmsg_free>;

}  // namespace kproxy::netlink
