#!/bin/sh
# 02-camera-mjpeg-passthrough.sh: the camera's own MJPEG to RTP/UDP, no re-encode.
#
# What it shows:
#   Many USB cameras compress in hardware and offer image/jpeg. This recipe
#   asks v4l2src for image/jpeg caps and sends those JPEG frames as they are
#   (rtpjpegpay, RFC 2435) through payloadbatch and fanout to two UDP readers
#   on 127.0.0.1 (PORT, PORT+2): no decode, no encode, almost no CPU.
#   SOURCE=test stands in for such a camera with videotestsrc ! jpegenc (4:2:0,
#   as RFC 2435 requires; cameras send 4:2:2 or 4:2:0).
#
# What it needs:
#   GStreamer 1.22 with -base and -good, the gst-fanout plugin
#   (export GST_PLUGIN_PATH=$PWD/build/plugins/fanout from the source tree);
#   SOURCE=v4l2 (the default): a camera at $DEVICE offering MJPEG at
#   WIDTHxHEIGHT@FPS (list its modes: v4l2-ctl --list-formats-ext).
#
# What you should see:
#   gst-launch-1.0's state changes, then it runs until Ctrl-C (or NUM_BUFFERS
#   frames, then EOS). In another terminal:
#     ffplay -protocol_whitelist file,udp,rtp gst-launch-recipes/02-mjpeg.sdp
#     ENCODING=jpeg PORT=5010 gst-launch-recipes/05-receive-and-check.sh
#   A caps error ("could not negotiate") means the camera offers no MJPEG at
#   that size and rate: pick one from v4l2-ctl's list.
#
# Environment (defaults in brackets):
#   SOURCE [v4l2] test|v4l2   DEVICE [/dev/video0]   PORT [5010]
#   NUM_BUFFERS [-1 = until Ctrl-C]   WIDTH [640] HEIGHT [480] FPS [30]
set -eu

SOURCE=${SOURCE:-v4l2}
DEVICE=${DEVICE:-/dev/video0}
PORT=${PORT:-5010}
NUM_BUFFERS=${NUM_BUFFERS:--1}
WIDTH=${WIDTH:-640}
HEIGHT=${HEIGHT:-480}
FPS=${FPS:-30}

caps="image/jpeg,width=$WIDTH,height=$HEIGHT,framerate=$FPS/1"
case "$SOURCE" in
  test)
    src="videotestsrc is-live=true pattern=smpte num-buffers=$NUM_BUFFERS
      ! video/x-raw,width=$WIDTH,height=$HEIGHT,framerate=$FPS/1
      ! timeoverlay ! video/x-raw,format=I420 ! jpegenc"
    ;;
  v4l2)
    if [ ! -e "$DEVICE" ]; then
      echo "$0: no camera at $DEVICE; set DEVICE=/dev/videoN, or SOURCE=test for the test pattern" >&2
      exit 2
    fi
    src="v4l2src device=$DEVICE num-buffers=$NUM_BUFFERS"
    ;;
  *)
    echo "$0: SOURCE must be test or v4l2, not '$SOURCE'" >&2
    exit 2
    ;;
esac

# $src is split into words on purpose.
# shellcheck disable=SC2086
exec gst-launch-1.0 -e $src ! "$caps" \
  ! rtpjpegpay pt=26 \
  ! payloadbatch \
  ! fanout name=f \
  f. ! udpsink host=127.0.0.1 port="$PORT" sync=false async=false \
  f. ! udpsink host=127.0.0.1 port=$((PORT + 2)) sync=false async=false
