# kproxy: `make demo` and `make test` work on a fresh Debian 12 machine as root; they install
# whatever Debian packages are missing first. `make build` leaves the binary at build/kproxy.
SHELL := /bin/bash
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
RELEASE_BUILD_DIR ?= build-release
FUZZ_BUILD_DIR ?= build-fuzz
# `make fuzz`: seconds per fuzz target (one after the other, one core each);
# `make fuzz-smoke`: seconds per target, two targets at a time (CI).
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4
JOBS ?= $(shell nproc)
CI ?=

# Build tools and libraries, plus the tools the kernel tests drive (tests/kernel/vm-run also
# downloads linux-image-cloud-amd64 and busybox-static with apt-get download, without installing
# them).
DEBIAN_PACKAGES := cmake ninja-build g++ pkg-config python3 \
  libnl-3-dev libnl-genl-3-dev libnl-route-3-dev libipset-dev libnetfilter-conntrack-dev \
  libyaml-cpp-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev \
  libcurl4-openssl-dev libsimdjson-dev libssl-dev libcli11-dev libcpp-httplib-dev \
  iptables ipset conntrack nfacct nftables iproute2 python3-kubernetes openssl \
  qemu-system-x86 kmod cpio ipvsadm binutils

CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
ifeq ($(CI),true)
CMAKE_FLAGS += -DKPROXY_WERROR=ON
endif

.PHONY: all deps build build-release demo test test-asan test-crash-safety bench clean image-test fuzz-deps fuzz-build fuzz fuzz-smoke

all: build

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:" $$missing; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: run as root to install packages" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	@echo "# kproxy render -f testdata/examples/cluster.yaml --config testdata/examples/config.yaml" >&2
	@./$(BUILD_DIR)/kproxy render -f testdata/examples/cluster.yaml --config testdata/examples/config.yaml

test: build
	./tests/tools/check_layering.sh
	cd $(BUILD_DIR) && CI=$(CI) ctest --output-on-failure -j $(JOBS)
ifeq ($(CI),true)
	$(MAKE) test-asan
	$(MAKE) build-release
	$(MAKE) fuzz-smoke
endif

# The configuration the Dockerfile builds (Release, -O3, where GCC 12 warns about more than at -O2),
# with warnings as errors; the kproxy binary only, so that CI stays well inside its time.
build-release: deps
	cmake -S . -B $(RELEASE_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DKPROXY_WERROR=ON \
	  -DKPROXY_BUILD_TESTS=OFF -DKPROXY_BUILD_BENCH=OFF >/dev/null
	cmake --build $(RELEASE_BUILD_DIR) -j $(JOBS) --target kproxy

# Unit and golden tests under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKPROXY_SANITIZE=ON -DKPROXY_BUILD_BENCH=OFF >/dev/null
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS) --target unit_and_golden_tests
	cd $(ASAN_BUILD_DIR) && CI=$(CI) ctest --output-on-failure -j $(JOBS) -L 'unit|golden'

# libFuzzer targets (tests/fuzz/README.md): clang from Debian with its runtime libraries
# (libclang_rt.fuzzer comes with libclang-rt-14-dev, which clang only recommends; llvm puts the
# llvm-symbolizer that turns sanitizer reports into file:line on PATH), a build of the
# parsers and the targets alone, then tests/fuzz/run-fuzz, which fails if any target crashes,
# hangs or runs out of memory.
FUZZ_DEBIAN_PACKAGES := clang libclang-rt-14-dev llvm
fuzz-deps: deps
	@missing=$$(for p in $(FUZZ_DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:" $$missing; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: run as root to install packages" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

fuzz-build: fuzz-deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DKPROXY_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target kproxy_fuzzers

# Every target for FUZZ_SECONDS, one after the other (one core), after replaying its regression
# inputs: `make fuzz FUZZ_SECONDS=420` is about an hour.
fuzz: fuzz-build
	./tests/fuzz/run-fuzz -b $(FUZZ_BUILD_DIR) -s $(FUZZ_SECONDS) -p 1

# CI: every regression input replayed, then each target for a few seconds, two at a time.
fuzz-smoke: fuzz-build
	./tests/fuzz/run-fuzz -b $(FUZZ_BUILD_DIR) -s $(FUZZ_SMOKE_SECONDS) -p 2

# Builds the Dockerfile with podman (bases made locally with mmdebstrap) and runs the image:
# --version, render, and sync/diff/cleanup/run with only NET_ADMIN in a network namespace of its
# own. Minutes, so not part of `make test`; installs podman, runc and mmdebstrap when missing.
image-test:
	./tests/image/image-test

# SIGKILL during a full sync of 5,000 services (tests/netns/crash_safety_test.cc at full size):
# `kproxy sync` and `kproxy run`, iptables-nft and iptables-legacy, killed just before the
# restore, just after it is spawned, and at CRASH_KILLS delays spread over the sync; every table
# must be the complete old or the complete new state, and the next start must converge. Minutes,
# so not part of `make test` (which runs it at 1,000 services with fewer kill points).
CRASH_SERVICES ?= 5000
CRASH_KILLS ?= 6
test-crash-safety: build
	cd $(BUILD_DIR) && CI=true KPROXY_CRASH_SERVICES=$(CRASH_SERVICES) KPROXY_CRASH_TIMED_KILLS=$(CRASH_KILLS) \
	  ./tests/kproxy_netns_tests --gtest_filter='Iptables/CrashSafety.*'

bench: build
	./$(BUILD_DIR)/kproxy_bench --benchmark_counters_tabular=true

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(RELEASE_BUILD_DIR) $(FUZZ_BUILD_DIR)
