#!/usr/bin/env bash
# Self-test of peer.mjs: pairs of peer.mjs processes on 127.0.0.1 (one
# listening, one dialing it) run short scenarios; their JSON-lines reports
# are checked. Bounded: every process has --timeout and an outer `timeout`.
# Exits non-zero on any failure. Needs node_modules (npm ci, or ./dev setup).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

if [[ ! -d node_modules/@ethereumjs/devp2p ]]; then
  echo "selftest: node_modules missing; run 'npm ci' in tests/interop (or ./dev setup)" >&2
  exit 1
fi

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do
    if [[ -n "$p" ]]; then kill "$p" 2>/dev/null || true; fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

KEY_A=1111111111111111111111111111111111111111111111111111111111111111
KEY_B=2222222222222222222222222222222222222222222222222222222222222222
PEER_TIMEOUT=15   # seconds, each peer.mjs exits by itself after this
OUTER_TIMEOUT=25  # seconds, hard stop for a peer.mjs that ignores it

passed=0
failed=0

# Waits (at most 10 s) for the listening line in $1 and prints its enode.
wait_enode() {
  local out="$1" i
  for ((i = 0; i < 100; i++)); do
    if [[ -s "$out" ]] && head -n1 "$out" | grep -q '"event":"listening"'; then
      head -n1 "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["enode"])'
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# run_pair NAME "A flags" "B flags": A listens, B dials A. Leaves the reports
# in $WORK/NAME.a and $WORK/NAME.b and exit codes in $WORK/NAME.{a,b}.rc.
run_pair() {
  local name="$1" a_flags="$2" b_flags="$3"
  local a="$WORK/$name.a" b="$WORK/$name.b"
  # shellcheck disable=SC2086
  (timeout "$OUTER_TIMEOUT" node peer.mjs --key "$KEY_A" --port 0 --timeout "$PEER_TIMEOUT" \
    --exit-after-close $a_flags >"$a" 2>"$a.err"; echo $? >"$a.rc") &
  local apid=$!
  PIDS+=("$apid")
  local enode
  if ! enode="$(wait_enode "$a")"; then
    echo "selftest: $name: listener printed no listening line" >&2
    cat "$a" "$a.err" >&2 || true
    wait "$apid" || true
    return 1
  fi
  # shellcheck disable=SC2086
  (timeout "$OUTER_TIMEOUT" node peer.mjs --key "$KEY_B" --port 0 --timeout "$PEER_TIMEOUT" \
    --exit-after-close --dial "$enode" $b_flags >"$b" 2>"$b.err"; echo $? >"$b.rc") &
  local bpid=$!
  PIDS+=("$bpid")
  wait "$apid" || true
  wait "$bpid" || true
}

# check NAME: runs the Python expectations for scenario NAME.
check() {
  local name="$1"
  if python3 - "$name" "$WORK/$name.a" "$WORK/$name.b" <<'PY'
import json, sys

name, a_path, b_path = sys.argv[1:4]

def load(path):
    events = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                events.append(json.loads(line))
            except ValueError:
                raise SystemExit(f"{path}:{n}: not JSON: {line!r}")
    with open(path + ".rc") as f:
        rc = int(f.read().strip())
    return events, rc

A, a_rc = load(a_path)
B, b_rc = load(b_path)
problems = []

def expect(cond, what):
    if not cond:
        problems.append(what)

def of(events, kind):
    return [e for e in events if e.get("event") == kind]

def node_id(events):
    ls = of(events, "listening")
    return ls[0]["enode"][len("enode://"):].split("@")[0] if ls else None

for label, ev, rc in (("A", A, a_rc), ("B", B, b_rc)):
    expect(rc == 0, f"{label} exit code {rc}")
    expect(ev and ev[0].get("event") == "listening", f"{label}: first line is not 'listening'")
    expect(ev and ev[-1].get("event") == "exit", f"{label}: last line is not 'exit'")
    expect(ev and ev[-1].get("why") == "closed", f"{label}: exited for {ev[-1].get('why') if ev else None}, not 'closed'")

ida, idb = node_id(A), node_id(B)

def expect_added(ev, label, other_id, inbound):
    added = of(ev, "peer_added")
    expect(len(added) == 1, f"{label}: {len(added)} peer_added events, want 1")
    if added:
        p = added[0]
        expect(p["id"] == other_id, f"{label}: peer_added id {p['id']} != {other_id}")
        expect(p["inbound"] is inbound, f"{label}: inbound {p['inbound']}, want {inbound}")
        expect(p["caps"] == ["tst/1"], f"{label}: caps {p['caps']}")
        expect(p["protocol_version"] == 5, f"{label}: protocol_version {p['protocol_version']}")
        expect(p["shared"] == [{"cap": "tst/1", "offset": 16, "length": 4}], f"{label}: shared {p['shared']}")

def expect_message(ev, label, payload):
    msgs = of(ev, "message")
    expect(len(msgs) == 1, f"{label}: {len(msgs)} message events, want 1")
    if msgs:
        expect(msgs[0]["code"] == 0 and msgs[0]["payload"] == payload,
               f"{label}: message {msgs[0]}, want code 0 payload {payload}")

def expect_removed(ev, label, other_id, reason, remote):
    rem = of(ev, "peer_removed")
    expect(len(rem) == 1, f"{label}: {len(rem)} peer_removed events, want 1")
    if rem:
        r = rem[0]
        expect(r["id"] == other_id, f"{label}: peer_removed id {r['id']}")
        expect(r["reason"] == reason, f"{label}: peer_removed reason {r['reason']}, want {reason}")
        expect(r.get("remote") is remote, f"{label}: peer_removed remote {r.get('remote')}, want {remote}")

def expect_no_errors(ev, label):
    errs = of(ev, "error")
    expect(not errs, f"{label}: errors {errs}")

if name in ("dialer_sends", "listener_sends"):
    expect_added(A, "A", idb, True)
    expect_added(B, "B", ida, False)
    expect_no_errors(A, "A")
    expect_no_errors(B, "B")
    if name == "dialer_sends":
        # B sends c3010203; A receives it and disconnects with 8.
        expect_message(A, "A", "c3010203")
        expect(not of(B, "message"), "B: unexpected message")
        expect_removed(A, "A", idb, 8, False)
        expect_removed(B, "B", ida, 8, True)
    else:
        # A sends c0; B receives it and disconnects with 0x10.
        expect_message(B, "B", "c0")
        expect(not of(A, "message"), "A: unexpected message")
        expect_removed(B, "B", ida, 16, False)
        expect_removed(A, "A", idb, 16, True)
elif name == "reason_zero":
    # Library quirk pinned here: Disconnect reason 0 goes out as the bare,
    # uncompressed byte 0x80; the receiver (devp2p v5, so snappy) fails to
    # decompress it and disconnects with SUBPROTOCOL_ERROR (0x10) itself.
    expect_message(B, "B", "c0")
    expect_removed(B, "B", ida, 0, False)
    expect_removed(A, "A", idb, 16, False)
    errs = of(A, "error")
    expect(len(errs) == 1 and "Snappy" in errs[0]["message"], f"A: errors {errs}")
elif name == "no_shared_cap":
    # No shared capability: each side drops the other (USELESS_PEER) during
    # the Hello exchange; the library reports no peer_added/peer_removed.
    for label, ev in (("A", A), ("B", B)):
        expect(not of(ev, "peer_added"), f"{label}: unexpected peer_added")
        expect(not of(ev, "peer_removed"), f"{label}: unexpected peer_removed")
        closed = of(ev, "socket_closed")
        expect(len(closed) == 1 and closed[0]["peer_added"] is False, f"{label}: socket_closed {closed}")
    expect(of(A, "socket_closed")[:1] and of(A, "socket_closed")[0]["inbound"] is True, "A: not inbound")
    expect(of(B, "socket_closed")[:1] and of(B, "socket_closed")[0]["inbound"] is False, "B: not outbound")
else:
    raise SystemExit(f"unknown scenario {name}")

if problems:
    print(f"selftest: {name}: FAILED", file=sys.stderr)
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    raise SystemExit(1)
PY
  then
    echo "selftest: $name: ok"
    passed=$((passed + 1))
  else
    echo "--- $name A:" >&2; cat "$WORK/$name.a" "$WORK/$name.a.err" >&2 || true
    echo "--- $name B:" >&2; cat "$WORK/$name.b" "$WORK/$name.b.err" >&2 || true
    failed=$((failed + 1))
  fi
}

scenario() {
  local name="$1"
  if run_pair "$@"; then
    check "$name"
  else
    failed=$((failed + 1))
  fi
}

scenario dialer_sends "--disconnect-after-message 8" "--send-after-hello c3010203"
scenario listener_sends "--send-after-hello c0" "--disconnect-after-message 16"
scenario reason_zero "--send-after-hello c0" "--disconnect-after-message 0"
scenario no_shared_cap "--cap tst/1" "--cap foo/1"

# A dial to a port nobody listens on: an error, then exit, no hang.
dial_fail() {
  local out="$WORK/dial_fail.out" rc=0
  # Port 1 on loopback: privileged, nothing listens there in tests.
  timeout "$OUTER_TIMEOUT" node peer.mjs --key "$KEY_B" --timeout "$PEER_TIMEOUT" --exit-after-close \
    --dial "enode://$(printf '%0128d' 1)@127.0.0.1:1" >"$out" 2>&1 || rc=$?
  if [[ $rc == 0 ]] && grep -q '"event":"error","message":"dial: ' "$out" &&
    tail -n1 "$out" | grep -q '"why":"closed"'; then
    echo "selftest: dial_fail: ok"
    passed=$((passed + 1))
  else
    echo "selftest: dial_fail: FAILED (rc=$rc)" >&2
    cat "$out" >&2
    failed=$((failed + 1))
  fi
}
dial_fail

echo "selftest: $passed passed, $failed failed"
[[ $failed == 0 ]]
