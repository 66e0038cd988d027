# `kproxy run` in IPVS mode end to end, inside the VM of tests/kernel/vm-run (as root; sh):
#   tests/kernel/vm-run --build-dir build --timeout 2700 -- sh bench/ipvs-run-bench.sh build [SIZES...]
# For each size (services x 10 endpoints from bench/workload.cc; default 2000 5000), in a fresh
# network namespace: `kproxy run --objects` with the workload file plus a small cluster file, then
#   * the initial (full) sync: from start to the first sync counted by /metrics, and the sync's own
#     time from the daemon's log;
#   * CHANGES one-endpoint changes of the small file (renamed into place, as config tools write):
#     from the rename to `ipvsadm` showing the new real server (polled every 20 ms), and the
#     partial sync's own time from the log;
#   * SIGTERM: from the signal to the exit.
# Prints one line per figure; the ratio partial/initial is the issue's "<= 2 %" goal.
build=${1:-build}
shift || true
sizes=${*:-2000 5000}
changes=${CHANGES:-10}
set -eu
kproxy="$PWD/$build/kproxy"
probe="$PWD/$build/tests/kproxy_tcp_probe"
work=$(mktemp -d)
now_ns() { date +%s%N; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
maximum() { sort -n | tail -n 1; }

for services in $sizes; do
  "$PWD/$build/kproxy_workload" --services "$services" --endpoints 10 --node vm-node > "$work/workload.json"
  cat > "$work/config.yaml" <<'CFG'
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
hostnameOverride: vm-node
clusterCIDR: 10.244.0.0/16
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
ipvs:
  syncPeriod: 300s
  minSyncPeriod: 0s
CFG
  unshare -n /usr/bin/dash -s "$services" "$work" "$kproxy" "$probe" "$changes" <<'ROUND'
set -eu
services=$1 work=$2 kproxy=$3 probe=$4 changes=$5
now_ns() { date +%s%N; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
maximum() { sort -n | tail -n 1; }
small() {
  cat <<YAML
apiVersion: v1
kind: Service
metadata: {name: web, namespace: bench}
spec:
  clusterIP: 10.100.0.10
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: bench, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- addresses: [10.100.1.2]
- addresses: [$1]
ports: [{name: http, port: 8080, protocol: TCP}]
YAML
}
ip link set lo up
ip link add eth0 type dummy
ip addr add 192.168.0.10/24 dev eth0
ip link set eth0 up
ip route add default via 192.168.0.1 dev eth0
small 10.100.1.100 > "$work/small.yaml"
synced() {
  "$probe" http 127.0.0.1 10249 /metrics 2>/dev/null |
    awk '/^kubeproxy_sync_proxy_rules_duration_seconds_count\{ip_family="IPv4"\}/ { n = $2 } END { exit !(n >= 1) }'
}
t0=$(now_ns)
"$kproxy" run -v 2 --config "$work/config.yaml" --objects "$work/workload.json" --objects "$work/small.yaml" > "$work/run.log" 2>&1 &
pid=$!
until synced; do
  kill -0 "$pid" 2>/dev/null || { tail -n 20 "$work/run.log"; exit 1; }
  sleep 0.05
done
t1=$(now_ns)
initial_sync_ms=$(grep -m1 'IPv4 ipvs full sync' "$work/run.log" | sed 's/.* \([0-9]*\) ms$/\1/')
echo "ipvs run ${services}x10: start to first sync $(( (t1 - t0) / 1000000 )) ms; the initial sync itself ${initial_sync_ms} ms"
: > "$work/e2e"
i=1
while [ "$i" -le "$changes" ]; do
  addr="10.100.1.$i"
  small "$addr" > "$work/small.next"
  s0=$(now_ns)
  mv "$work/small.next" "$work/small.yaml"
  until ipvsadm -L -n -t 10.100.0.10:80 | grep -q "$addr:8080"; do sleep 0.02; done
  s1=$(now_ns)
  echo $(( (s1 - s0) / 1000000 )) >> "$work/e2e"
  i=$((i + 1))
  sleep 0.5
done
sleep 1
grep 'IPv4 ipvs partial sync' "$work/run.log" | sed 's/.* \([0-9]*\) ms$/\1/' | tail -n "$changes" > "$work/partial"
full_after=$(grep -c 'IPv4 ipvs full sync' "$work/run.log")
echo "ipvs run ${services}x10: one-endpoint change, file rename -> ipvsadm shows it: median $(median < "$work/e2e") ms, max $(maximum < "$work/e2e") ms over $changes"
echo "ipvs run ${services}x10: the partial sync itself: median $(median < "$work/partial") ms, max $(maximum < "$work/partial") ms ($(wc -l < "$work/partial") partial syncs, $full_after full)"
awk -v e="$(median < "$work/e2e")" -v s="$initial_sync_ms" 'BEGIN { printf "ipvs run: end-to-end change / initial sync = %.1f %%\n", 100 * e / s }' | sed "s/^ipvs run:/ipvs run ${services}x10:/"
k0=$(now_ns)
kill -TERM "$pid"
wait "$pid" || true
k1=$(now_ns)
echo "ipvs run ${services}x10: SIGTERM to exit $(( (k1 - k0) / 1000000 )) ms"
ipvsadm -C
ROUND
done
rm -rf "$work"
