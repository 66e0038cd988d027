# Real packets through IPVS mode (inside the VM of run-kernel-tests; sh, as root): a client
# namespace reaches a ClusterIP and a NodePort that `kproxy sync --proxy-mode ipvs` programmed,
# and both backend namespaces answer (rr); after the backend be2 leaves the service, only be1
# answers. Then graceful termination with a live connection: a client holds a connection to the
# chat service; its backend leaves the service; the sync sets that destination to weight 0 and
# keeps it while the connection lives (new connections go to the other backend); once the
# connection is reset, the next sync deletes it. At each step `kproxy trace --rules`, fed the live
# iptables-save, ipset save and ipvsadm -S -n text, predicts exactly the backends that answered (or
# REJECT where nothing does). Runs in its own network namespace.
build=${1:-build}
if [ -z "$KPROXY_SCENARIO_NETNS" ]; then
  # /usr/bin/dash by path: busybox (unshare) would run its own sh, whose applets shadow the tools.
  KPROXY_SCENARIO_NETNS=1 exec unshare -n /usr/bin/dash "$0" "$@"
fi
set -eu
kproxy="$PWD/$build/kproxy"
dir=tests/kernel/scenarios
work=$(mktemp -d)
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }
probe="$PWD/$build/tests/kproxy_tcp_probe"

ip link set lo up
# The client: 192.168.60.2, routed through the node (192.168.60.1).
ip netns add kp-cl
ip link add vcl type veth peer name eth0 netns kp-cl
ip addr add 192.168.60.1/24 dev vcl
ip link set vcl up
ip -n kp-cl link set lo up
ip -n kp-cl addr add 192.168.60.2/24 dev eth0
ip -n kp-cl link set eth0 up
ip -n kp-cl route add default via 192.168.60.1
# Two backends, each serving its name on :8080.
for n in 1 2; do
  ip netns add kp-be$n
  ip link add vbe$n type veth peer name eth0 netns kp-be$n
  ip addr add 10.244.$n.1/24 dev vbe$n
  ip link set vbe$n up
  ip -n kp-be$n link set lo up
  ip -n kp-be$n addr add 10.244.$n.2/24 dev eth0
  ip -n kp-be$n link set eth0 up
  ip -n kp-be$n route add default via 10.244.$n.1
  ip netns exec kp-be$n "$probe" serve 8080 be$n &
  ip netns exec kp-be$n "$probe" serve-hold 8081 be$n &
done

cleanup() {
  for n in 1 2; do ip netns pids kp-be$n 2>/dev/null | while read -r p; do kill "$p" 2>/dev/null || true; done; done
  ip netns del kp-cl 2>/dev/null || true
  ip netns del kp-be1 2>/dev/null || true
  ip netns del kp-be2 2>/dev/null || true
}
trap cleanup EXIT

sync() {
  "$kproxy" sync --proxy-mode ipvs -f "$1" --config "$dir/ipvs-config.yaml" --ip-family ipv4 -v 1 2> "$work/sync.log" ||
    { cat "$work/sync.log"; fail "kproxy sync -f $1"; }
}
# Who answers "ADDR PORT", N times, from the client namespace: "be1 be2 ..." sorted and unique.
answers() {
  i=0
  : > "$work/answers"
  while [ $i -lt "$2" ]; do
    ip netns exec kp-cl "$probe" get $1 >> "$work/answers" 2>/dev/null || echo "no-answer" >> "$work/answers"
    i=$((i + 1))
  done
  sort -u "$work/answers" | tr '\n' ' ' | sed 's/ $//'
}

diagnose() {
  echo "-- diagnostics"
  echo "node -> be1 direct: $("$probe" get 10.244.1.2 8080 2>&1)"
  echo "client -> be1 direct: $(ip netns exec kp-cl "$probe" get 10.244.1.2 8080 2>&1)"
  ipvsadm -L -n -c
  iptables-save -c
  conntrack -L 2>&1 | head -20
  ip addr
  for f in ip_forward conf/all/rp_filter vs/conntrack; do echo "$f=$(cat /proc/sys/net/ipv4/$f)"; done
}

