# IPVS mode against the real kernel (inside the VM of run-kernel-tests; sh, as root):
#  1. a full `kproxy sync --proxy-mode ipvs` from nothing, then `ipvsadm -S -n`, `ipset save` and
#     kube-ipvs0's addresses compared with `kproxy render --proxy-mode ipvs` of the same input;
#  2. an endpoint change: the sync changes exactly that destination and nothing else;
#  3. a service change: one service gone, one new; only they change, unrelated virtual servers stay;
#  4. `kproxy diff --proxy-mode ipvs`: exit 0 right after the sync (the foreign virtual server inside
#     excludeCIDRs is no drift); exit 1 naming each drift made by hand (a virtual server deleted,
#     a weight changed, an extra real server, a set member removed, a kube-ipvs0 address removed,
#     a rule of an IPVS chain deleted), then 0 again after a sync undid them;
#  5. a virtual server inside ipvs.excludeCIDRs survives every sync; `kproxy cleanup` removes IPVS mode.
# Runs in its own network namespace (unshare) so nothing leaks into other scenarios.
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

# A node: lo, and eth0 (a dummy link) with the node IP and a default route, so destinations are
# routable (the kernel refuses unroutable ones).
ip link set lo up
ip link add eth0 type dummy
ip addr add 192.168.50.10/24 dev eth0
ip link set eth0 up
ip route add default via 192.168.50.1 dev eth0

# What is the node like (before kube-ipvs0 holds anything): render uses it.
"$kproxy" facts > "$work/facts.yaml"

# kproxy's state of the kernel, in the plan's canonical forms.
observe() {  # observe DIR
  mkdir -p "$1"
  ipvsadm -S -n > "$1/ipvsadm.txt"
  # ipset save, canonical: no bucketsize/initval, members sorted per set, IPVS mode's sets only.
  ipset save | sed -e 's/ bucketsize [0-9]*//' -e 's/ initval 0x[0-9a-f]*//' |
    awk '/^create KUBE-/ {print; next} /^add KUBE-/ {print}' |
    awk '{ key = ($1 == "create") ? $2 " 0" : $2 " 1 " $3; print key "\t" $0 }' | sort -t "$(printf '\t')" -k1,1 |
    cut -f2- > "$1/ipset.txt"
  ip -o addr show dev kube-ipvs0 2>/dev/null | awk '{print $4}' | sort > "$1/kube-ipvs0.txt"
}
plan() {  # plan CLUSTER DIR
  "$kproxy" render --proxy-mode ipvs -f "$1" --config "$dir/ipvs-config.yaml" --node-facts "$work/facts.yaml" \
    --ip-family ipv4 --output-dir "$2"
  sort -t "$(printf '\t')" "$2/ipset.txt" | awk '{ key = ($1 == "create") ? $2 " 0" : $2 " 1 " $3; print key "\t" $0 }' |
    sort -t "$(printf '\t')" -k1,1 | cut -f2- > "$2/ipset.sorted"
  mv "$2/ipset.sorted" "$2/ipset.txt"
  grep '^ip addr add' "$2/kube-ipvs0.txt" | awk '{print $4}' | sort > "$2/kube-ipvs0.addrs"
  mv "$2/kube-ipvs0.addrs" "$2/kube-ipvs0.txt"
}
compare() {  # compare STEP PLAN OBSERVED
  for f in ipvsadm.txt ipset.txt kube-ipvs0.txt; do
    if ! diff -u "$2/$f" "$3/$f" > "$work/diff"; then
      cat "$work/diff"
      fail "$1: the kernel's $f differs from the plan"
    fi
  done
  pass "$1: ipvsadm -S -n, ipset save and kube-ipvs0 equal the plan"
}
sync() {  # sync CLUSTER LOG
  "$kproxy" sync --proxy-mode ipvs -f "$1" --config "$dir/ipvs-config.yaml" --ip-family ipv4 -v 1 2> "$2" ||
    { cat "$2"; fail "kproxy sync -f $1"; }
}
# The applied change list of a sync log (between its "# ipvs IPv4 changes" and timings lines).
changes() { sed -n '/^# ipvs IPv4 changes/,/^# ipvs IPv4 timings/p' "$1" | sed '1d;$d'; }

# A virtual server that is not kproxy's (another tool's), inside ipvs.excludeCIDRs of the config
# (upstream deletes every other virtual server of its family that it did not plan).
ipvsadm -A -t 172.31.0.1:7000 -s wrr
ipvsadm -a -t 172.31.0.1:7000 -r 192.168.50.99:7000 -m -w 5

