#!/usr/bin/env bash
# design.md "Layering, per folder": what each folder's sources may not include. One row per
# folder (every folder of src/, modes/ and netlink/ has one); a row lists forbidden include
# prefixes. Files that are pure by name (planners, plans, diffs, tracers, offline proxiers, state)
# may not include netlink/ wherever they live. Run from anywhere; exit 1 with each violation.
set -euo pipefail
cd "$(dirname "$0")/../.."

# folder | forbidden include prefixes (space separated)
table='
src/util     | src/api src/config src/tracker src/watch src/proxy src/server src/cli modes/ netlink/
src          | modes/iptables modes/ipvs modes/nftables
src/api      | src/config src/tracker src/watch src/proxy src/server src/cli modes/ netlink/
src/config   | src/tracker src/watch src/proxy src/server src/cli modes/ netlink/
src/watch    | src/tracker src/proxy src/server src/cli modes/ netlink/
src/tracker  | src/watch src/proxy src/server src/cli modes/ netlink/
src/server   | src/api src/config src/tracker src/watch src/proxy src/cli modes/ netlink/
src/proxy    | src/cli modes/ netlink/ipvs netlink/ipset netlink/link netlink/iptables netlink/nfacct netlink/sysctl netlink/conntrack_nfct netlink/errors netlink/handles
src/cli      |
modes/common | modes/iptables modes/ipvs modes/nftables modes/registry netlink/ src/cli src/proxy src/watch
modes/iptables | modes/ipvs modes/nftables modes/registry src/cli src/watch
modes/ipvs   | modes/iptables modes/nftables modes/registry src/cli src/watch
modes/nftables | modes/iptables modes/ipvs modes/registry src/cli src/watch
modes        | src/cli
netlink      | src/api src/config src/tracker src/watch src/proxy src/server src/cli modes/
'
# Files whose job is pure computation, in any mode: never netlink/.
pure_globs='modes/*/planner* modes/*/plan.h modes/*/plan.cc modes/*/diff.* modes/*/drift.* modes/*/partial_sync* modes/*/chain_names*
  modes/*/state.* modes/*/graceful_termination* modes/*/offline_proxier* modes/*/*tracer* modes/common/*'

status=0
violation() { echo "layering violation: $1" >&2; status=1; }

checked_dirs=()
while IFS='|' read -r dir forbidden; do
  dir=$(echo "$dir" | xargs)
  [ -n "$dir" ] || continue
  checked_dirs+=("$dir")
  [ -d "$dir" ] || continue
  for f in "$dir"/*.h "$dir"/*.cc; do
    [ -e "$f" ] || continue
    for prefix in $forbidden; do
      while IFS= read -r line; do
        violation "$f includes \"${line}\" (not allowed in $dir/)"
      done < <(grep -oE "^#include \"${prefix}[^\"]*\"" "$f" | sed -E 's/^#include "(.*)"$/\1/' || true)
    done
  done
done <<< "$table"

# Every source folder has a row (a new folder must say what it may not include).
while IFS= read -r dir; do
  found=0
  for d in "${checked_dirs[@]}"; do [ "$d" = "$dir" ] && found=1; done
  [ $found = 1 ] || violation "$dir/ has no row in tests/tools/check_layering.sh"
done < <(find src modes netlink -type f \( -name '*.h' -o -name '*.cc' \) -printf '%h\n' | sort -u)

for f in $pure_globs; do
  [ -e "$f" ] || continue
  if grep -qE '^#include "netlink/' "$f"; then violation "$f is pure and includes netlink/"; fi
done

# The CMake graph agrees: the stale links the issue removed stay removed.
if grep -q 'kproxy_netlink.*kproxy_modes_common\|kproxy_ipvs_planner[^)]*kproxy_iptables_planner' netlink/CMakeLists.txt modes/CMakeLists.txt; then
  violation "netlink must not link modes_common, and the IPVS planner must not link the iptables planner"
fi

[ $status = 0 ] && echo "layering: ok"
exit $status
