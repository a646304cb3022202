#!/usr/bin/env bash
# Determinism of the simulator over every shipped scenario: the same seed
# gives the same trace hash, another seed another hash. Durations are cut
# (--duration) so the whole test stays within a few minutes on two cores;
# the full-length runs are what ./dev sim and the benchmarks do.
set -euo pipefail
root="$TEST_SRCDIR/$TEST_WORKSPACE"
sim="$root/sim/tools/p2psim"
out="$TEST_TMPDIR/out"

# scenario:duration pairs.
runs=(default:10m policy_compare:4m partition_heal:5m bootnode_outage:8m mainnet_10k:90s
  discv4_small:2m)
for f in "$root"/scenarios/*.textproto; do
  name="$(basename "$f" .textproto)"
  found=0
  for r in "${runs[@]}"; do [[ "${r%%:*}" == "$name" ]] && found=1; done
  [[ $found == 1 ]] || { echo "scenario $name is shipped but not checked here"; exit 1; }
done

hash() {  # scenario duration seed
  "$sim" --scenario "$root/scenarios/$1.textproto" --out "$out/$1-$3" --duration "$2" \
    --seed "$3" --quiet | sed -n 's/^trace_hash=//p'
}
for r in "${runs[@]}"; do
  name="${r%%:*}"; dur="${r#*:}"
  # Assertions may fail on cut runs (exit 1); only the hash matters here.
  a="$(hash "$name" "$dur" 11 || true)"
  b="$(hash "$name" "$dur" 11 || true)"
  c="$(hash "$name" "$dur" 12 || true)"
  echo "$name ($dur): seed 11 $a, again $b; seed 12 $c"
  [[ ${#a} == 16 ]] || { echo "$name: no trace_hash line"; exit 1; }
  [[ "$a" == "$b" ]] || { echo "$name: same seed, different trace hash"; exit 1; }
  [[ "$a" != "$c" ]] || { echo "$name: different seeds, same trace hash"; exit 1; }
  grep -q '"trace_hash":"'"$a"'"' "$out/$name-11/summary.json" ||
    { echo "$name: summary.json does not carry the printed hash"; exit 1; }
done

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

set +e
msg="$("$sim" --scenario "$root/scenarios/default.textproto" --out "$out/x" --duration soon 2>&1)"
rc=$?
set -e
[[ $rc == 2 && "$msg" == *'"soon"'* ]] || { echo "bad --duration not rejected: $rc $msg"; exit 1; }
echo ok