# 1. Full sync from nothing.
cp "$dir/ipvs-base.yaml" "$work/step1.yaml"
sync "$work/step1.yaml" "$work/sync1.log"
grep '^# ipvs IPv4 timings' "$work/sync1.log"
plan "$work/step1.yaml" "$work/plan1"
observe "$work/kernel1"
grep -v '172.31.0.1' "$work/kernel1/ipvsadm.txt" > "$work/kernel1/ipvsadm.ours" || true
mv "$work/kernel1/ipvsadm.ours" "$work/kernel1/ipvsadm.txt"
compare "full sync" "$work/plan1" "$work/kernel1"
[ -s "$work/plan1/ipvsadm.txt" ] || fail "the plan has no virtual servers"
grep -q -- '-p 10800' "$work/plan1/ipvsadm.txt" || fail "session affinity is not persistence"
grep -q -- '--sctp-service' "$work/plan1/ipvsadm.txt" || fail "no SCTP virtual server"
grep -q -- '^-A -u ' "$work/plan1/ipvsadm.txt" || fail "no UDP virtual server"
iptables-save -t nat | grep -q -- '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' ||
  fail "the jump to KUBE-SERVICES is missing"
iptables-save -t nat | grep -q -- '--match-set KUBE-CLUSTER-IP' || fail "the IPVS-mode rules are missing"

# The same sync again changes nothing.
sync "$work/step1.yaml" "$work/sync1b.log"
[ -z "$(changes "$work/sync1b.log")" ] || { changes "$work/sync1b.log"; fail "a repeated sync changed something"; }
pass "a repeated sync changes nothing"

# 2. Endpoint change: 10.244.1.4 leaves web, 10.244.1.5 joins.
sed 's/10\.244\.1\.4\]/10.244.1.5]/' "$work/step1.yaml" > "$work/step2.yaml"
sync "$work/step2.yaml" "$work/sync2.log"
changes "$work/sync2.log" > "$work/changes2"
cat > "$work/want2" <<'WANT'
delete 10.244.1.4,tcp:8080,10.244.1.4 from set KUBE-LOOP-BACK
add 10.244.1.5,tcp:8080,10.244.1.5 to set KUBE-LOOP-BACK
WANT
# Per virtual server of web (ClusterIP and one per NodePort address): one add and one remove.
grep -c 'add real server 10.244.1.5:8080' "$work/changes2" > "$work/adds"
grep -c 'remove real server 10.244.1.4:8080' "$work/changes2" > "$work/removes"
others=$(grep -v -e 'real server 10.244.1.5:8080' -e 'real server 10.244.1.4:8080' "$work/changes2" |
         grep -v -x -F -f "$work/want2" || true)
[ -z "$others" ] || { cat "$work/changes2"; fail "the endpoint change touched more than that destination: $others"; }
[ "$(cat "$work/adds")" = "$(cat "$work/removes")" ] && [ "$(cat "$work/adds")" -ge 2 ] ||
  { cat "$work/changes2"; fail "expected one add and one remove per virtual server of web"; }
plan "$work/step2.yaml" "$work/plan2"
observe "$work/kernel2"
grep -v '172.31.0.1' "$work/kernel2/ipvsadm.txt" > "$work/kernel2/ipvsadm.ours" || true
mv "$work/kernel2/ipvsadm.ours" "$work/kernel2/ipvsadm.txt"
compare "endpoint change" "$work/plan2" "$work/kernel2"
pass "endpoint change: only 10.244.1.4 -> 10.244.1.5 ($(cat "$work/adds") virtual servers)"

