# `kproxy run` in IPVS mode against the real kernel (inside the VM of run-kernel-tests; sh, as
# root), fed by --objects files: 2,000 services x 10 endpoints (bench/workload.cc) plus a small
# cluster of our own.
#  1. the initial sync programs every service; /healthz answers 200; /metrics counts the syncs;
#  2. a one-endpoint change in the small cluster's file is applied by a partial sync (no dump of
#     every virtual server, no iptables-restore), and nothing else changes;
#  3. a stray virtual server is removed by the periodic full sync (ipvs.syncPeriod), while one
#     inside ipvs.excludeCIDRs stays;
#  4. SIGTERM ends the daemon within a few seconds and leaves the state in place;
#  5. `kproxy run --cleanup` removes virtual servers, the KUBE- ip sets, kube-ipvs0 and IPVS mode's
#     iptables rules.
# Runs in its own network namespace (unshare) so nothing leaks into other scenarios.
build=${1:-build}
services=${KPROXY_RUN_SERVICES:-2000}
if [ -z "$KPROXY_SCENARIO_NETNS" ]; then
  # /usr/bin/dash by path: busybox (unshare) would run its own sh, whose applets shadow the tools.
  KPROXY_SCENARIO_NETNS=1 exec unshare -n /usr/bin/dash "$0" "$@"
fi
set -eu
kproxy="$PWD/$build/kproxy"
probe="$PWD/$build/tests/kproxy_tcp_probe"
work=$(mktemp -d)
pid=""
fail() {
  echo "FAIL: $*"
  echo "--- last lines of the daemon's log"
  tail -n 30 "$work/run.log" 2>/dev/null || true
  [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
  exit 1
}
pass() { echo "ok: $*"; }
# until TRIES CMD...: runs CMD every 0.2 s until it succeeds; fails after TRIES attempts.
until_ok() {
  tries=$1
  shift
  while [ "$tries" -gt 0 ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    tries=$((tries - 1))
    sleep 0.2
  done
  return 1
}

ip link set lo up
ip link add eth0 type dummy
ip addr add 192.168.0.10/24 dev eth0  # the workload's Node (vm-node) has this address
ip link set eth0 up
ip route add default via 192.168.0.1 dev eth0

"$PWD/$build/kproxy_workload" --services "$services" --endpoints 10 --node vm-node > "$work/workload.json"
small() {  # small ENDPOINT_B: the small cluster, web having 10.100.1.2 and ENDPOINT_B
  cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: web, namespace: scenario}
spec:
  clusterIP: 10.100.0.10
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: scenario, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- addresses: [10.100.1.2]
- addresses: [$1]
ports: [{name: http, port: 8080, protocol: TCP}]
EOF
}
small 10.100.1.3 > "$work/small.yaml"
cat > "$work/config.yaml" <<'EOF'
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
hostnameOverride: vm-node
clusterCIDR: 10.244.0.0/16
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
ipvs:
  syncPeriod: 10s
  minSyncPeriod: 0s
  excludeCIDRs: [172.31.0.0/16]
EOF
# Another tool's virtual server, inside excludeCIDRs.
ipvsadm -A -t 172.31.0.1:7000 -s wrr
ipvsadm -a -t 172.31.0.1:7000 -r 192.168.0.99:7000 -m -w 5

"$kproxy" run -v 2 --config "$work/config.yaml" --objects "$work/workload.json" --objects "$work/small.yaml" > "$work/run.log" 2>&1 &
pid=$!

# 1. Initial sync, healthz, metrics.
healthy() { "$probe" http 127.0.0.1 10256 /healthz | grep -q '^HTTP/1.[01] 200'; }
until_ok 1500 healthy || fail "no healthz 200 within 300 s"
until_ok 300 sh -c "ipvsadm -L -n -t 10.100.0.10:80 | grep -q 10.100.1.3:8080" || fail "web not programmed"
vs_count() { ipvsadm -S -n | grep -c '^-A'; }
# Every workload service (one port each), web, and the excluded one.
[ "$(vs_count)" -ge "$((services + 2))" ] || fail "$(vs_count) virtual servers, expected at least $((services + 2))"
pass "initial sync: $(vs_count) virtual servers, healthz 200"
syncs() {
  "$probe" http 127.0.0.1 10249 /metrics |
    awk '/^kubeproxy_sync_proxy_rules_duration_seconds_count\{ip_family="IPv4"\}/ {print $2}'
}
first_syncs=$(syncs)
[ -n "$first_syncs" ] && [ "$first_syncs" -ge 1 ] || fail "metrics do not count the syncs (got '$first_syncs')"
"$probe" http 127.0.0.1 10249 /proxyMode | tail -n 1 | grep -qx ipvs || fail "/proxyMode is not ipvs"
pass "metrics: $first_syncs sync(s) counted, /proxyMode ipvs"

# 2. One endpoint changes: exactly that real server changes, by a partial sync. A change that
# comes once ipvs.syncPeriod has passed since the last full sync is synced fully (under TCG the
# checks above can take that long), so up to three changes are made, one right after the other:
# the one after a full sync comes well inside the period and must be partial.
counted_after() { [ "$(syncs)" -gt "$1" ]; }
ipvsadm -S -n | grep -v '^-a -t 10.100.0.10:80 ' | sort > "$work/before.others"
old=10.100.1.3
partial=""
for new in 10.100.1.4 10.100.1.5 10.100.1.6; do
  syncs_before=$(syncs)
  small "$new" > "$work/small.next"
  mv "$work/small.next" "$work/small.yaml"
  until_ok 300 sh -c "ipvsadm -L -n -t 10.100.0.10:80 | grep -q $new:8080" || fail "the endpoint change to $new was not applied"
  ipvsadm -L -n -t 10.100.0.10:80 | grep -q "$old:8080" && fail "the old endpoint $old is still there"
  until_ok 50 counted_after "$syncs_before" || fail "the change to $new was not counted as a sync"
  old=$new
  # Between the periodic full syncs a change is synced partially: no dump of every virtual server
  # and no iptables-restore when IPVS mode's rules are unchanged (0 bytes written).
  last=$(grep 'IPv4 ipvs .* sync:' "$work/run.log" | tail -n 1)
  case "$last" in
    *"IPv4 ipvs partial sync: 0 bytes in "*) partial=$new; break ;;
  esac
