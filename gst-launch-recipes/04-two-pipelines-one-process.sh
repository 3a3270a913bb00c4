#!/bin/sh
# 04-two-pipelines-one-process.sh: capture once with fanoutsink, read it from
# independent chains with fanoutsrc, in one gst-launch-1.0 process.
#
# What it shows:
#   The bin "capture" (source, encoder, fanoutsink channel=cam) writes the
#   ring named "cam"; the bins "udp" and "record" each start with
#   fanoutsrc channel=cam and are not linked to "capture" at all: only the
#   channel name joins them. In an application these would be separate
#   GstPipelines, started and stopped at any time (an RTSP client, a
#   recording started on demand) while the capture keeps running; that is
#   how fanout-rtsp-server uses them. Each fanoutsrc starts at the newest
#   keyframe in the ring (start-position=latest-keyframe) and re-times the
#   buffers into its own pipeline's running time.
#   The channel registry is per process: a fanoutsrc in another process does
#   not see "cam".
#
# What it needs:
#   GStreamer 1.22 with -base, -good (matroskamux), -ugly (x264enc), the
#   gst-fanout plugin (export GST_PLUGIN_PATH=$PWD/build/plugins/fanout from
#   the source tree).
#
# What you should see:
#   gst-launch-1.0's state changes, then it runs until Ctrl-C (or NUM_BUFFERS
#   frames, then EOS: the writer's EOS reaches both readers). Meanwhile:
#     ENCODING=h264 PORT=5030 gst-launch-recipes/05-receive-and-check.sh
#   shows the live picture, and afterwards `ffplay recording-04.mkv` plays
#   the recording.
#
# Environment (defaults in brackets):
#   SOURCE [test] test|v4l2   DEVICE [/dev/video0]   PORT [5030]
#   RECORDING [recording-04.mkv]   NUM_BUFFERS [-1 = until Ctrl-C]
#   WIDTH [640] HEIGHT [480] FPS [30] BITRATE [2000] kbit/s GOP [FPS] frames
set -eu

SOURCE=${SOURCE:-test}
DEVICE=${DEVICE:-/dev/video0}
PORT=${PORT:-5030}
RECORDING=${RECORDING:-recording-04.mkv}
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

# The writer fixes its format (fanoutsink cannot ask readers in other
# pipelines): byte-stream H.264 with SPS/PPS before every keyframe, so a
# reader starting at any keyframe decodes at once.
# $src is split into words on purpose.
# shellcheck disable=SC2086
exec gst-launch-1.0 -e \
  \( name=capture $src \
  ! videoconvert ! video/x-raw,format=I420 \
  ! x264enc tune=zerolatency speed-preset=ultrafast bitrate="$BITRATE" \
  key-int-max="$GOP" \
  ! h264parse config-interval=-1 \
  ! video/x-h264,stream-format=byte-stream,alignment=au \
  ! fanoutsink channel=cam \) \
  \( name=udp fanoutsrc channel=cam \
  ! rtph264pay config-interval=-1 pt=96 ! payloadbatch \
  ! udpsink host=127.0.0.1 port="$PORT" sync=false async=false \) \
  \( name=record fanoutsrc channel=cam \
  ! h264parse ! matroskamux ! filesink location="$RECORDING" \)
