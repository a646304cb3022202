#!/usr/bin/env python3
"""p2pnode discovery on loopback: nodes find each other through discv4.

Usage: p2pnode_discovery_test.py PATH_TO_P2PNODE

Checks, each bounded in time:
  - Node A (--discport 0: a UDP port other than its TCP port) prints an enode
    URL with ?discport=<udp>, the same URL /nodeinfo reports.
  - Node B (--datadir), given only --bootnodes A (no --static), becomes A's peer: B dials
    A (outbound, not static), A sees B inbound. Both discovery tables list
    each other with a recorded pong.
  - Node C, also given only --bootnodes A, learns B through A's Neighbors
    reply: B's enode appears in C's /table although C was never told of B.
  - Node D with --nodiscover answers GET /table with 404
    {"error":"discovery disabled"} and still dials its bootnode A directly.
  - Node database: after SIGTERM, B's DATADIR/nodes (mode 0600, header
    "# p2pnode nodes v1") lists A with a last pong. B restarted with the same
    --datadir and WITHOUT --bootnodes keeps its key, logs "discovery: seeded
    N of M known nodes" with N >= 1, has A in its table again (A cannot have
    told it: A only knows B's old port) and dials A.
  - All nodes exit 0 on SIGTERM.
Logs of every node are printed on failure.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

TMP = os.environ.get("TEST_TMPDIR") or "/tmp"
STEP_TIMEOUT_S = 20.0
START_TIMEOUT_S = 10.0


class Failure(Exception):
    pass


class Node:
    def __init__(self, binary, name, args):
        self.name = name
        self.log_path = os.path.join(TMP, name + ".log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary] + args, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        self.enode = self._line()
        admin = self._line()
        if not admin.startswith("admin http://"):
            raise Failure("%s: second line is %r, want 'admin http://...'" % (name, admin))
        self.admin = admin[len("admin "):]
        m = re.match(r"enode://([0-9a-f]{128})@", self.enode)
        if not m:
            raise Failure("%s: first line %r is not an enode URL" % (name, self.enode))
        self.pubkey = m.group(1)

    def _line(self):
        # readline blocks; the whole test runs under the sh_test timeout, and
        # the node prints these lines right after binding its sockets.
        line = self.proc.stdout.readline().strip()
        if not line:
            raise Failure("%s exited early (rc %s)" % (self.name, self.proc.poll()))
        return line

    def get(self, path):
        try:
            with urllib.request.urlopen(self.admin + path, timeout=5) as r:
                return r.status, json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc


def wait_until(what, fn, timeout=STEP_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = fn()
        if ok:
            return last
        time.sleep(0.1)
    raise Failure("timed out after %.0f s waiting for %s; last state: %r" % (timeout, what, last))


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def peer_by_key(node, pubkey):
    status, peers = node.get("/peers")
    check(status == 200, "%s GET /peers -> %d" % (node.name, status))
    for p in peers:
        if p["enode"].startswith("enode://" + pubkey + "@"):
            return p, peers
    return None, peers


def table_has(node, pubkey):
    status, rows = node.get("/table")
    check(status == 200, "%s GET /table -> %d %r" % (node.name, status, rows))
    for r in rows:
        if r["enode"].startswith("enode://" + pubkey + "@"):
            return r, rows
    return None, rows


def check_node_db_restart(binary, common, nodes, a, b, b_datadir):
    """B saves its table at shutdown and, restarted without bootnodes, seeds from it."""
    rc = b.stop()
    check(rc == 0, "nodeB exit code after SIGTERM: %r" % rc)
    db_path = os.path.join(b_datadir, "nodes")
    check(os.path.exists(db_path), "nodeB left no %s" % db_path)
    mode = os.stat(db_path).st_mode & 0o777
    check(mode == 0o600, "%s has mode %o, want 600" % (db_path, mode))
    check(not os.path.exists(db_path + ".tmp"), "temp file %s.tmp left behind" % db_path)
    with open(db_path) as f:
        lines = f.read().splitlines()
    check(lines and lines[0] == "# p2pnode nodes v1", "%s header: %r" % (db_path, lines[:1]))
    rows = {}
    for line in lines[1:]:
        fields = line.split()
        check(len(fields) == 4, "%s: line %r has %d fields" % (db_path, line, len(fields)))
        rows[fields[0]] = fields
    check(a.enode in rows, "%s does not list nodeA %s: %r" % (db_path, a.enode, lines))
    pong = rows[a.enode][1]
    check(pong.isdigit() and abs(int(pong) / 1000.0 - time.time()) < 120,
          "%s: nodeA's last pong %r is not a recent Unix time in ms" % (db_path, pong))
    print("nodeB saved %d known nodes, nodeA among them" % len(rows))

    t0 = time.monotonic()
    b2 = Node(binary, "nodeB2", common + ["--datadir", b_datadir, "--identity", "nodeB"])
    nodes.append(b2)
    check(b2.pubkey == b.pubkey, "restarted nodeB has key %s, want %s from --datadir" %
          (b2.pubkey, b.pubkey))
    check(b2.enode != b.enode, "restarted nodeB should listen on a new port: %r" % b2.enode)

    def seeded():
        with open(b2.log_path) as f:
            m = re.search(r"discovery: seeded (\d+) of (\d+) known nodes", f.read())
        return m is not None, m and m.groups()
    n, total = wait_until("restarted nodeB to log how many nodes it seeded", seeded,
                          timeout=START_TIMEOUT_S)
    check(1 <= int(n) <= int(total) and int(total) == len(rows),
          "restarted nodeB seeded %s of %s known nodes, file lists %d" % (n, total, len(rows)))
    wait_until("restarted nodeB's table to hold nodeA (seeded, no --bootnodes)",
               lambda: (lambda r: (r[0] is not None, r))(table_has(b2, a.pubkey)),
               timeout=START_TIMEOUT_S)
    pb = wait_until("restarted nodeB to dial nodeA",
                    lambda: (lambda p: (p[0] is not None, p))(peer_by_key(b2, a.pubkey)))[0]
    check(pb["inbound"] is False and pb["static"] is False,
          "restarted nodeB's view of nodeA: %r" % pb)
    print("restarted nodeB seeded %s of %s known nodes, found nodeA again after %.1f s" %
          (n, total, time.monotonic() - t0))


def run(binary):
    nodes = []
    common = ["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--verbosity", "4"]
    try:
        a = Node(binary, "nodeA", common + ["--discport", "0", "--identity", "nodeA"])
        nodes.append(a)
        m = re.search(r"@127\.0\.0\.1:(\d+)\?discport=(\d+)$", a.enode)
        check(m is not None and m.group(1) != m.group(2),
              "nodeA enode %r lacks a distinct ?discport=" % a.enode)
        status, info = a.get("/nodeinfo")
        check(status == 200 and info["enode"] == a.enode,
              "nodeA /nodeinfo enode %r != printed %r" % (info.get("enode"), a.enode))
        print("nodeA", a.enode)

        b_datadir = os.path.join(TMP, "nodeB_datadir")
        shutil.rmtree(b_datadir, ignore_errors=True)
        b = Node(binary, "nodeB", common + ["--datadir", b_datadir, "--bootnodes", a.enode,
                                            "--identity", "nodeB"])
        nodes.append(b)
        print("nodeB", b.enode)
        check("?discport=" not in b.enode, "nodeB enode %r: UDP port should follow TCP" % b.enode)

        t0 = time.monotonic()
        pb = wait_until("nodeB to peer with nodeA",
                        lambda: (lambda p: (p[0] is not None, p))(peer_by_key(b, a.pubkey)))[0]
        check(pb["inbound"] is False and pb["static"] is False and pb["name"] == "nodeA",
              "nodeB's view of nodeA: %r" % pb)
        pa = wait_until("nodeA to list nodeB",
                        lambda: (lambda p: (p[0] is not None, p))(peer_by_key(a, b.pubkey)))[0]
        check(pa["inbound"] is True and pa["static"] is False and pa["name"] == "nodeB",
              "nodeA's view of nodeB: %r" % pa)
        print("nodeB peered with nodeA through discovery after %.1f s" % (time.monotonic() - t0))

        for x, y in ((a, b), (b, a)):
            row = wait_until("%s's table to hold %s with a pong" % (x.name, y.name),
                             lambda: (lambda r: (r[0] is not None and
                                                 r[0]["last_pong_seconds"] is not None, r))(
                                 table_has(x, y.pubkey)))[0]
            check(row["enode"] == y.enode, "%s table enode %r != %r" % (x.name, row["enode"],
                                                                         y.enode))
            check(0 <= row["bucket"] <= 16, "%s table bucket %r" % (x.name, row["bucket"]))

        c = Node(binary, "nodeC", common + ["--bootnodes", a.enode, "--identity", "nodeC"])
        nodes.append(c)
        wait_until("nodeC to learn nodeB from nodeA",
                   lambda: (lambda r: (r[0] is not None, r))(table_has(c, b.pubkey)))
        print("nodeC learned nodeB through nodeA's Neighbors")

        d = Node(binary, "nodeD",
                 common + ["--nodiscover", "--bootnodes", a.enode, "--identity", "nodeD"])
        nodes.append(d)
        status, body = d.get("/table")
        check(status == 404 and body == {"error": "discovery disabled"},
              "nodeD GET /table -> %d %r" % (status, body))
        wait_until("nodeD (--nodiscover) to dial its bootnode",
                   lambda: (lambda p: (p[0] is not None, p))(peer_by_key(d, a.pubkey)))
        print("nodeD (--nodiscover): /table 404, bootnode dialed directly")

        check_node_db_restart(binary, common, nodes, a, b, b_datadir)

        rcs = {n.name: n.stop() for n in nodes}
        check(all(rc == 0 for rc in rcs.values()), "exit codes after SIGTERM: %r" % rcs)
        print("PASS")
        return 0
    except Failure as e:
        print("FAIL:", e)
        for n in nodes:
            n.stop()
            print("--- stderr of %s (tail) ---" % n.name)
            with open(n.log_path) as f:
                for line in f.readlines()[-30:]:
                    print("  [%s] %s" % (n.name, line.rstrip()))
        return 1
    finally:
        for n in nodes:
            if n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(run(sys.argv[1]))