# 3. Service change: sticky goes, api comes.
awk 'BEGIN { RS = "---\n"; ORS = "---\n" } !/sticky/' "$work/step2.yaml" > "$work/step3.yaml"
cat >> "$work/step3.yaml" <<'SVC'
apiVersion: v1
kind: Service
metadata: {name: api, namespace: default}
spec:
  clusterIP: 10.96.0.12
  ports:
  - {name: http, port: 8080, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: api-1
  namespace: default
  labels: {kubernetes.io/service-name: api}
addressType: IPv4
endpoints:
- addresses: [10.244.4.2]
ports:
- {name: http, port: 8080, protocol: TCP}
SVC
sync "$work/step3.yaml" "$work/sync3.log"
changes "$work/sync3.log" > "$work/changes3"
bad=$(grep -v -e '^-- after the iptables rules --$' -e '10\.96\.0\.11' -e '10\.96\.0\.12' -e '10\.244\.2\.2' -e '10\.244\.4\.2' "$work/changes3" || true)
[ -z "$bad" ] || { cat "$work/changes3"; fail "the service change touched other services: $bad"; }
grep -q 'delete virtual server 10.96.0.11:443/TCP' "$work/changes3" || fail "sticky's virtual server not deleted"
grep -q 'add virtual server TCP 10.96.0.12:8080' "$work/changes3" || { cat "$work/changes3"; fail "api's virtual server not added"; }
grep -q 'unbind 10.96.0.11/32' "$work/changes3" || fail "sticky's address not unbound"
plan "$work/step3.yaml" "$work/plan3"
observe "$work/kernel3"
grep -q '172.31.0.1:7000' "$work/kernel3/ipvsadm.txt" || fail "the virtual server kproxy does not own was removed"
grep -v '172.31.0.1' "$work/kernel3/ipvsadm.txt" > "$work/kernel3/ipvsadm.ours" || true
mv "$work/kernel3/ipvsadm.ours" "$work/kernel3/ipvsadm.txt"
compare "service change" "$work/plan3" "$work/kernel3"
pass "service change: only sticky and api changed; the foreign virtual server stayed"

# 4. diff: nothing right after the sync; each drift made by hand is named, and a sync undoes it.
diff_ipvs() {  # diff_ipvs OUT: kproxy diff's exit code
  set +e
  "$kproxy" diff --proxy-mode ipvs -f "$work/step3.yaml" --config "$dir/ipvs-config.yaml" --ip-family ipv4 \
    > "$1" 2> "$1.err"
  code=$?
  set -e
  return $code
}
diff_start=$(date +%s)
diff_ipvs "$work/diff0" && code=0 || code=$?
[ $code = 0 ] || { cat "$work/diff0" "$work/diff0.err"; fail "diff right after the sync: exit $code, not 0"; }
[ ! -s "$work/diff0" ] || { cat "$work/diff0"; fail "diff right after the sync printed something"; }
# Six drifts at once (one kproxy diff and one sync under TCG cost ~4 s each, so not one round per
# drift; tests/unit/ipvs/drift_test.cc has each alone): each must be listed.
ipvsadm -D -t 10.96.0.12:8080                                 # a virtual server deleted
ipvsadm -e -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 3        # a real server's weight changed
ipvsadm -a -t 10.96.0.10:80 -r 10.244.9.9:8080 -m -w 1        # an extra real server
ipset del KUBE-CLUSTER-IP 10.96.0.10,tcp:80                   # a set member removed
ip addr del 10.96.0.12/32 dev kube-ipvs0                      # a kube-ipvs0 address removed
iptables -t nat -D KUBE-SERVICES -s 127.0.0.0/8 -j RETURN     # a rule of an IPVS chain deleted
diff_ipvs "$work/drift" && code=0 || code=$?
cat "$work/drift"
[ $code = 1 ] || { cat "$work/drift.err"; fail "diff after the drifts: exit $code, not 1"; }
for line in "+-A -t 10.96.0.12:8080 -s rr" \
            "--a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 3" \
            "+-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1" \
            "--a -t 10.96.0.10:80 -r 10.244.9.9:8080 -m -w 1" \
            "+add KUBE-CLUSTER-IP 10.96.0.10,tcp:80" \
            "+ip addr add 10.96.0.12/32 dev kube-ipvs0" \
            "+-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN"; do
  grep -q -x -F -- "$line" "$work/drift" || fail "diff does not list: $line"
done
pass "diff exits 1 and names each drift"
sync "$work/step3.yaml" "$work/resync.log"
diff_ipvs "$work/drift" && code=0 || code=$?
[ $code = 0 ] || { cat "$work/drift" "$work/drift.err"; fail "diff after the sync that undid the drifts: exit $code"; }
pass "diff exits 0 after a sync undid the drifts"
echo "diff checks took $(( $(date +%s) - diff_start )) s"

# 5. Cleanup.
"$kproxy" cleanup || fail "kproxy cleanup"
[ -z "$(ipvsadm -S -n)" ] || fail "virtual servers left after cleanup"
! ip link show kube-ipvs0 2>/dev/null || fail "kube-ipvs0 left after cleanup"
! ipset list -n | grep -q '^KUBE-' || { ipset list -n; fail "sets left after cleanup"; }
! iptables-save | grep -q 'KUBE-' || { iptables-save | grep KUBE-; fail "rules left after cleanup"; }
pass "cleanup removed virtual servers, kube-ipvs0, sets and rules"
rm -rf "$work"
