#!/bin/sh
# 01-camera-to-rtp-fanout.sh: one camera, one H.264 encode, three RTP/UDP readers.
#
# What it shows:
#   The capture and the encode run once; rtph264pay's packets are grouped per
#   frame by payloadbatch and handed to fanout, whose three readers each send
#   to their own UDP port on 127.0.0.1 (5000, 5002, 5004) in their own thread.
#   A reader that stalls (a full socket, a slow host) never holds back the
#   encoder or the other two.
#   FORMAT=ts sends MPEG-TS over RTP instead (mpegtsmux ! rtpmp2tpay), which
#   players without live555 (Debian's VLC) open as rtp://@127.0.0.1:PORT.
#
# What it needs:
#   GStreamer 1.22 with -base, -good, -ugly (x264enc) and the gst-fanout plugin:
#     export GST_PLUGIN_PATH=$PWD/build/plugins/fanout   (from the source tree)
#   SOURCE=v4l2 (the default): a V4L2 camera at $DEVICE (default /dev/video0);
#   SOURCE=test: no camera, SMPTE colour bars with a running clock overlay.
#
# What you should see:
#   gst-launch-1.0 prints its state changes, then runs until Ctrl-C (or until
#   NUM_BUFFERS frames have been sent, then EOS and exit 0).
#   In another terminal, any of:
#     ffplay -protocol_whitelist file,udp,rtp gst-launch-recipes/01-reader-0.sdp
#     ffplay -protocol_whitelist file,udp,rtp gst-launch-recipes/01-reader-1.sdp
#     vlc gst-launch-recipes/01-reader-2.sdp       (VLC built with live555)
#     gst-launch-recipes/05-receive-and-check.sh   (GStreamer, port 5000)
#   With FORMAT=ts:
#     vlc rtp://@127.0.0.1:5000                    (Debian's VLC: no live555)
#     ffplay rtp://127.0.0.1:5002
#     ENCODING=ts gst-launch-recipes/05-receive-and-check.sh
#   The picture is live: a reader opened later starts at the next keyframe
#   (at most GOP frames away, 1 s by default).
#
# Environment (defaults in brackets):
#   SOURCE [v4l2] test|v4l2   DEVICE [/dev/video0]   FORMAT [rtp] rtp|ts
#   PORT [5000] first port; the readers use PORT, PORT+2, PORT+4
#   NUM_BUFFERS [-1 = run until Ctrl-C]   WIDTH [640] HEIGHT [480] FPS [30]
#   BITRATE [2000] kbit/s   GOP [FPS] frames between keyframes
set -eu

SOURCE=${SOURCE:-v4l2}
DEVICE=${DEVICE:-/dev/video0}
FORMAT=${FORMAT:-rtp}
PORT=${PORT:-5000}
NUM_BUFFERS=${NUM_BUFFERS:--1}
WIDTH=${WIDTH:-640}
HEIGHT=${HEIGHT:-480}
FPS=${FPS:-30}
BITRATE=${BITRATE:-2000}
GOP=${GOP:-$FPS}

case "$SOURCE" in
  test)
    src="videotestsrc is-live=true pattern=smpte num-buffers=$NUM_BUFFERS
      ! video/x-raw,width=$WIDTH,height=$HEIGHT,framerate=$FPS/1
      ! timeoverlay"
    ;;
  v4l2)
    if [ ! -e "$DEVICE" ]; then
      echo "$0: no camera at $DEVICE; set DEVICE=/dev/videoN, or SOURCE=test for the test pattern" >&2
      exit 2
    fi
    # decodebin: a camera that only offers MJPEG at this size is decoded first.
    src="v4l2src device=$DEVICE num-buffers=$NUM_BUFFERS ! decodebin
      ! videoconvert ! videoscale ! video/x-raw,width=$WIDTH,height=$HEIGHT"
    ;;
  *)
    echo "$0: SOURCE must be test or v4l2, not '$SOURCE'" >&2
    exit 2
    ;;
esac

case "$FORMAT" in
  rtp) pay="rtph264pay config-interval=-1 pt=96"
    batch="payloadbatch" ;;
  # rtpmp2tpay sets no marker bit: payloadbatch ends a frame's batch when the
  # next RTP timestamp arrives, or after max-latency (2 ms), whichever first
  # (docs/benchmarks/payloadbatch.md: without it, packets wait ~30 ms).
  ts) pay="h264parse config-interval=-1 ! mpegtsmux alignment=7 ! rtpmp2tpay pt=33"
    batch="payloadbatch max-latency=2000000" ;;
  *)
    echo "$0: FORMAT must be rtp or ts, not '$FORMAT'" >&2
    exit 2
    ;;
esac

# $src, $pay and $batch are split into words on purpose.
# shellcheck disable=SC2086
exec gst-launch-1.0 -e $src \
  ! videoconvert ! video/x-raw,format=I420 \
  ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=$BITRATE \
  key-int-max=$GOP \
  ! $pay \
  ! $batch \
  ! fanout name=f \
  f. ! udpsink host=127.0.0.1 port=$PORT sync=false async=false \
  f. ! udpsink host=127.0.0.1 port=$((PORT + 2)) sync=false async=false \
  f. ! udpsink host=127.0.0.1 port=$((PORT + 4)) sync=false async=false
