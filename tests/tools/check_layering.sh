#!/usr/bin/env bash
# design.md convention 14: planners, plans and diffs are pure; they never include netlink/.
set -euo pipefail
cd "$(dirname "$0")/../.."
bad=$(grep -lE '#include "netlink/' modes/*/planner* modes/*/plan.h modes/*/diff* modes/*/partial_sync* \
      modes/*/chain_names* modes/*/state.h modes/*/plan.* modes/*/tracer* modes/*/packet_tracer* modes/*/graceful_termination* modes/common/* 2>/dev/null || true)
if [ -n "$bad" ]; then
  echo "layering violation: pure planner files include netlink/:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "layering: ok"
