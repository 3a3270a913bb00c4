#!/bin/sh
# 03-mixed-readers-slow-recording.sh: one encode, three different readers, one
# of them slow.
#
# What it shows:
#   fanout feeding readers of different kinds from one H.264 encode:
#     src_0: RTP/UDP to 127.0.0.1:PORT (rtph264pay ! payloadbatch ! udpsink)
#     src_1: a Matroska recording on a disk simulated to be slow
#            (identity sleep-time=SLOW_US per frame: 100 ms, i.e. 10 frames/s
#            for a 30 frames/s stream)
#     src_2: a local preview (decode and display)
#   Each reader runs in its own thread on its own ring cursor, so the
#   recording falls behind alone: the encoder, the UDP reader and the preview
#   keep the live rate. When the recording is more than max-lag-time (2 s)
#   behind, its pad's lag-policy (drop-to-keyframe, the default) skips it to
#   the newest keyframe, so the file has gaps of whole GOPs but stays
#   decodable. With tee ! queue the recording's full queue would instead
#   block the tee and stall every branch (or leak without bound, with
#   max-size-*=0). Use src_1::lag-policy=block on a real disk for a lossless
#   recording at the price of the writer waiting for it.
#
# What it needs:
#   GStreamer 1.22 with -base, -good (matroskamux), -ugly (x264enc), -libav
#   (avdec_h264), the gst-fanout plugin (export
#   GST_PLUGIN_PATH=$PWD/build/plugins/fanout from the source tree); a display
#   for the preview, or PREVIEW=fakesink.
#
# What you should see:
#   A preview window with the live pattern and clock; in another terminal
#     ENCODING=h264 PORT=5020 gst-launch-recipes/05-receive-and-check.sh
#   shows the same live picture. After Ctrl-C (or NUM_BUFFERS frames), the
#   recording is finalised (gst-launch-1.0 -e) and plays:
#     ffplay recording.mkv      (the clock jumps where GOPs were skipped)
#
# Environment (defaults in brackets):
#   SOURCE [test] test|v4l2   DEVICE [/dev/video0]   PORT [5020]
#   RECORDING [recording.mkv]   SLOW_US [100000] (0: no simulated slowness)
#   PREVIEW [autovideosink]   NUM_BUFFERS [-1 = until Ctrl-C]
#   WIDTH [640] HEIGHT [480] FPS [30] BITRATE [2000] kbit/s GOP [FPS] frames
set -eu

SOURCE=${SOURCE:-test}
DEVICE=${DEVICE:-/dev/video0}
PORT=${PORT:-5020}
RECORDING=${RECORDING:-recording.mkv}
SLOW_US=${SLOW_US:-100000}
PREVIEW=${PREVIEW:-autovideosink}
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
    src="v4l2src device=$DEVICE num-buffers=$NUM_BUFFERS ! decodebin
      ! videoconvert ! videoscale ! video/x-raw,width=$WIDTH,height=$HEIGHT"
    ;;
  *)
    echo "$0: SOURCE must be test or v4l2, not '$SOURCE'" >&2
    exit 2
    ;;
esac

# $src is split into words on purpose.
# shellcheck disable=SC2086
exec gst-launch-1.0 -e $src \
  ! videoconvert ! video/x-raw,format=I420 \
  ! x264enc tune=zerolatency speed-preset=ultrafast bitrate="$BITRATE" \
  key-int-max="$GOP" \
  ! h264parse config-interval=-1 \
  ! fanout name=f max-lag-time=2000000000 \
  f. ! rtph264pay config-interval=-1 pt=96 ! payloadbatch \
  ! udpsink host=127.0.0.1 port="$PORT" sync=false async=false \
  f. ! identity sleep-time="$SLOW_US" ! matroskamux \
  ! filesink location="$RECORDING" \
  f. ! avdec_h264 ! videoconvert ! "$PREVIEW"
