#!/bin/bash
# docs/benchmarks/webrtc.md, one run (root: network namespaces):
#   flock /work/bench.lock tests/bench/server/webrtc_bench.sh [BUILDDIR]
# The shared payloading (as built, + 20 Chromium joins), then one payloader
# per viewer (FANOUT_WHEP_OWN_PAYLOADER=1); JSON and plot into docs/benchmarks.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$top/build}
export GST_PLUGIN_PATH=$build/plugins/fanout
out=$top/docs/benchmarks
uptime
FANOUT_BENCH_OUT=$out/webrtc-shared.json /usr/bin/python3 \
  "$top/tests/bench/server/webrtc_load.py" "$build/server/fanout-rtsp-server" 1 10 50
uptime
FANOUT_WHEP_OWN_PAYLOADER=1 FANOUT_BENCH_NO_BROWSER=1 \
  FANOUT_BENCH_OUT=$out/webrtc-own.json /usr/bin/python3 \
  "$top/tests/bench/server/webrtc_load.py" "$build/server/fanout-rtsp-server" 1 10 50
uptime
/usr/bin/python3 "$top/tests/bench/server/plot_webrtc.py" \
  "$out/webrtc-shared.json" "$out/webrtc-own.json" "$out/webrtc.png"
