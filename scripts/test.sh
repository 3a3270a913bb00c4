#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every
# test, and ends with "N passed, N failed" computed from meson's results.
#
# Passes (each a meson build directory):
#   build       every suite (unit, stress, server, recipes, docs)
#   build       suite 'unit' again under valgrind (definite leaks are errors)
#   build-asan  suite 'unit' under AddressSanitizer (+UBSan)
#   build-tsan  suite 'stress' (the ring) under ThreadSanitizer
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/deps.sh || { echo "deps: installation failed"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p _logs
rm -f _logs/*.testlog.json _logs/*.buildfail

# run PASS BUILDDIR "setup options" "meson test options"
run() {
  local pass=$1 dir=$2 setup=$3 testopts=$4
  echo "== $pass: building $dir"
  # shellcheck disable=SC2086
  if ! bash scripts/build.sh "$dir" $setup; then
    echo "$pass" >"_logs/$pass.buildfail"
    return
  fi
  echo "== $pass: testing"
  # shellcheck disable=SC2086
  meson test -C "$dir" --print-errorlogs --no-rebuild $testopts \
    >"_logs/$pass.test.log" 2>&1
  grep -E '^ *[0-9]+/[0-9]+ ' "_logs/$pass.test.log" || tail -n 40 "_logs/$pass.test.log"
  local log="$dir/meson-logs/testlog.json"
  case "$testopts" in *--setup*valgrind*) log="$dir/meson-logs/testlog-valgrind.json" ;; esac
  if [ -f "$log" ]; then
    cp "$log" "_logs/$pass.testlog.json"
  fi
  if grep -qE '^(Fail|Timeout|Unexpected Pass):\s+[1-9]' "_logs/$pass.test.log"; then
    echo "-- $pass: failures (error logs in _logs/$pass.test.log):"
    sed -n '/^Listing only the last/,$p' "_logs/$pass.test.log" | head -n 200
  fi
}

run plain build "" ""
run valgrind build "" "--setup valgrind --suite unit"
run asan build-asan "-Db_sanitize=address,undefined -Db_lundef=false -Dserver=disabled -Dbenchmarks=false" "--suite unit"
run tsan build-tsan "-Db_sanitize=thread -Db_lundef=false -Dserver=disabled -Dbenchmarks=false" "--suite stress"

/usr/bin/python3 scripts/summarize.py _logs
