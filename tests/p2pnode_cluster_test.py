#!/usr/bin/env python3
"""Five real p2pnode processes on 127.0.0.1, checked through their admin API.

Topology (every link is fixed, so the expected peer sets are exact):
  node 0: the bootnode; --maxpeers 6 with the default --dialratio 3 gives it
          6 - 6/3 = 4 inbound slots, and it dials nobody (no candidates).
  node i (1..4): --bootnodes node0, --maxpeers 6 --dialratio 2 (3 dial
          slots), and for i >= 2 --static node(i-1).
  Dials: 1->0, 2->0, 3->0, 4->0 (dynamic, from the bootnode list) and
         2->1, 3->2, 4->3 (static). Node 0 ends with 4 peers, nodes 1 and 4
         with 2, nodes 2 and 3 with 3.

Checked:
  - bad flags exit 2 with one stderr line naming the bad value;
  - /peers of every node is exactly the expected set, symmetric (A lists B
    iff B lists A, with opposite `inbound`), `static` set exactly on the side
    that was given --static, `name` = the peer's --identity; /nodeinfo
    matches the enode printed on stdout; /metrics p2p_peers by direction and
    p2p_peers_peak agree with /peers;
  - POST /peers/static links nodes 4 and 1; DELETE unlinks them, and node 1
    counts p2p_peers_dropped_total{reason="disconnect requested"};
  - SIGTERM on node 4: exit 0 within 5 s, nodes 0 and 3 count a drop with
    reason "client quitting"; then SIGTERM on the others, each exits 0 in 5 s;
  - a restart with the same --datadir keeps the node ID; another datadir
    gives another ID.

Every wait has a deadline; every child is killed in `finally`.
Usage: p2pnode_cluster_test.py PATH_TO_P2PNODE
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

START_TIMEOUT_S = 10.0  # Until a node prints its enode and admin lines.
CONVERGE_TIMEOUT_S = 20.0  # Until the topology has formed.
LINK_TIMEOUT_S = 10.0  # Until an admin-requested (un)link is seen.
EXIT_TIMEOUT_S = 5.0  # SIGTERM to exit.
HTTP_TIMEOUT_S = 2.0

TMP = os.environ.get("TEST_TMPDIR") or "/tmp"
_started = []  # Every Node ever started, for the finally block.


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


class Node:
    """One p2pnode child: stdout's two lines parsed, stderr kept in a file."""

    def __init__(self, binary, name, args):
        self.name = name
        self.log_path = os.path.join(TMP, name + ".stderr")
        self.log = open(self.log_path, "ab")
        self.log.write(("=== start %s\n" % " ".join(args)).encode())
        self.log.flush()
        self.proc = subprocess.Popen(
            [binary] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log
        )
        _started.append(self)
        lines = self._read_lines(2, START_TIMEOUT_S)
        self.enode = lines[0]
        m = re.fullmatch(r"enode://([0-9a-f]{128})@127\.0\.0\.1:(\d+)", self.enode)
        check(m, "%s: first stdout line is not an enode URL: %r" % (name, self.enode))
        self.pubkey = m.group(1)
        self.tcp_port = int(m.group(2))
        check(self.tcp_port != 0, "%s: enode has port 0" % name)
        m = re.fullmatch(r"admin http://(127\.0\.0\.1:\d+)", lines[1])
        check(m, "%s: second stdout line is not the admin address: %r" % (name, lines[1]))
        self.admin = "http://" + m.group(1)
        info = json.loads(self.get("/nodeinfo"))
        check(info["enode"] == self.enode, "%s: /nodeinfo enode %s != stdout %s"
              % (name, info["enode"], self.enode))
        self.id = info["id"]  # 64 hex: keccak of the public key.

    def _read_lines(self, n, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while buf.count(b"\n") < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("%s: no %d stdout lines within %.0f s (got %r)\n%s"
                                  % (self.name, n, timeout, buf, self.stderr_tail()))
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                self.proc.wait(timeout=EXIT_TIMEOUT_S)
                raise TestFailure("%s: exited (rc %s) before printing %d lines (got %r)\n%s"
                                  % (self.name, self.proc.returncode, n, buf, self.stderr_tail()))
            buf += chunk
        return buf.decode().split("\n")[:n]

    def stderr_tail(self, n=30):
        self.log.flush()
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join("  [%s] %s" % (self.name, l) for l in lines[-n:])

    def request(self, method, path, body=None):
        data = body.encode() if body is not None else None
        req = urllib.request.Request(self.admin + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def get(self, path):
        status, body = self.request("GET", path)
        check(status == 200, "%s: GET %s -> %d %s" % (self.name, path, status, body))
        return body

    def peers(self):
        return json.loads(self.get("/peers"))

    def metrics(self):
        return parse_metrics(self.get("/metrics"))

    def terminate(self):
        """SIGTERM; returns (exit code, seconds taken). Fails past EXIT_TIMEOUT_S."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise TestFailure("%s: still running %.0f s after SIGTERM\n%s"
                              % (self.name, EXIT_TIMEOUT_S, self.stderr_tail()))
        took = time.monotonic() - t0
        self.check_clean_stop()
        return rc, took

    def check_clean_stop(self):
        """The last log line says every connection closed within the shutdown grace."""
        self.log.flush()
        with open(self.log_path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        check(lines and lines[-1].endswith(" INFO stopped"),
              "%s: last log line is %r, want '... INFO stopped'"
              % (self.name, lines[-1] if lines else ""))


_METRIC_LINE = re.compile(
    r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([a-z_]+)="((?:[^"\\]|\\.)*)"\})? (-?\d+)')


def parse_metrics(text):
    """{(name, label value or None): int} from Prometheus text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC_LINE.fullmatch(line)
        check(m, "unparsable metrics line: %r" % line)
        out[(m.group(1), m.group(3))] = int(m.group(4))
    return out


def wait_until(what, pred, timeout):
    """Polls pred() (returns (ok, state)) until ok or the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        ok, state = pred()
        if ok:
            return state
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.0f s waiting for %s; last state: %s"
                              % (timeout, what, state))
        time.sleep(0.1)


def run_bad_flags(binary):
    cases = [
        (["--maxpeers", "x"], "x", "--maxpeers"),
        (["--static", "enode://12@1.2.3.4:1"], "enode://12@1.2.3.4:1", "--static"),
    ]
    for args, value, flag in cases:
        p = subprocess.run([binary] + args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=EXIT_TIMEOUT_S)
        err = p.stderr.decode()
        print("bad flags %s -> rc %d, stderr %r" % (args, p.returncode, err))
        check(p.returncode == 2, "%s: exit code %d, want 2" % (args, p.returncode))
        check(err.endswith("\n") and err.count("\n") == 1, "%s: stderr is not one line: %r"
              % (args, err))
        check('"%s"' % value in err and flag in err, "%s: stderr does not name %s and %r: %r"
              % (args, flag, value, err))
        check(p.stdout == b"", "%s: unexpected stdout %r" % (args, p.stdout))


def expected_topology():
    """{node: {peer: (inbound, static)}} for the fixed dial plan."""
    dials = [(1, 0, False), (2, 0, False), (3, 0, False), (4, 0, False),
             (2, 1, True), (3, 2, True), (4, 3, True)]
    exp = {i: {} for i in range(5)}
    for a, b, static in dials:
        exp[a][b] = (False, static)
        exp[b][a] = (True, False)
    return exp


def observed_topology(nodes):
    """{node: {peer index: (inbound, static)}} from /peers, and the raw lists."""
    by_id = {n.id: i for i, n in enumerate(nodes)}
    obs, raw = {}, {}
    for i, n in enumerate(nodes):
        lst = n.peers()
        raw[i] = lst
        obs[i] = {}
        for p in lst:
            j = by_id.get(p["id"], p["id"])
            obs[i][j] = (p["inbound"], p["static"])
    return obs, raw


def check_consistency(nodes, raw):
    by_id = {n.id: i for i, n in enumerate(nodes)}
    for i, n in enumerate(nodes):
        ids = [p["id"] for p in raw[i]]
        check(ids == sorted(ids), "node %d: /peers not ordered by ID" % i)
        for p in raw[i]:
            j = by_id[p["id"]]
            check(p["name"] == "node%d" % j, "node %d: peer %d name %r" % (i, j, p["name"]))
            check(p["trusted"] is False, "node %d: peer %d trusted" % (i, j))
            check(p["connected_seconds"] >= 0, "node %d: peer %d connected_seconds" % (i, j))
            if not p["inbound"]:
                check(p["enode"] == nodes[j].enode, "node %d: dialed peer %d enode %s != %s"
                      % (i, j, p["enode"], nodes[j].enode))
                check(p["remote"] == "127.0.0.1:%d" % nodes[j].tcp_port,
                      "node %d: dialed peer %d remote %s" % (i, j, p["remote"]))
            back = [q for q in raw[j] if q["id"] == n.id]
            check(len(back) == 1, "node %d lists %d but %d does not list %d" % (i, j, j, i))
            check(back[0]["inbound"] == (not p["inbound"]),
                  "node %d/%d: inbound flags %s/%s not opposite"
                  % (i, j, p["inbound"], back[0]["inbound"]))
        m = n.metrics()
        inbound = sum(1 for p in raw[i] if p["inbound"])
        outbound = len(raw[i]) - inbound
        gauges = (m[("p2p_peers", "inbound")], m[("p2p_peers", "outbound")])
        check(gauges == (inbound, outbound), "node %d: p2p_peers in/out %s, /peers says %s"
              % (i, gauges, (inbound, outbound)))
        peak = m[("p2p_peers_peak", None)]
        check(peak == len(raw[i]), "node %d: p2p_peers_peak %d, %d peers (never more were due)"
              % (i, peak, len(raw[i])))
        check(m[("p2p_peers_added_total", None)] == len(raw[i]),
              "node %d: p2p_peers_added_total %d != %d" % (i, m[("p2p_peers_added_total", None)],
                                                          len(raw[i])))


def linked(a, b):
    """(a lists b, b lists a) with their entries."""
    pa = [p for p in a.peers() if p["id"] == b.id]
    pb = [p for p in b.peers() if p["id"] == a.id]
    return pa, pb


def main():
    check(len(sys.argv) == 2, "usage: p2pnode_cluster_test.py P2PNODE")
    binary = os.path.abspath(sys.argv[1])
    t_start = time.monotonic()
    run_bad_flags(binary)

    # Without discovery, so the topology is exactly what the static and boot
    # links make (tests/p2pnode_discovery_test covers discovery).
    common = ["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--verbosity", "4",
              "--nodiscover"]
    nodes = []
    nodes.append(Node(binary, "node0", common + [
        "--datadir", os.path.join(TMP, "n0"), "--identity", "node0", "--maxpeers", "6"]))
    for i in range(1, 5):
        args = common + ["--datadir", os.path.join(TMP, "n%d" % i), "--identity", "node%d" % i,
                         "--maxpeers", "6", "--dialratio", "2", "--bootnodes", nodes[0].enode]
        if i >= 2:
            args += ["--static", nodes[i - 1].enode]
        nodes.append(Node(binary, "node%d" % i, args))
    for i, n in enumerate(nodes):
        print("node%d %s admin %s id %s" % (i, n.enode, n.admin, n.id))
    check(len({n.id for n in nodes}) == 5, "two nodes share an ID")

    exp = expected_topology()

    def converged():
        obs, _ = observed_topology(nodes)
        return obs == exp, "observed %s, expected %s" % (obs, exp)

    wait_until("the expected topology", converged, CONVERGE_TIMEOUT_S)
    obs, raw = observed_topology(nodes)
    check(obs == exp, "topology changed right after converging: %s" % obs)
    print("topology formed after %.1f s: %s" % (time.monotonic() - t_start,
                                                 {i: sorted(obs[i]) for i in obs}))
    check_consistency(nodes, raw)
    # Still exactly that after a moment: nothing extra dials or drops.
    time.sleep(0.5)
    obs2, raw2 = observed_topology(nodes)
    check(obs2 == exp, "topology changed after converging: %s" % obs2)
    check_consistency(nodes, raw2)

    # --- Admin API: link 4 -> 1, then unlink. ---
    n1, n4 = nodes[1], nodes[4]
    status, body = n4.request("POST", "/peers/static", "not an enode")
    check(status == 400 and "bad enode URL" in body, "POST garbage -> %d %s" % (status, body))
    dropped_before = n1.metrics().get(("p2p_peers_dropped_total", "disconnect requested"), 0)
    status, body = n4.request("POST", "/peers/static", n1.enode + "\n")
    check(status == 200 and json.loads(body) == {"added": n1.enode},
          "POST /peers/static -> %d %s" % (status, body))

    def linked_now():
        pa, pb = linked(n4, n1)
        return len(pa) == 1 and len(pb) == 1, (pa, pb)

    pa, pb = wait_until("node4 -> node1 static link", linked_now, LINK_TIMEOUT_S)
    check(pa[0]["inbound"] is False and pa[0]["static"] is True,
          "node4's entry for node1: %s" % pa[0])
    check(pb[0]["inbound"] is True and pb[0]["static"] is False,
          "node1's entry for node4: %s" % pb[0])
    check(n4.metrics()[("p2p_peers", "outbound")] == 3, "node4 outbound gauge after link")
    check(n1.metrics()[("p2p_peers", "inbound")] == 2, "node1 inbound gauge after link")
    print("linked node4 -> node1")

    status, body = n4.request("DELETE", "/peers/static/" + n1.id)
    check(status == 200 and json.loads(body) == {"removed": n1.id},
          "DELETE /peers/static -> %d %s" % (status, body))

    def unlinked_now():
        pa, pb = linked(n4, n1)
        return not pa and not pb, (pa, pb)

    wait_until("node4 and node1 to disconnect", unlinked_now, LINK_TIMEOUT_S)

    def drop_counted():
        v = n1.metrics().get(("p2p_peers_dropped_total", "disconnect requested"), 0)
        return v == dropped_before + 1, v

    wait_until('node1 p2p_peers_dropped_total{reason="disconnect requested"} +1', drop_counted,
               LINK_TIMEOUT_S)
    status, body = n4.request("DELETE", "/peers/static/" + n1.id)
    check(status == 404, "second DELETE -> %d %s (want 404)" % (status, body))
    time.sleep(1.0)  # Removed means removed: no redial.
    pa, pb = linked(n4, n1)
    check(not pa and not pb, "node4 and node1 reconnected after DELETE")
    obs3, raw3 = observed_topology(nodes)
    check(obs3 == exp, "topology after unlink: %s" % obs3)
    print("unlinked node4 / node1; node1 counted 'disconnect requested'")

    # --- Shutdown: node 4 first, its peers see it quit. ---
    quit_before = {i: nodes[i].metrics().get(("p2p_peers_dropped_total", "client quitting"), 0)
                   for i in (0, 3)}
    rc, took = n4.terminate()
    print("node4 SIGTERM -> rc %d in %.2f s" % (rc, took))
    check(rc == 0, "node4 exit code %d after SIGTERM\n%s" % (rc, n4.stderr_tail()))
    for i in (0, 3):
        def quit_seen(i=i):
            m = nodes[i].metrics()
            v = m.get(("p2p_peers_dropped_total", "client quitting"), 0)
            listed = any(p["id"] == n4.id for p in nodes[i].peers())
            return v == quit_before[i] + 1 and not listed, (v, listed)

        wait_until("node%d to drop node4 with 'client quitting'" % i, quit_seen, LINK_TIMEOUT_S)
    print("nodes 0 and 3 dropped node4: client quitting")
    for i in range(4):
        n = nodes[i]
        n.proc.send_signal(signal.SIGTERM)
    for i in range(4):
        n = nodes[i]
        try:
            rc = n.proc.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise TestFailure("node%d still running %.0f s after SIGTERM\n%s"
                              % (i, EXIT_TIMEOUT_S, n.stderr_tail()))
        check(rc == 0, "node%d exit code %d after SIGTERM\n%s" % (i, rc, n.stderr_tail()))
        n.check_clean_stop()
    print("all nodes exited 0 after SIGTERM")

    # --- Identity persists with the datadir. ---
    keyfile = os.path.join(TMP, "n2", "nodekey")
    check(os.path.isfile(keyfile), "no %s" % keyfile)
    mode = os.stat(keyfile).st_mode & 0o777
    check(mode == 0o600, "%s has mode %o, want 600" % (keyfile, mode))
    again = Node(binary, "node2-restart", common + ["--datadir", os.path.join(TMP, "n2"),
                                                    "--nodial"])
    other = Node(binary, "node5", common + ["--datadir", os.path.join(TMP, "n5"), "--nodial"])
    print("restarted node2: %s; fresh datadir: %s" % (again.enode, other.enode))
    check(again.pubkey == nodes[2].pubkey, "restart with the same datadir changed the ID: %s -> %s"
          % (nodes[2].pubkey, again.pubkey))
    check(other.pubkey not in {n.pubkey for n in nodes}, "a fresh datadir reused an ID")
    for n in (again, other):
        rc, took = n.terminate()
        check(rc == 0, "%s exit code %d" % (n.name, rc))
    elapsed = time.monotonic() - t_start
    print("PASS in %.1f s" % elapsed)
    check(elapsed < 60, "took %.1f s, over the 60 s budget" % elapsed)


if __name__ == "__main__":
    # A SIGTERM (e.g. the test runner's timeout) unwinds through `finally`,
    # so the children are killed rather than orphaned.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    ok = False
    try:
        main()
        ok = True
    except TestFailure as e:
        print("FAIL: %s" % e)
    except Exception as e:  # Anything unexpected is a failure too, with its trace.
        import traceback
        traceback.print_exc()
        print("FAIL: %r" % e)
    finally:
        for n in _started:
            if n.proc.poll() is None:
                n.proc.kill()
            try:
                n.proc.wait(timeout=EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        if not ok:
            for n in _started:
                print("--- stderr of %s (tail) ---\n%s" % (n.name, n.stderr_tail(40)))
    sys.exit(0 if ok else 1)
