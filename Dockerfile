# Build stage: Debian 12 with the toolchain and the -dev packages.
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config make python3 ca-certificates \
      libnl-3-dev libnl-genl-3-dev libnl-route-3-dev libipset-dev libnetfilter-conntrack-dev \
      libyaml-cpp-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev \
      libcurl4-openssl-dev libsimdjson-dev libssl-dev libcli11-dev libcpp-httplib-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKPROXY_BUILD_TESTS=OFF -DKPROXY_BUILD_BENCH=OFF \
    && cmake --build build --target kproxy

# Runtime stage: only the shared libraries and the tools kube-proxy drives.
FROM debian:12-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libnl-3-200 libnl-genl-3-200 libnl-route-3-200 libipset13 libnetfilter-conntrack3 \
      libyaml-cpp0.7 libspdlog1.10 libfmt9 libcurl4 libsimdjson14 libssl3 \
      iptables ipset conntrack nfacct kmod \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/kproxy /usr/local/bin/kproxy
RUN ln -s /usr/local/bin/kproxy /usr/local/bin/kube-proxy
ENTRYPOINT ["/usr/local/bin/kproxy"]
