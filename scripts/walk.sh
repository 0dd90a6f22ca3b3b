#!/usr/bin/env bash
# The README's walk: one request through every state of its life, by curl, against a running
# `redgrid demo`. Needs the variables the demo prints (RG, AREA, UNIT, CATEGORY, APPROVER, RESIDENT,
# GRID, VOLUNTEER, VERIFIER). Exits non-zero at the first step that does not answer as expected.
set -euo pipefail

step() { # step NAME TOKEN PATH JSON EXPECTED_STATUS
  local out
  out=$(curl -sS -X POST "$RG$3" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$4")
  local status
  status=$(printf '%s' "$out" | grep -o '"status":"[a-z_]*"' | head -1 | cut -d'"' -f4)
  printf '%-10s -> %s\n' "$1" "${status:-$out}"
  [ "$status" = "$5" ] || { echo "expected $5, got: $out" >&2; exit 1; }
}

# 点单: the resident files a need in the demo grid.
ID=$(curl -sS -X POST "$RG/api/requests" -H "Authorization: Bearer $RESIDENT" \
  -H 'Content-Type: application/json' -H "Idempotency-Key: walk-$(date +%s%N)" \
  -d "{\"channel\":\"app\",\"description\":\"3号楼2单元楼道灯坏了一周，老人晚上上下楼不安全\",\"area_id\":$AREA}" \
  | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
echo "submitted  -> request $ID"
step accept    "$GRID"      "/api/requests/$ID/accept"   "{\"category_id\":$CATEGORY}"                        accepted
step dispatch  "$GRID"      "/api/requests/$ID/dispatch" "{\"unit_id\":$UNIT}"                                dispatched
step claim     "$VOLUNTEER" "/api/requests/$ID/claim"    "{}"                                                 claimed
step note      "$VOLUNTEER" "/api/requests/$ID/note"     '{"text":"已电话联系居民，约定今晚上门","contact_made":true}' claimed
step suspend   "$GRID"      "/api/requests/$ID/suspend"  "{\"reason\":\"等待物业采购灯具\",\"approver_id\":$APPROVER}" suspended
step resume    "$GRID"      "/api/requests/$ID/resume"   "{}"                                                 claimed
step resolve   "$VOLUNTEER" "/api/requests/$ID/resolve"  '{"summary":"已更换声控灯两盏，试亮正常","cost_fen":6000}' resolved
step verify    "$VERIFIER"  "/api/requests/$ID/verify"   '{"passed":true}'                                    verified
step rate      "$RESIDENT"  "/api/requests/$ID/rate"     '{"resolved":true,"satisfaction":"satisfied","comment":"很及时，谢谢"}' closed
# The whole timeline.
curl -sS "$RG/api/requests/$ID" -H "Authorization: Bearer $RESIDENT" | grep -o '"kind":"[a-z]*"' | cut -d'"' -f4 | tr '\n' ' '
echo
