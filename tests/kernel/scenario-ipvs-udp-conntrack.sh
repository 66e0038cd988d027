# UDP conntrack cleanup in IPVS mode with real packets (inside the VM of run-kernel-tests; sh, as
# root): `kproxy run --objects` programs a UDP ClusterIP with two backends; a client sends
# datagrams from one fixed source port, so every datagram is one conntrack flow (IPVS with
# net.ipv4.vs.conntrack=1 keeps it in conntrack too).
#  A. The backend that flow reached leaves the service: the real server is deleted, the flow is
#     gone from conntrack, and the client's next datagram from the same port reaches the other
#     backend. (Here the kernel helps: with expire_nodest_conn=1, which kproxy sets, kernels since
#     5.9 flush a deleted destination's connections and their conntrack entries.)
#  B. With expire_nodest_conn=0 (older kernels behave so too) the kernel keeps the flow: only
#     kproxy's conntrack reconciler deletes it, and its metric counts it.
# Runs in its own network namespace.
build=${1:-build}
if [ -z "$KPROXY_SCENARIO_NETNS" ]; then
  KPROXY_SCENARIO_NETNS=1 exec unshare -n /usr/bin/dash "$0" "$@"
fi
set -eu
kproxy="$PWD/$build/kproxy"
probe="$PWD/$build/tests/kproxy_tcp_probe"
work=$(mktemp -d)
pid=""
fail() {
  echo "FAIL: $*"
  tail -n 30 "$work/run.log" 2>/dev/null || true
  conntrack -L -p udp 2>&1 | head -20
  ipvsadm -L -n
  exit 1
}
pass() { echo "ok: $*"; }
# flow_to PORT IP: conntrack holds the client's flow from source port PORT answered by IP.
flow_to() { conntrack -L -p udp 2>/dev/null | grep "sport=$1 " | grep -q "src=$2 "; }
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
ip netns add kp-cl
ip link add vcl type veth peer name eth0 netns kp-cl
ip addr add 192.168.60.1/24 dev vcl
ip link set vcl up
ip -n kp-cl link set lo up
ip -n kp-cl addr add 192.168.60.2/24 dev eth0
ip -n kp-cl link set eth0 up
ip -n kp-cl route add default via 192.168.60.1
for n in 1 2; do
  ip netns add kp-be$n
  ip link add vbe$n type veth peer name eth0 netns kp-be$n
  ip addr add 10.244.$n.1/24 dev vbe$n
  ip link set vbe$n up
  ip -n kp-be$n link set lo up
  ip -n kp-be$n addr add 10.244.$n.2/24 dev eth0
  ip -n kp-be$n link set eth0 up
  ip -n kp-be$n route add default via 10.244.$n.1
  ip netns exec kp-be$n "$probe" udp-serve 5353 be$n &
done
cleanup() {
  [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
  for n in 1 2; do ip netns pids kp-be$n 2>/dev/null | while read -r p; do kill "$p" 2>/dev/null || true; done; done
  for ns in kp-cl kp-be1 kp-be2; do ip netns del $ns 2>/dev/null || true; done
}
trap cleanup EXIT
echo 1 > /proc/sys/net/ipv4/ip_forward

objects() {  # objects ENDPOINT_IP...: the cluster with the dns service's endpoints
  cat <<EOF
apiVersion: v1
kind: Node
metadata: {name: vm-node}
status:
  addresses: [{type: InternalIP, address: 192.168.60.1}]
---
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: kube-system}
spec:
  clusterIP: 10.96.0.53
  ports: [{name: dns, port: 53, protocol: UDP, targetPort: 5353}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns-1, namespace: kube-system, labels: {kubernetes.io/service-name: dns}}
addressType: IPv4
endpoints:
EOF
  for ip in "$@"; do echo "- addresses: [$ip]"; done
  echo "ports: [{name: dns, port: 5353, protocol: UDP}]"
}
objects 10.244.1.2 10.244.2.2 > "$work/objects.yaml"
cat > "$work/config.yaml" <<'EOF'
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
hostnameOverride: vm-node
clusterCIDR: 10.244.0.0/16
healthzBindAddress: ""
metricsBindAddress: 127.0.0.1:10249
ipvs: {minSyncPeriod: 0s}
EOF
"$kproxy" run --config "$work/config.yaml" --objects "$work/objects.yaml" -v 2 > "$work/run.log" 2>&1 &
pid=$!
until_ok 300 sh -c "ipvsadm -L -n -u 10.96.0.53:53 | grep -q 10.244.2.2:5353" || fail "the UDP service was not programmed"
# Flows must outlive every wait below on their own: with conntrack's default UDP timeouts (30 s,
# 120 s once both ways) a slow VM could see a flow expire and mistake that for a deletion.
for t in nf_conntrack_udp_timeout nf_conntrack_udp_timeout_stream; do
  echo 600 > /proc/sys/net/netfilter/$t || fail "cannot raise net.netfilter.$t"
