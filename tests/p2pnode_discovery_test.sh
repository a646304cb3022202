#!/usr/bin/env bash
# Runs tests/p2pnode_discovery_test.py (see its docstring) with the p2pnode binary given as arg.
set -euo pipefail
exec python3 "$TEST_SRCDIR/$TEST_WORKSPACE/tests/p2pnode_discovery_test.py" "$@"
