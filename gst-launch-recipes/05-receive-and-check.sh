#!/bin/sh
# 05-receive-and-check.sh: receive one RTP/UDP stream, decode it, show or count it.
#
# What it shows:
#   The receiving side of recipes 01, 02, 03 and 04: udpsrc with the caps an
#   SDP file would give (media, clock-rate, encoding-name, payload), the
#   depayloader, a parser, a decoder and a sink. Use it to check a stream:
#   with NUM_BUFFERS=N it exits 0 after N decoded frames, which is how the
#   recipe tests use it.
#
# What it needs:
#   GStreamer 1.22 with -base, -good and -libav (avdec_h264); a sender, e.g.
#   SOURCE=test gst-launch-recipes/01-camera-to-rtp-fanout.sh in another
#   terminal. No gst-fanout element is needed on this side.
#
# What you should see:
#   A window with the live picture (SINK=autovideosink, the default). With
#   SINK=fakesink NUM_BUFFERS=100: "decoded 100 frames from 127.0.0.1:5000"
#   and exit status 0 once 100 frames are decoded; nothing arriving means it
#   waits (wrap it in `timeout`).
#
# Environment (defaults in brackets):
#   ENCODING [h264] h264 (rtph264pay, recipes 01 and 03), jpeg (rtpjpegpay,
#     recipe 02), ts (MPEG-TS in RTP, recipe 01 with FORMAT=ts)
#   PORT [5000]   NUM_BUFFERS [-1 = until Ctrl-C]   SINK [autovideosink]
set -eu

ENCODING=${ENCODING:-h264}
PORT=${PORT:-5000}
NUM_BUFFERS=${NUM_BUFFERS:--1}
SINK=${SINK:-autovideosink}

case "$ENCODING" in
  h264)
    caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
    chain="rtph264depay ! h264parse ! avdec_h264"
    ;;
  jpeg)
    caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=JPEG,payload=26"
    chain="rtpjpegdepay ! jpegdec"
    ;;
  ts)
    caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=MP2T,payload=33"
    chain="rtpmp2tdepay ! tsdemux ! h264parse ! avdec_h264"
    ;;
  *)
    echo "$0: ENCODING must be h264, jpeg or ts, not '$ENCODING'" >&2
    exit 2
    ;;
esac

# identity eos-after=N ends the stream after N decoded frames, whatever SINK is.
# $chain is split into words on purpose.
# shellcheck disable=SC2086
gst-launch-1.0 -q udpsrc address=127.0.0.1 port="$PORT" caps="$caps" \
  ! rtpjitterbuffer latency=200 \
  ! $chain \
  ! identity eos-after="$NUM_BUFFERS" \
  ! videoconvert ! "$SINK"
if [ "$NUM_BUFFERS" -gt 0 ]; then
  echo "decoded $NUM_BUFFERS frames from 127.0.0.1:$PORT"
fi
