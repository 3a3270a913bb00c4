#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs
# fanout-rtsp-server on the built-in test source. Extra arguments go to the
# server (try --help).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/deps.sh
bash scripts/build.sh build
export GST_PLUGIN_PATH_1_0="$top/build/plugins/fanout${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}"
exec "$top/build/server/fanout-rtsp-server" "$@"
