#!/bin/sh
# nft-commit-cost.sh: what one small iptables-restore costs on the nf_tables back end once a
# large kube-proxy ruleset is reachable from the base chains. Root; everything happens in a
# private network namespace that is deleted afterwards.
#
#   bench/nft-commit-cost.sh [--services N] [--kproxy PATH] [--workload PATH]
#
# Steps: render the N-services x 10-endpoints workload with `kproxy render`, restore it into an
# empty namespace, then time the same one-service partial payload (a KUBE-SVC chain rewritten
# with a jump to a new KUBE-SEP chain, as kproxy writes when one endpoint changes) three times
# with the KUBE chains unreachable, then three times after PREROUTING/OUTPUT/POSTROUTING jump
# into them (as on a real node). Prints wall, user and sys seconds of each iptables-restore.
#
# Why: nf_tables validates the table graph on every commit that adds a rule with a verdict or a
# compat (xtables) expression, walking every chain reachable from each base chain; at 10k
# services that walk is most of a partial sync, and it is kernel time (sys), not kproxy's.
set -eu

services=10000
kproxy=build/kproxy
workload=build/kproxy_workload
while [ $# -gt 0 ]; do
  case "$1" in
    --services) services=$2; shift 2 ;;
    --kproxy) kproxy=$2; shift 2 ;;
    --workload) workload=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d)
ns=kproxy-commit-cost-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

"$workload" --services "$services" --endpoints 10 >"$work/cluster.json"
"$workload" --services "$services" --endpoints 10 --config >"$work/config.yaml"
"$kproxy" render -f "$work/cluster.json" --config "$work/config.yaml" >"$work/full.txt"

# The first service port's KUBE-SVC chain and its rules, pointed at one new endpoint chain.
svc=$(grep -m1 -o '^-A KUBE-SVC-[A-Z0-9]* ' "$work/full.txt" | cut -d' ' -f2)
new_sep=KUBE-SEP-COMMITCOSTTEST01
{
  echo '*nat'
  echo ":$svc - [0:0]"
  echo ":$new_sep - [0:0]"
  grep "^-A $svc .*KUBE-MARK-MASQ" "$work/full.txt" || true
  echo "-A $svc -j $new_sep"
  echo "-A $new_sep -s 10.250.0.1 -j KUBE-MARK-MASQ"
  echo "-A $new_sep -m tcp -p tcp -j DNAT --to-destination 10.250.0.1:8080"
  echo 'COMMIT'
} >"$work/partial.txt"

ip netns add "$ns"
echo "$services services x 10 endpoints: $(wc -c <"$work/full.txt") bytes, $(grep -c '^:' "$work/full.txt") chains"
/usr/bin/time -f "full restore: %e s (user %U, sys %S)" ip netns exec "$ns" iptables-nft-restore <"$work/full.txt"

timed_partials() {
  for i in 1 2 3; do
    /usr/bin/time -f "  partial $i: %e s (user %U, sys %S)" \
      ip netns exec "$ns" iptables-nft-restore -w 5 --noflush --counters <"$work/partial.txt"
  done
}
echo "KUBE chains not reachable from any base chain:"
timed_partials
ip netns exec "$ns" iptables -t nat -I PREROUTING -j KUBE-SERVICES
ip netns exec "$ns" iptables -t nat -I OUTPUT -j KUBE-SERVICES
ip netns exec "$ns" iptables -t nat -I POSTROUTING -j KUBE-POSTROUTING
echo "after PREROUTING, OUTPUT and POSTROUTING jump into them (a real node):"
timed_partials
