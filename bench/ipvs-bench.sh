# IPVS-mode benchmark, run inside the VM of tests/kernel/vm-run (as root; sh):
#   tests/kernel/run-kernel-tests --bench          (with the kernel tests, one boot)
#   tests/kernel/vm-run -- sh bench/ipvs-bench.sh build [SERVICES] [ENDPOINTS]
# For SERVICES x ENDPOINTS (default 5000 x 10) from bench/workload.cc, three rounds, each in a
# fresh network namespace:
#   * kproxy's first `sync --proxy-mode ipvs`: the time its IPVS batch spends programming the
#     virtual and real servers (what `-v 1` reports), the whole apply (sets, addresses, rules),
#     and the process's wall time (decode, tracker and plan included);
#   * `ipvsadm -R` of the same virtual and real servers (the `ipvsadm -S -n` text kproxy left) in
#     another fresh namespace;
#   * a one-endpoint change, synced again: its wall time and how many IPVS changes it made.
# Prints the medians and the ratio kproxy / ipvsadm -R (target <= 1.0).
build=${1:-build}
services=${2:-5000}
endpoints=${3:-10}
set -eu
kproxy="$PWD/$build/kproxy"
work=$(mktemp -d)
"$PWD/$build/kproxy_workload" --services "$services" --endpoints "$endpoints" --node vm-node > "$work/cluster.json"
sed 's/"172\.16\.0\.1"/"172.31.255.254"/' "$work/cluster.json" > "$work/changed.json"
cat > "$work/config.yaml" <<'CFG'
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
hostnameOverride: vm-node
clusterCIDR: 172.16.0.0/12
CFG
now_ns() { date +%s%N; }
ms() { echo "$1" | awk '{printf "%.1f\n", $1 / 1000000}'; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
node_setup='ip link set lo up && ip link add eth0 type dummy && ip addr add 192.168.0.10/24 dev eth0 && ip link set eth0 up && ip route add default via 192.168.0.1 dev eth0'

for round in 1 2 3; do
  # kproxy: first sync, then the one-endpoint change, in one fresh namespace.
  unshare -n /usr/bin/dash -c "
    set -e
    $node_setup
    t0=\$(date +%s%N)
    '$kproxy' sync --proxy-mode ipvs -f '$work/cluster.json' --config '$work/config.yaml' --ip-family ipv4 -v 1 2> '$work/first.log'
    t1=\$(date +%s%N)
    echo \$((t1 - t0)) > '$work/first.wall'
    ipvsadm -S -n > '$work/saved.txt'
    t0=\$(date +%s%N)
    '$kproxy' sync --proxy-mode ipvs -f '$work/changed.json' --config '$work/config.yaml' --ip-family ipv4 -v 1 2> '$work/change.log'
    t1=\$(date +%s%N)
    echo \$((t1 - t0)) > '$work/change.wall'
  " || { cat "$work/first.log" "$work/change.log" 2>/dev/null | grep -v '^\(add\|set\|create\|bind\|delete\|remove\)' | head -20; exit 1; }
  # "# ipvs IPv4 timings: virtual+real servers 123.4 ms (N operations), sets ..., apply ... ms"
  grep '^# ipvs IPv4 timings' "$work/first.log" | sed 's/.*virtual+real servers \([0-9.]*\) ms.*/\1/' >> "$work/kproxy_ipvs.ms"
  grep '^# ipvs IPv4 timings' "$work/first.log" | sed 's/.*apply \([0-9.]*\) ms.*/\1/' >> "$work/kproxy_apply.ms"
  ms "$(cat "$work/first.wall")" >> "$work/kproxy_wall.ms"
  ms "$(cat "$work/change.wall")" >> "$work/change_wall.ms"
  grep '^# ipvs IPv4 timings' "$work/change.log" | sed 's/.*apply \([0-9.]*\) ms.*/\1/' >> "$work/change_apply.ms"
  sed -n '/^# ipvs IPv4 changes/,/^# ipvs IPv4 timings/p' "$work/change.log" | sed '1d;$d' > "$work/change.list"
  # ipvsadm -R of the same servers from nothing.
  unshare -n /usr/bin/dash -c "
    set -e
    $node_setup
    t0=\$(date +%s%N)
    ipvsadm -R < '$work/saved.txt'
    t1=\$(date +%s%N)
    echo \$((t1 - t0)) > '$work/restore.wall'
    [ \$(ipvsadm -S -n | wc -l) -eq \$(wc -l < '$work/saved.txt') ]
  "
  ms "$(cat "$work/restore.wall")" >> "$work/restore.ms"
  echo "round $round: $(grep '^# ipvs IPv4 timings' "$work/first.log" | sed 's/^# ipvs IPv4 timings: /first sync: /')"
  echo "round $round: kproxy virtual+real servers $(tail -1 "$work/kproxy_ipvs.ms") ms, ipvsadm -R $(tail -1 "$work/restore.ms") ms," \
       "kproxy apply $(tail -1 "$work/kproxy_apply.ms") ms, kproxy sync wall $(tail -1 "$work/kproxy_wall.ms") ms," \
       "one-endpoint change wall $(tail -1 "$work/change_wall.ms") ms"
done

vs=$(grep -c '^-A' "$work/saved.txt")
rs=$(grep -c '^-a' "$work/saved.txt")
k=$(median < "$work/kproxy_ipvs.ms")
r=$(median < "$work/restore.ms")
echo "ipvs benchmark: $services services x $endpoints endpoints = $vs virtual servers, $rs real servers (kernel $(uname -r), qemu tcg)"
echo "  kproxy first sync, programming virtual+real servers (median of 3): $k ms"
echo "  ipvsadm -R of the same ipvsadm -S -n text (median of 3):          $r ms"
echo "  ratio kproxy / ipvsadm -R: $(echo "$k $r" | awk '{printf "%.3f", $1 / $2}')"
echo "  kproxy first sync, whole apply (sets, addresses, rules too):     $(median < "$work/kproxy_apply.ms") ms"
echo "  kproxy first sync, process wall time (decode, plan, apply):      $(median < "$work/kproxy_wall.ms") ms"
echo "  one-endpoint change: apply $(median < "$work/change_apply.ms") ms, process wall $(median < "$work/change_wall.ms") ms"
echo "  one-endpoint change, IPVS and set changes it made:"
sed 's/^/    /' "$work/change.list"
# The change must touch only the changed destination (one add and one remove per virtual server
# of that service) and, for a non-local endpoint, no set member.
if grep -v -e 'real server 172\.16\.0\.1:8080' -e 'real server 172\.31\.255\.254:8080' "$work/change.list" | grep -q .; then
  echo "FAIL: the one-endpoint change touched something else"
  exit 1
fi
rm -rf "$work"
