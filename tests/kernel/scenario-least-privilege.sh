# IPVS mode with only CAP_NET_ADMIN and CAP_NET_RAW (inside the VM of run-kernel-tests; sh, as
# root): the IPVS row of tests/netns/least_privilege_test.cc, which needs a kernel with IPVS.
# NET_RAW because iptables' set match (-m set, in IPVS mode's rules) opens a raw socket to look
# sets up: with NET_ADMIN alone iptables-restore fails with "Can't open socket to ipset". kproxy
# runs under setpriv with its bounding, inheritable and ambient sets reduced to these: sync programs
# virtual servers, IP sets, kube-ipvs0 and the iptables rules (and writes IPVS mode's sysctls,
# which /proc/sys allows root here), a repeated sync succeeds, diff right after it finds no drift,
# facts works, cleanup removes it all.
# `run` comes the DaemonSet's way: a privileged `--init-only`, then the daemon with only these
# capabilities programs the objects, answers healthz, and exits 0 on SIGTERM leaving the state.
# Run on its own, with ip_vs not loaded, it passes too: kproxy's `modprobe ip_vs` fails without CAP_SYS_MODULE, but the
# kernel loads the module itself when the IPVS netlink family is first asked for.
build=${1:-build}
if [ -z "$KPROXY_SCENARIO_NETNS" ]; then
  # /usr/bin/dash by path: busybox (unshare) would run its own sh, whose applets shadow the tools.
  KPROXY_SCENARIO_NETNS=1 exec unshare -n /usr/bin/dash "$0" "$@"
fi
set -eu
kproxy="$PWD/$build/kproxy"
probe="$PWD/$build/tests/kproxy_tcp_probe"
dir=tests/kernel/scenarios
work=$(mktemp -d)
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }
command -v setpriv >/dev/null || fail "no setpriv in the VM (tests/kernel/vm-run copies util-linux's)"
caps=+net_admin,+net_raw
only() { setpriv --inh-caps=-all,$caps --ambient-caps=-all,$caps --bounding-set=-all,$caps -- "$@"; }

ip link set lo up
ip link add eth0 type dummy
ip addr add 192.168.50.10/24 dev eth0
ip link set eth0 up
ip route add default via 192.168.50.1 dev eth0

# The reduction itself: CAP_NET_ADMIN and CAP_NET_RAW only, and no CAP_SYS_ADMIN for a namespace.
only cat /proc/self/status | grep -q '^CapEff:.*0000000000003000$' || fail "setpriv did not reduce the capabilities"
if only unshare -n true 2>/dev/null; then fail "unshare worked without CAP_SYS_ADMIN"; fi

sync() {
  only "$kproxy" sync --proxy-mode ipvs -f "$dir/ipvs-base.yaml" --config "$dir/ipvs-config.yaml" --ip-family ipv4 \
    2> "$work/sync.log" || { cat "$work/sync.log"; fail "kproxy sync --proxy-mode ipvs with only NET_ADMIN and NET_RAW"; }
}
sync
ipvsadm -S -n | grep -q '^-A ' || fail "sync programmed no virtual server"
ip -o addr show dev kube-ipvs0 | grep -q 'inet ' || fail "sync bound no address to kube-ipvs0"
ipset list -n | grep -q '^KUBE-CLUSTER-IP$' || fail "sync created no KUBE-CLUSTER-IP set"
iptables-save -t nat | grep -q -- '--match-set KUBE-CLUSTER-IP' || fail "sync wrote no IPVS-mode rules"
[ "$(cat /proc/sys/net/ipv4/vs/conntrack)" = 1 ] || fail "net.ipv4.vs.conntrack is not 1"
pass "sync --proxy-mode ipvs with only CAP_NET_ADMIN and CAP_NET_RAW"
sync
pass "a repeated sync with only CAP_NET_ADMIN and CAP_NET_RAW"
# diff reads virtual servers, sets, kube-ipvs0 and the rules in process: exit 0 right after the
# sync (2 would mean something could not be read with these capabilities).
only "$kproxy" diff --proxy-mode ipvs -f "$dir/ipvs-base.yaml" --config "$dir/ipvs-config.yaml" --ip-family ipv4 \
  > "$work/diff.out" 2> "$work/diff.err" ||
  { cat "$work/diff.out" "$work/diff.err"; fail "diff --proxy-mode ipvs with only NET_ADMIN and NET_RAW"; }
