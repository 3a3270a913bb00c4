#!/usr/bin/env bash
# Configures (once) and builds one build directory.
#   scripts/build.sh [BUILDDIR [meson setup options...]]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-build}
shift || true
cd "$top"
mkdir -p _logs
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "$@" >"_logs/$builddir.setup.log" 2>&1 || {
    cat "_logs/$builddir.setup.log"
    exit 1
  }
fi
ninja -C "$builddir" >"_logs/$builddir.ninja.log" 2>&1 || {
  tail -n 80 "_logs/$builddir.ninja.log"
  exit 1
}
