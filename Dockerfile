# kproxy as a kube-proxy image: a drop-in for registry.k8s.io/kube-proxy in kubeadm's DaemonSet,
# whose command line (/usr/local/bin/kube-proxy --config=... --hostname-override=...) runs unchanged.
#
#   docker build -t kproxy:0.1.0 .
#   docker run --rm kproxy:0.1.0 --version          # Kubernetes v1.33.0+kproxy.0.1.0
#
# `make image-test` builds it with podman from Debian 12 bases made locally with mmdebstrap
# (imported as debian:bookworm and debian:bookworm-slim, built with --pull=never) and runs it:
# --version, render, and sync/diff/cleanup/run with only NET_ADMIN (tests/image/image-test).
# .dockerignore keeps build trees out of the context.

# ---- Build stage: Debian 12 with the toolchain and the -dev packages (no tests, no benchmarks).
FROM debian:bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates cmake g++ ninja-build pkg-config \
      libcli11-dev libcpp-httplib-dev libcurl4-openssl-dev libfmt-dev libipset-dev libmnl-dev \
      libnetfilter-conntrack-dev libnftnl-dev libnl-3-dev libnl-genl-3-dev libnl-route-3-dev \
      libsimdjson-dev libspdlog-dev libssl-dev libyaml-cpp-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the kproxy target is built from (tests/ and bench/ are switched off below).
COPY CMakeLists.txt ./
COPY src ./src
COPY modes ./modes
COPY netlink ./netlink
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DKPROXY_BUILD_TESTS=OFF -DKPROXY_BUILD_BENCH=OFF \
    && cmake --build /build --target kproxy \
    && strip /build/kproxy

# ---- Runtime stage: the shared libraries kproxy links and the tools kube-proxy drives.
FROM debian:bookworm-slim
# iptables brings iptables-legacy and iptables-nft (kproxy picks the back end the node uses, as
# the upstream image's wrapper does); ipset and conntrack for debugging and IPVS mode; nfacct for
# the nfacct counters; kmod (modprobe) for the IPVS modules.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libbrotli1 libcpp-httplib0.11 libcurl4 libfmt9 libipset13 libmnl0 libnetfilter-conntrack3 \
      libnfnetlink0 libnftnl11 libnl-3-200 libnl-genl-3-200 libnl-route-3-200 libsimdjson14 libspdlog1.10 \
      libssl3 libstdc++6 libyaml-cpp0.7 zlib1g \
      conntrack ipset iptables kmod nfacct \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/kproxy /usr/local/bin/kproxy
# The binary called as kube-proxy runs `kproxy run` with kube-proxy's flags.
RUN ln -s kproxy /usr/local/bin/kube-proxy \
    && if ldd /usr/local/bin/kproxy | grep -q 'not found'; then ldd /usr/local/bin/kproxy; exit 1; fi \
    && /usr/local/bin/kube-proxy --version
# kubeadm's DaemonSet sets `command:` (which replaces this); `docker run IMAGE --flags` works too.
ENTRYPOINT ["/usr/local/bin/kube-proxy"]
