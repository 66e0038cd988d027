// Owner types of every C handle kproxy uses, declared once (design.md convention 4).
#pragma once

#include <libipset/session.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include "src/util/unique_handle.h"

namespace kproxy::netlink {

using NlSocket = UniqueHandle<nl_sock, nl_socket_free>;
using NlMsg = UniqueHandle<nl_msg, nlmsg_free>;
using NlCache = UniqueHandle<nl_cache, nl_cache_free>;
using NlAddr = UniqueHandle<nl_addr, nl_addr_put>;
using RtnlLink = UniqueHandle<rtnl_link, rtnl_link_put>;
using RtnlAddr = UniqueHandle<rtnl_addr, rtnl_addr_put>;
using IpsetSession = UniqueHandle<ipset_session, ipset_session_fini>;

}  // namespace kproxy::netlink
