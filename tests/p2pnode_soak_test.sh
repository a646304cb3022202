#!/usr/bin/env bash
# Runs tests/p2pnode_soak_test.py (see its docstring) with the binaries given as args.
set -euo pipefail
exec python3 "$TEST_SRCDIR/$TEST_WORKSPACE/tests/p2pnode_soak_test.py" "$@"