# What `kproxy trace` predicts for the client's packet to ADDR PORT, read from the live state
# (iptables-save, ipset save, ipvsadm -S -n, this node's facts): the backends' names sorted
# ("be1 be2"), or the verdict ("REJECT").
predicted() {
  iptables-save > "$work/live-iptables.txt"
  ipset save > "$work/live-ipset.txt"
  ipvsadm -S -n > "$work/live-ipvs.txt"
  "$kproxy" facts > "$work/facts.yaml" 2> /dev/null
  "$kproxy" trace --rules "$work/live-iptables.txt" --ipsets "$work/live-ipset.txt" --ipvs "$work/live-ipvs.txt" \
    --node-facts "$work/facts.yaml" --in-interface vcl --src 192.168.60.2 --dst "$1" --dport "$2" -o json > "$work/trace.json" ||
    fail "kproxy trace --rules to $1:$2"
  sed -n 's/^{"outputs": \[\([^]]*\)\].*/\1/p' "$work/trace.json" | tr ',' '\n' |
    sed -n -e 's/.*10\.244\.\([12]\)\.2:[0-9]*.*/be\1/p' -e 's/.*"\(REJECT\|DROP\)".*/\1/p' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
# Trace and kernel agree: packets reach exactly what trace predicts.
agree() {  # agree ADDR PORT ANSWERED
  want=$(predicted "$1" "$2")
  case "$3" in no-answer) [ "$want" = REJECT ] || [ "$want" = DROP ] ;; *) [ "$want" = "$3" ] ;; esac ||
    { cat "$work/trace.json"; fail "trace predicts \"$want\" for $1:$2, the kernel delivered to \"$3\""; }
}
sync "$dir/ipvs-packets.yaml"
got=$(answers "10.96.0.10 80" 6)
[ "$got" = "be1 be2" ] || { diagnose; fail "ClusterIP 10.96.0.10:80 answered by \"$got\", want both backends"; }
agree 10.96.0.10 80 "$got"
pass "ClusterIP: client -> 10.96.0.10:80 -> be1 and be2, as trace predicts"
got=$(answers "192.168.60.1 30080" 6)
[ "$got" = "be1 be2" ] || { ipvsadm -L -n; fail "NodePort 192.168.60.1:30080 answered by \"$got\", want both backends"; }
agree 192.168.60.1 30080 "$got"
pass "NodePort: client -> 192.168.60.1:30080 -> be1 and be2, as trace predicts"
got=$(answers "10.96.0.10 81" 1)
[ "$got" = "no-answer" ] || fail "10.96.0.10:81 (no such service port) answered by \"$got\""
agree 10.96.0.10 81 "$got"
pass "a port the ClusterIP does not serve is refused, as trace predicts (REJECT)"

# be2 leaves the service.
grep -v -x -e '- addresses: \[10.244.2.2\]' "$dir/ipvs-packets.yaml" > "$work/one.yaml"
sync "$work/one.yaml"
got=$(answers "10.96.0.10 80" 4)
[ "$got" = "be1" ] || { ipvsadm -L -n; fail "after be2 left, ClusterIP answered by \"$got\""; }
agree 10.96.0.10 80 "$got"
got=$(answers "192.168.60.1 30080" 4)
[ "$got" = "be1" ] || { ipvsadm -L -n; fail "after be2 left, NodePort answered by \"$got\""; }
agree 192.168.60.1 30080 "$got"
pass "after an endpoint change only be1 answers (ClusterIP and NodePort), as trace predicts"

# Graceful termination with a live connection.
ip netns exec kp-cl "$probe" hold 10.96.0.20 81 > "$work/held" &
holder=$!
i=0
while [ ! -s "$work/held" ] && [ $i -lt 20 ]; do sleep 0.5; i=$((i + 1)); done
who=$(cat "$work/held")
case "$who" in be1) n=1; other=be2 ;; be2) n=2; other=be1 ;; *) fail "the held connection got \"$who\"" ;; esac
grep -v -F "# chat $who" "$work/one.yaml" > "$work/gone.yaml"
sync "$work/gone.yaml"
ipvsadm -S -n | grep -q -x -e "-a -t 10.96.0.20:81 -r 10.244.$n.2:8081 -m -w 0" ||
  { ipvsadm -S -n; fail "the destination of the live connection is not at weight 0"; }
ipvsadm -L -n | grep -A3 '10.96.0.20:81' | grep "10.244.$n.2:8081" | awk '{exit !($5 == 1)}' ||
  { ipvsadm -L -n; fail "the live connection is not counted as active"; }
pass "graceful termination: $who's destination is at weight 0 while its connection lives"
got=$(answers "10.96.0.20 81" 2)
[ "$got" = "$other" ] || { ipvsadm -L -n; fail "new connections to chat went to \"$got\", want $other"; }
pass "graceful termination: new connections go to $other only"
kill "$holder"
i=0
while ipvsadm -S -n | grep -q "10.244.$n.2:8081" && [ $i -lt 30 ]; do
  sleep 2
  sync "$work/gone.yaml"
  i=$((i + 1))
done
! ipvsadm -S -n | grep -q "10.244.$n.2:8081" || { ipvsadm -L -n; fail "the destination stayed after its connection was reset"; }
pass "graceful termination: the destination is deleted once its connection is gone"
rm -rf "$work"