pass "diff --proxy-mode ipvs with only CAP_NET_ADMIN and CAP_NET_RAW: no drift after the sync"
only "$kproxy" facts > "$work/facts.yaml" || fail "facts with only CAP_NET_ADMIN and CAP_NET_RAW"
grep -q '^localAddresses:' "$work/facts.yaml" || fail "facts printed no addresses"
pass "facts with only CAP_NET_ADMIN and CAP_NET_RAW"
# run, as deploy/03-daemonset.yaml runs it: --init-only with privileges, then the daemon without.
only "$kproxy" cleanup 2> "$work/cleanup.log" || { cat "$work/cleanup.log"; fail "cleanup before run"; }
"$kproxy" --init-only --config "$dir/ipvs-config.yaml" 2> "$work/init.log" ||
  { cat "$work/init.log"; fail "kproxy --init-only (privileged)"; }
# setpriv called directly (not through `only`): a backgrounded shell function is a subshell, and
# SIGTERM would reach that subshell instead of kproxy.
setpriv --inh-caps=-all,$caps --ambient-caps=-all,$caps --bounding-set=-all,$caps -- \
  "$kproxy" run --config "$dir/ipvs-config.yaml" --objects "$dir/ipvs-base.yaml" > "$work/run.log" 2>&1 &
runpid=$!
# healthz answers 200 before the first sync has finished (as upstream's does at start), so the
# first completed sync is read from the metrics instead.
synced() {
  "$probe" http 127.0.0.1 10249 /metrics 2>/dev/null |
    awk '/^kubeproxy_sync_proxy_rules_duration_seconds_count\{ip_family="IPv4"\}/ { n = $2 } END { exit !(n >= 1) }'
}
tries=600
until synced; do
  kill -0 "$runpid" 2>/dev/null || { cat "$work/run.log"; fail "kproxy run with only NET_ADMIN and NET_RAW exited"; }
  tries=$((tries - 1))
  [ "$tries" -gt 0 ] || { tail -n 30 "$work/run.log"; kill -9 "$runpid"; fail "run: no completed sync within 120 s"; }
  sleep 0.2
done
"$probe" http 127.0.0.1 10256 /healthz | grep -q '^HTTP/1.[01] 200' || { kill -9 "$runpid"; fail "run: healthz not 200 after the first sync"; }
ipvsadm -S -n | grep -q '^-A ' || { kill -9 "$runpid"; fail "run programmed no virtual server"; }
ipvsadm -S -n > "$work/before.term"
kill -TERM "$runpid"
status=0
wait "$runpid" || status=$?
[ "$status" = 0 ] || { tail -n 30 "$work/run.log"; fail "run exited with $status on SIGTERM"; }
ipvsadm -S -n > "$work/after.term"
cmp -s "$work/before.term" "$work/after.term" || fail "SIGTERM changed the IPVS state"
! grep -qi 'operation not permitted' "$work/run.log" || { grep -i 'operation not permitted' "$work/run.log"; fail "run hit EPERM"; }
pass "run (after a privileged --init-only) with only CAP_NET_ADMIN and CAP_NET_RAW: synced, healthz 200, SIGTERM exit 0"
only "$kproxy" cleanup 2> "$work/cleanup.log" || { cat "$work/cleanup.log"; fail "cleanup with only CAP_NET_ADMIN and CAP_NET_RAW"; }
[ -z "$(ipvsadm -S -n | grep -v '172.31.0.1' || true)" ] || fail "cleanup left virtual servers"
! ip link show kube-ipvs0 >/dev/null 2>&1 || fail "cleanup left kube-ipvs0"
! ipset list -n | grep -q '^KUBE-' || fail "cleanup left KUBE-* sets"
pass "cleanup with only CAP_NET_ADMIN and CAP_NET_RAW"
rm -rf "$work"
