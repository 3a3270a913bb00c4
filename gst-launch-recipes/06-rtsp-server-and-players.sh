#!/bin/sh
# 06-rtsp-server-and-players.sh: serve a camera (or the test source) over RTSP
# with fanout-rtsp-server and watch it with ffplay, gst-play-1.0 or VLC.
#
# What it shows:
#   fanout-rtsp-server captures the source once (SOURCE ! ... ! fanoutsink
#   channel=cam) and serves two mounts of it on 127.0.0.1:PORT:
#     /live   H.264, a keyframe every 2 s, yet a new client starts within
#             a frame or so (the server asks the encoder for a keyframe on
#             PLAY instead of making the client wait for the next one)
#     /mjpeg  MJPEG of the same capture
#   Clients come and go; the capture keeps running and is never rewound.
#
# What it needs:
#   The server built (bash scripts/build.sh; the binary is found in
#   FANOUT_RTSP_SERVER, on PATH, or in build*/server/ of this tree, in which
#   case the plugin of that build tree is put on GST_PLUGIN_PATH);
#   GStreamer 1.22 with -base, -good, -ugly (x264enc), gst-rtsp-server;
#   SOURCE=v4l2: a camera at $DEVICE.
#
# What you should see:
#   "Serving rtsp://127.0.0.1:8554/live" and a line per client. Then watch:
#     ffplay -fflags nobuffer -rtsp_transport tcp rtsp://127.0.0.1:8554/live
#     gst-play-1.0 rtsp://127.0.0.1:8554/live     (gstreamer1.0-plugins-base-apps)
#     gst-launch-1.0 rtspsrc location=rtsp://127.0.0.1:8554/mjpeg ! decodebin ! autovideosink
#     vlc rtsp://127.0.0.1:8554/live               (VLC built with live555)
#   Debian's VLC has no RTSP client (no live555): use recipe 01 with
#   FORMAT=ts and `vlc rtp://@127.0.0.1:5000` instead.
#   Ctrl-C stops the server (exit status 0).
#
# Environment (defaults in brackets):
#   SOURCE [test] test|v4l2   DEVICE [/dev/video0]   PORT [8554]
#   DURATION [run until Ctrl-C] seconds, then stop as on Ctrl-C
#   FANOUT_RTSP_SERVER [found as above]
set -eu

SOURCE=${SOURCE:-test}
DEVICE=${DEVICE:-/dev/video0}
PORT=${PORT:-8554}
DURATION=${DURATION:-}

case "$SOURCE" in
  test) spec="test" ;;
  v4l2)
    if [ ! -e "$DEVICE" ]; then
      echo "$0: no camera at $DEVICE; set DEVICE=/dev/videoN, or SOURCE=test for the test pattern" >&2
      exit 2
    fi
    spec="v4l2:$DEVICE"
    ;;
  *)
    echo "$0: SOURCE must be test or v4l2, not '$SOURCE'" >&2
    exit 2
    ;;
esac

server=${FANOUT_RTSP_SERVER:-}
if [ -z "$server" ]; then
  server=$(command -v fanout-rtsp-server || true)
fi
if [ -z "$server" ]; then
  top=$(cd "$(dirname "$0")/.." && pwd)
  for b in "$top"/build "$top"/build-*; do
    if [ -x "$b/server/fanout-rtsp-server" ]; then
      server=$b/server/fanout-rtsp-server
      GST_PLUGIN_PATH=${GST_PLUGIN_PATH:+$GST_PLUGIN_PATH:}$b/plugins/fanout
      export GST_PLUGIN_PATH
      break
    fi
  done
fi
if [ -z "$server" ]; then
  echo "$0: fanout-rtsp-server not found; build it (bash scripts/build.sh) or set FANOUT_RTSP_SERVER" >&2
  exit 2
fi

set -- "$server" --address 127.0.0.1 --port "$PORT" --source "cam=$spec" \
  --mount /live=cam,codec=h264,gop=2 --mount /mjpeg=cam,codec=mjpeg
if [ -n "$DURATION" ]; then
  # SIGINT after DURATION seconds, as Ctrl-C; the server's status is kept.
  exec timeout --preserve-status -s INT "$DURATION" "$@"
fi
exec "$@"
