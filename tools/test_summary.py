#!/usr/bin/env python3
"""Counts test results for ./dev test.

--phase NAME --bep FILE: reads a Bazel build-event JSON stream, and for every
test target prints one JSON line with the number of passed, failed and
skipped test cases, taken from the target's test.xml. A target that failed
without any failing test case in its XML (a crash, a timeout, a sanitizer
abort, a build failure) counts as one failure.

--total FILE: sums such lines, prints failing targets and the closing line
"N passed, N failed[, N skipped]"; exits 1 if anything failed or nothing ran.
"""
import argparse
import json
import sys
import urllib.parse
import xml.etree.ElementTree as ET


def count_xml(path):
    passed = failed = skipped = 0
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.get("status") == "notrun" or case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def phase(name, bep_path):
    results = {}
    aborted = []
    with open(bep_path) as f:
        for line in f:
            ev = json.loads(line)
            eid = ev.get("id", {})
            if "testResult" in eid:
                label = eid["testResult"]["label"]
                tr = ev.get("testResult", {})
                status = tr.get("status", "NO_STATUS")
                xml = None
                for out in tr.get("testActionOutput", []):
                    if out.get("name") == "test.xml":
                        xml = urllib.parse.urlparse(out["uri"]).path
                # With shards/runs a label repeats; keep the worst.
                prev = results.get(label)
                cur = (status, xml)
                if prev is None or prev[0] == "PASSED":
                    results[label] = cur
            elif "targetCompleted" in eid and ev.get("completed", {}).get("success") is False:
                aborted.append(eid["targetCompleted"]["label"])
            elif "targetCompleted" in eid and "aborted" in ev:
                aborted.append(eid["targetCompleted"]["label"])
    for label, (status, xml) in sorted(results.items()):
        counts = count_xml(xml) if xml else None
        p, f_, s = counts if counts else (0, 0, 0)
        if status != "PASSED" and f_ == 0:
            f_ = 1
        print(json.dumps({"phase": name, "target": label, "status": status,
                          "passed": p, "failed": f_, "skipped": s}))
    for label in sorted(set(aborted) - set(results)):
        print(json.dumps({"phase": name, "target": label, "status": "BUILD_FAILED",
                          "passed": 0, "failed": 1, "skipped": 0}))


def total(path):
    passed = failed = skipped = 0
    bad = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            passed += r["passed"]
            failed += r["failed"]
            skipped += r["skipped"]
            if r["failed"]:
                bad.append("%s %s (%s)" % (r["phase"], r["target"], r.get("status", "FAILED")))
    for b in bad:
        print("FAILED: " + b)
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 0 if failed == 0 and passed > 0 else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase")
    ap.add_argument("--bep")
    ap.add_argument("--total")
    a = ap.parse_args()
    if a.total:
        return total(a.total)
    phase(a.phase, a.bep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