done
[ -n "$partial" ] || { grep 'ipvs .* sync:' "$work/run.log" | tail -n 8; fail "no change was synced partially"; }
ipvsadm -S -n | grep -v '^-a -t 10.100.0.10:80 ' | sort > "$work/after.others"
diff -u "$work/before.others" "$work/after.others" > "$work/others.diff" || { cat "$work/others.diff"; fail "other services changed"; }
pass "one-endpoint change (to $partial) applied by a partial sync, every other virtual and real server untouched"

# 3. A stray virtual server goes at the periodic full sync; the excluded one stays.
ipvsadm -A -t 10.100.9.9:9999 -s rr
until_ok 300 sh -c "! ipvsadm -S -n | grep -q '10.100.9.9:9999'" || fail "the stray virtual server is still there after 60 s"
ipvsadm -S -n | grep -q '^-A -t 172.31.0.1:7000' || fail "the virtual server inside excludeCIDRs was deleted"
pass "periodic full sync removed the stray virtual server, kept the excluded one"

# 4. SIGTERM: a prompt exit, the state stays.
ipvsadm -S -n | sort > "$work/before.term"
kill -TERM "$pid"
until_ok 50 sh -c "! kill -0 $pid" || fail "kproxy run still running 10 s after SIGTERM"
wait "$pid" || fail "kproxy run exited with $? on SIGTERM"
pid=""
ipvsadm -S -n | sort > "$work/after.term"
cmp -s "$work/before.term" "$work/after.term" || fail "SIGTERM changed the IPVS state"
pass "SIGTERM: exited promptly, state kept"

# 5. run --cleanup removes IPVS mode.
"$kproxy" run --cleanup > "$work/cleanup.log" 2>&1 || { cat "$work/cleanup.log"; fail "kproxy run --cleanup"; }
[ -z "$(ipvsadm -S -n)" ] || fail "virtual servers left after cleanup"
! ipset list -n | grep -q '^KUBE-' || fail "ip sets left after cleanup: $(ipset list -n | grep '^KUBE-')"
! ip link show kube-ipvs0 >/dev/null 2>&1 || fail "kube-ipvs0 left after cleanup"
! iptables-save | grep -q 'KUBE-' || { iptables-save | grep KUBE-; fail "iptables rules left after cleanup"; }
pass "run --cleanup removed virtual servers, ip sets, kube-ipvs0 and the iptables rules"
rm -rf "$work"