done

# One flow: always the same source port.
first=$(ip netns exec kp-cl "$probe" udp-get 10.96.0.53 53 40000) || fail "no answer through the ClusterIP"
again=$(ip netns exec kp-cl "$probe" udp-get 10.96.0.53 53 40000) || fail "no second answer"
[ "$first" = "$again" ] || fail "one flow reached two backends ($first, $again)"
case "$first" in
  be1) gone_ip=10.244.1.2; stays_ip=10.244.2.2; stays=be2 ;;
  be2) gone_ip=10.244.2.2; stays_ip=10.244.1.2; stays=be1 ;;
  *) fail "unexpected answer '$first'" ;;
esac
flow_to 40000 "$gone_ip" || fail "no conntrack flow from the client to $first"
pass "the client's flow reaches $first and is in conntrack"

# The backend it reached leaves the service.
objects "$stays_ip" > "$work/objects.next"
mv "$work/objects.next" "$work/objects.yaml"
until_ok 300 sh -c "! ipvsadm -L -n -u 10.96.0.53:53 | grep -q $gone_ip:5353" || fail "the real server was not removed"
until_ok 50 sh -c "! conntrack -L -p udp 2>/dev/null | grep 'sport=40000 ' | grep -q 'src=$gone_ip '" ||
  fail "the stale conntrack flow to $gone_ip is still there"
pass "the removed real server's conntrack flow was deleted"
now=$(ip netns exec kp-cl "$probe" udp-get 10.96.0.53 53 40000) || fail "no answer after the change"
[ "$now" = "$stays" ] || fail "the same flow now reaches '$now', expected $stays"
pass "the client's next datagram from the same port reaches $stays"

# B. The kernel no longer flushes a deleted destination's flows: the reconciler must.
deleted_entries() {
  "$probe" http 127.0.0.1 10249 /metrics |
    awk '/^kubeproxy_conntrack_reconciler_deleted_entries_total\{ip_family="IPv4"\}/ {print $2}'
}
objects 10.244.1.2 10.244.2.2 > "$work/objects.next"
mv "$work/objects.next" "$work/objects.yaml"
until_ok 300 sh -c "ipvsadm -L -n -u 10.96.0.53:53 | grep -q $gone_ip:5353" || fail "the backend did not come back"
echo 0 > /proc/sys/net/ipv4/vs/expire_nodest_conn
before=$(deleted_entries)
first=$(ip netns exec kp-cl "$probe" udp-get 10.96.0.53 53 40001) || fail "no answer on the second flow"
case "$first" in
  be1) gone_ip=10.244.1.2; stays_ip=10.244.2.2 ;;
  be2) gone_ip=10.244.2.2; stays_ip=10.244.1.2 ;;
  *) fail "unexpected answer '$first'" ;;
esac
flow_to 40001 "$gone_ip" || fail "no conntrack flow from the client to $first"
objects "$stays_ip" > "$work/objects.next"
mv "$work/objects.next" "$work/objects.yaml"
until_ok 300 sh -c "! ipvsadm -L -n -u 10.96.0.53:53 | grep -q $gone_ip:5353" || fail "the real server was not removed"
until_ok 50 sh -c "! conntrack -L -p udp 2>/dev/null | grep 'sport=40001 ' | grep -q 'src=$gone_ip '" ||
  fail "the stale flow to $gone_ip is still in conntrack (reconciler)"
after=$(deleted_entries)
[ -n "$after" ] && [ "$(echo "$after ${before:-0}" | awk '{print ($1 > $2)}')" = 1 ] ||
  fail "kubeproxy_conntrack_reconciler_deleted_entries_total did not grow ($before -> $after)"
pass "with expire_nodest_conn=0 the reconciler deleted the stale flow (deleted entries $before -> $after)"
kill -TERM "$pid"
wait "$pid" || true
pid=""
