#!/usr/bin/env bash
# Determinism of the simulator over every shipped scenario: the same seed
# gives the same trace hash, another seed another hash; and the keepalive
# modes agree: the run with the other network.keepalive (p2psim
# --keepalive) gives the same hash, with fewer events when elided (see
# sim/world.h for why they must agree). Durations are cut
# (--duration) so the whole test stays within a few minutes on two cores;
# the full-length runs are what ./dev sim and the benchmarks do.
set -euo pipefail
root="$TEST_SRCDIR/$TEST_WORKSPACE"
sim="$root/sim/tools/p2psim"
out="$TEST_TMPDIR/out"

# scenario:duration[:discovery override] (p2psim --discovery).
runs=(default:10m policy_compare:4m partition_heal:5m bootnode_outage:8m mainnet_10k:90s
  discv4_small:2m mainnet_10k:60s:discv4)
for f in "$root"/scenarios/*.textproto; do
  name="$(basename "$f" .textproto)"
  found=0
  for r in "${runs[@]}"; do [[ "${r%%:*}" == "$name" ]] && found=1; done
  [[ $found == 1 ]] || { echo "scenario $name is shipped but not checked here"; exit 1; }
done

hash() {  # scenario duration seed out-name [p2psim flags...]
  local name="$1" dur="$2" seed="$3" dir="$4"
  shift 4
  "$sim" --scenario "$root/scenarios/$name.textproto" --out "$out/$dir-$seed" --duration "$dur" \
    --seed "$seed" --quiet "$@" | sed -n 's/^trace_hash=//p'
}
events() { sed -n 's/.*"events":\([0-9]*\).*/\1/p' "$out/$1-11/summary.json"; }  # out-name
for r in "${runs[@]}"; do
  IFS=: read -r name dur disc <<<"$r"
  flags=() dir="$name"
  if [[ -n "$disc" ]]; then flags=(--discovery "$disc"); dir="$name-$disc"; fi
  # Assertions may fail on cut runs (exit 1); only the hash matters here.
  a="$(hash "$name" "$dur" 11 "$dir" "${flags[@]}" || true)"
  b="$(hash "$name" "$dur" 11 "$dir" "${flags[@]}" || true)"
  c="$(hash "$name" "$dur" 12 "$dir" "${flags[@]}" || true)"
  echo "$dir ($dur): seed 11 $a, again $b; seed 12 $c"
  [[ ${#a} == 16 ]] || { echo "$dir: no trace_hash line"; exit 1; }
  [[ "$a" == "$b" ]] || { echo "$dir: same seed, different trace hash"; exit 1; }
  [[ "$a" != "$c" ]] || { echo "$dir: different seeds, same trace hash"; exit 1; }
  grep -q '"trace_hash":"'"$a"'"' "$out/$dir-11/summary.json" ||
    { echo "$dir: summary.json does not carry the printed hash"; exit 1; }
  # The same run with the other keepalive mode: the same trace, and fewer
  # events when elided.
  elided="$dir-elided" messages="$dir" other=elided
  if grep -q '"keepalive":"elided"' "$out/$dir-11/summary.json"; then
    elided="$dir" messages="$dir-messages" other=messages
  fi
  k="$(hash "$name" "$dur" 11 "$dir-$other" "${flags[@]}" --keepalive "$other" || true)"
  echo "$dir ($dur): keepalive $other: $k; events elided $(events "$elided"), messages $(events "$messages")"
  [[ "$k" == "$a" ]] || { echo "$dir: keepalive $other changed the trace hash"; exit 1; }
  grep -q '"keepalive":"'"$other"'"' "$out/$dir-$other-11/summary.json" ||
    { echo "$dir: summary.json does not name the keepalive override"; exit 1; }
  (($(events "$elided") < $(events "$messages"))) || { echo "$dir: eliding removed no events"; exit 1; }
  if [[ -n "$disc" ]]; then
    grep -q '"discovery":"'"$disc"'"' "$out/$dir-11/summary.json" ||
      { echo "$dir: summary.json does not name the discovery override"; exit 1; }
  fi
done
# The override changes the run: oracle and discv4 on one network differ.
[[ "$(grep -o '"trace_hash":"[0-9a-f]*"' "$out/mainnet_10k-11/summary.json")" != \
   "$(grep -o '"trace_hash":"[0-9a-f]*"' "$out/mainnet_10k-discv4-11/summary.json")" ]] ||
  { echo "--discovery discv4 did not change the mainnet_10k run"; exit 1; }
grep -q '"discv4":{"signatures":"modelled"' "$out/mainnet_10k-discv4-11/summary.json" ||
  { echo "mainnet_10k under discv4: no modelled discv4 counters in summary.json"; exit 1; }

# A malformed scenario is rejected with file, line and column, and nothing
# runs or is written.
bad="$TEST_TMPDIR/bad.textproto"
printf 'name: "x"\ngroups { name: "a" count: 3 maxpeers: 4 }\n' >"$bad"
set +e
msg="$("$sim" --scenario "$bad" --out "$out/bad" 2>&1)"; rc=$?
set -e
echo "malformed: rc=$rc: $msg"
[[ $rc == 2 && "$msg" == *"bad.textproto:2:"* && "$msg" == *"maxpeers"* ]] ||
  { echo "malformed scenario not rejected as expected"; exit 1; }
[[ ! -e "$out/bad/summary.json" ]] || { echo "a rejected scenario wrote output"; exit 1; }

printf 'groups { name: "a" count: 3 churn { lifetime { kind: EXPONENTIAL mean: "ten" } downtime { mean: "1m" } } }\n' >"$bad"
set +e
msg="$("$sim" --scenario "$bad" --out "$out/bad" 2>&1)"; rc=$?
set -e
echo "invalid value: rc=$rc: $msg"
[[ $rc == 2 && "$msg" == *"groups[0].churn.lifetime.mean"* && "$msg" == *'"ten"'* ]] ||
  { echo "invalid field value not named"; exit 1; }

# A bad flag value is rejected with exit code 2 and a message naming it,
# and nothing is written.
rejects_flag() {  # flag value expected-message-part
  local dir="$out/bad-flag${1}"
  set +e
  msg="$("$sim" --scenario "$root/scenarios/default.textproto" --out "$dir" "$1" "$2" 2>&1)"
  rc=$?
  set -e
  [[ $rc == 2 && "$msg" == *"$3"* ]] || { echo "bad $1 not rejected: $rc $msg"; exit 1; }
  [[ ! -e "$dir/summary.json" ]] || { echo "a rejected $1 wrote output"; exit 1; }
}
rejects_flag --duration soon '"soon" for --duration'
rejects_flag --discovery kad '"kad" for --discovery'
rejects_flag --keepalive none '"none" for --keepalive: want messages or elided'
echo ok
