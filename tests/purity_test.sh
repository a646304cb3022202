#!/usr/bin/env bash
# Fails if core/ or sim/ use the wall clock, sleep, ambient randomness,
# threads or OS I/O (STYLE.md rules 3-5). The one exception is the
# simulator's progress and wall-time reporting: lines in sim/ marked
# "// wall-clock: reporting only", all in sim/wall_clock.cc.
#
# Tagged "external" so it always runs against the current sources.
set -euo pipefail

# Find the source tree through the runfile symlink of the root BUILD file.
root="$(dirname "$(readlink -f "$TEST_SRCDIR/$TEST_WORKSPACE/BUILD.bazel")")"

FORBIDDEN='std::chrono::(system_clock|steady_clock|high_resolution_clock)|\bclock_gettime\b|\bgettimeofday\b|\btime\(nullptr\)|\btime\(NULL\)|\babsl::Now\b|\babsl::SleepFor\b|\bsleep\(|\busleep\(|\bnanosleep\(|std::this_thread|std::thread\b|std::async\b|\bpthread_create\b|\bfork\(\)|[^:.>A-Za-z_]rand\(\)|\bsrand\(|std::random_device|std::mt19937|uniform_int_distribution|\bgetrandom\(|/dev/urandom|\bsocket\(|\bepoll_|\bfopen\(|std::ifstream|std::ofstream|\bRAND_bytes\b'
MARK='// wall-clock: reporting only'
ALLOWED_FILE='sim/wall_clock.cc'

# scan DIR...: prints offending lines as path:line:text.
scan() {
  local base="$1"; shift
  (cd "$base" && grep -rnE --include='*.h' --include='*.cc' "$FORBIDDEN" "$@" 2>/dev/null || true) |
    { grep -vE '^[^:]+:[0-9]+:\s*//' || true; } |
    while IFS= read -r hit; do
      file="${hit%%:*}"
      # sim/tools/ holds the front ends (p2psim): files and progress output.
      if [[ "$file" == sim/tools/* ]]; then
        continue
      fi
      if [[ "$file" == "$ALLOWED_FILE" && "$hit" == *"$MARK"* ]]; then
        continue
      fi
      echo "$hit"
    done
}

# Self-check: the scanner must catch a planted violation, or this test
# could never fail.
tmp="$(mktemp -d)"
mkdir -p "$tmp/core" "$tmp/sim/tools"
printf 'auto t = absl::Now();\n' >"$tmp/sim/tools/front.cc"
printf 'int f() { return rand(); }\n' >"$tmp/core/a.cc"
printf 'auto t = absl::Now();  %s\n' "$MARK" >"$tmp/sim/other.cc"
printf 'auto t = absl::Now();  %s\n' "$MARK" >"$tmp/sim/wall_clock.cc"
planted="$(scan "$tmp" core sim | wc -l)"
rm -rf "$tmp"
if [[ "$planted" != 2 ]]; then
  echo "self-check failed: expected 2 planted violations, found $planted"
  exit 1
fi

dirs=()
for d in core sim; do [[ -d "$root/$d" ]] && dirs+=("$d"); done
hits="$(scan "$root" "${dirs[@]}")"
if [[ -n "$hits" ]]; then
  echo "core/ and sim/ must not use the wall clock, sleeps, threads, ambient"
  echo "randomness or OS I/O (see STYLE.md). Offending lines:"
  echo "$hits"
  exit 1
fi
echo "purity: scanned ${dirs[*]}: clean"
