#!/usr/bin/env bash
# Runs one recipe of gst-launch-recipes/ finitely on 127.0.0.1 and checks what
# arrived: a receiver decodes a number of frames, ffmpeg opens the committed
# SDP file, a recording is decodable. Called by meson (suite 'recipes').
#
#   run-recipe.sh CHECK      CHECK: 01-rtp 01-ts 02 03 04 05 06 bad-input
#
# Environment (set by tests/check/recipes/meson.build): RECIPES_DIR (the
# gst-launch-recipes source dir), FANOUT_RTSP_SERVER (for 06), the
# upstream-like GST_* test environment. Every step is bounded by `timeout`;
# the sources are live (real time), so the frame counts asked for are well
# below the frames sent, never equal, to be robust on a loaded machine.
set -u

check=${1:?usage: run-recipe.sh CHECK}
recipes=${RECIPES_DIR:?RECIPES_DIR is not set}
# ffmpeg is not part of the GStreamer env; keep its output short.
ffmpeg_q=(ffmpeg -nostdin -hide_banner -loglevel error)
# Frames sent by a recipe and frames a receiver must decode.
SENT=${SENT:-150}
WANT=${WANT:-60}
# Bound on each step (s): a live 150-frame source needs 5 s.
STEP=${STEP:-120}

work=$(mktemp -d "${TMPDIR:-/tmp}/recipe-$check.XXXXXX")
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null
  done
  wait 2>/dev/null
  if [ "${failed:-1}" = 0 ]; then
    rm -rf "$work"
  else
    echo "logs kept in $work"
  fi
}
trap cleanup EXIT

failed=0
fail() {
  echo "FAIL: $*"
  failed=1
}

# dump LOG...: prints the tail of each log, for the test's error log.
dump() {
  for f in "$@"; do
    [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
  done
}

# Free even UDP+TCP port base with BASE..BASE+7 unused.
pick_ports() {
  local p
  while :; do
    p=$(((RANDOM % 15000) * 2 + 20000))
    if [ -z "$(ss -Hlnu "( sport >= :$p and sport <= :$((p + 7)) )")" ] \
      && [ -z "$(ss -Hlnt "( sport >= :$p and sport <= :$((p + 7)) )")" ]; then
      echo "$p"
      return
    fi
  done
}

# wait_bound PROTO PORT [NAME...]: polls until something listens there (the
# real "receiver ready" signal), up to STEP seconds; fails at once, with
# that process's last lines, when one of the background processes NAME
# (receiver/ffmpeg_receiver names, or "srv") has exited meanwhile.
wait_bound() {
  local i proto=$1 port=$2 n pid
  shift 2
  for ((i = 0; i < STEP * 10; i++)); do
    if [ -n "$(ss -Hln"$proto" "sport = :$port")" ]; then
      return 0
    fi
    for n in "$@"; do
      eval "pid=\$pid_$n"
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "$n exited before port $port was bound:"
        dump "$work/$n.log"
        return 1
      fi
    done
    sleep 0.1
  done
  return 1
}

# stop_background: the sender failed, so nothing will arrive: end the
# receivers now rather than let each wait out its STEP-second timeout.
sender_failed=0
stop_background() {
  local p
  sender_failed=1
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null
  done
}

# receiver NAME ENCODING PORT: recipe 05 in the background, WANT frames.
receiver() {
  ENCODING=$2 PORT=$3 SINK=fakesink NUM_BUFFERS=$WANT \
    timeout "$STEP" "$recipes/05-receive-and-check.sh" >"$work/$1.log" 2>&1 &
  pids+=($!)
  eval "pid_$1=$!"
}

# ffmpeg_receiver NAME INPUT...: ffmpeg decodes WANT frames from INPUT.
ffmpeg_receiver() {
  local name=$1
  shift
  timeout "$STEP" "${ffmpeg_q[@]}" "$@" -frames:v "$WANT" -f null - \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_$name=$!"
}

# expect NAME: the background receiver NAME exited 0.
expect() {
  local pid
  eval "pid=\$pid_$1"
  if [ "$sender_failed" = 1 ]; then
    wait "$pid" 2>/dev/null
    fail "$1 not checked: the sender failed (above)"
  elif wait "$pid"; then
    echo "ok: $1 decoded $WANT frames"
  else
    fail "$1 did not decode $WANT frames (exit $?)"
    dump "$work/$1.log"
  fi
}

# sender NAME RECIPE [VAR=VALUE...]: runs the recipe finitely, in front.
sender() {
  local name=$1 recipe=$2
  shift 2
  if env "$@" SOURCE="${SOURCE:-test}" NUM_BUFFERS="$SENT" WIDTH=320 \
    HEIGHT=240 timeout "$STEP" "$recipes/$recipe" >"$work/$name.log" 2>&1; then
    echo "ok: $recipe ran $SENT frames and exited 0"
  else
    fail "$recipe exited $?"
    dump "$work/$name.log"
    stop_background
  fi
}

# sdp_copy SDP PORT: the committed SDP with its port moved to PORT.
sdp_copy() {
  sed -E "s/^m=video [0-9]+ /m=video $2 /" "$recipes/$1" >"$work/$1"
  grep -q "^m=video $2 " "$work/$1" || fail "$1 has no m=video line"
  echo "$work/$1"
}

base=$(pick_ports)
case "$check" in
  01-rtp)
    # Three readers: recipe 05 (GStreamer), ffmpeg with the committed SDP
    # file of reader 1 (what ffplay opens), recipe 05 again.
    receiver r0 h264 "$base"
    ffmpeg_receiver r1 -protocol_whitelist file,udp,rtp \
      -i "$(sdp_copy 01-reader-1.sdp $((base + 2)))"
    receiver r2 h264 $((base + 4))
    if ! { wait_bound u "$base" r0 && wait_bound u $((base + 2)) r1 \
      && wait_bound u $((base + 4)) r2; }; then
      fail "receivers did not bind"
    fi
    for i in 0 2; do
      grep -q "^m=video $((5000 + 2 * i)) RTP/AVP 96" \
        "$recipes/01-reader-$i.sdp" || fail "01-reader-$i.sdp: wrong m= line"
    done
    sender send 01-camera-to-rtp-fanout.sh PORT="$base" FORMAT=rtp
    expect r0
    expect r1
    expect r2
    ;;
  01-ts)
    # MPEG-TS over RTP: what Debian's VLC opens as rtp://@127.0.0.1:PORT;
    # ffmpeg opens the same URL without any SDP.
    receiver r0 ts "$base"
    ffmpeg_receiver r1 -i "rtp://127.0.0.1:$((base + 2))"
    receiver r2 ts $((base + 4))
    if ! { wait_bound u "$base" r0 && wait_bound u $((base + 2)) r1 \
      && wait_bound u $((base + 4)) r2; }; then
      fail "receivers did not bind"
    fi
    sender send 01-camera-to-rtp-fanout.sh PORT="$base" FORMAT=ts
    expect r0
    expect r1
    expect r2
    ;;
  02)
    receiver r0 jpeg "$base"
    ffmpeg_receiver r1 -protocol_whitelist file,udp,rtp \
      -i "$(sdp_copy 02-mjpeg.sdp $((base + 2)))"
    if ! { wait_bound u "$base" r0 && wait_bound u $((base + 2)) r1; }; then
      fail "receivers did not bind"
    fi
    sender send 02-camera-mjpeg-passthrough.sh PORT="$base"
    expect r0
    expect r1
    ;;
  03)
    # The UDP reader must get nearly every frame (all but the first GOP's
    # worth) although the recording reader runs at a third of the rate.
    WANT=$((SENT - 30))
    receiver udp h264 "$base"
    wait_bound u "$base" udp || fail "receiver did not bind"
    sender send 03-mixed-readers-slow-recording.sh PORT="$base" \
      RECORDING="$work/rec.mkv" PREVIEW=fakesink SLOW_US=100000
    expect udp
    if [ -s "$work/rec.mkv" ]; then
      n=$(ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=nb_read_frames -of csv=p=0 "$work/rec.mkv")
      errs=$("${ffmpeg_q[@]}" -i "$work/rec.mkv" -f null - 2>&1 | head -n 5)
      if [ -n "$errs" ]; then
        fail "the recording does not decode cleanly: $errs"
      elif [ "${n:-0}" -lt 10 ]; then
        fail "the recording holds ${n:-0} frames"
      elif [ "$n" -ge "$SENT" ]; then
        # At 10 frames/s it cannot keep up with 30: holding every frame
        # means it held the writer back (tee ! queue behaviour).
        fail "the slow recording holds all $n frames: it was not lapped"
      else
        echo "ok: the slow recording decodes, $n of $SENT frames (skipped GOPs)"
      fi
    else
      fail "no recording written"
    fi
    ;;
  04)
    WANT=$((SENT / 2))
    receiver udp h264 "$base"
    wait_bound u "$base" udp || fail "receiver did not bind"
    sender send 04-two-pipelines-one-process.sh PORT="$base" \
      RECORDING="$work/rec.mkv"
    expect udp
    if [ -s "$work/rec.mkv" ]; then
      n=$(ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=nb_read_frames -of csv=p=0 "$work/rec.mkv")
      errs=$("${ffmpeg_q[@]}" -i "$work/rec.mkv" -f null - 2>&1 | head -n 5)
      if [ -n "$errs" ]; then
        fail "the recording does not decode cleanly: $errs"
      elif [ "${n:-0}" -lt "$WANT" ]; then
        fail "the recording holds ${n:-0} frames, want >= $WANT"
      else
        echo "ok: the recording decodes, $n of $SENT frames"
      fi
    else
      fail "no recording written"
    fi
    ;;
  05)
    # The receiver alone, against a stock sender (no gst-fanout element), so
    # a broken receiver is told apart from a broken sender.
    receiver r0 h264 "$base"
    wait_bound u "$base" r0 || fail "receiver did not bind"
    if timeout "$STEP" gst-launch-1.0 -q videotestsrc is-live=true \
      num-buffers="$SENT" ! video/x-raw,width=320,height=240 \
      ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 \
      ! rtph264pay config-interval=-1 pt=96 \
      ! udpsink host=127.0.0.1 port="$base" >"$work/send.log" 2>&1; then
      echo "ok: stock sender ran"
    else
      fail "stock sender failed"
      dump "$work/send.log"
    fi
    expect r0
    grep -q "decoded $WANT frames" "$work/r0.log" \
      || fail "05 did not report the frames it decoded"
    ;;
  06)
    server=${FANOUT_RTSP_SERVER:-}
    [ -x "$server" ] || {
      echo "fanout-rtsp-server not built"
      exit 77
    }
    FANOUT_RTSP_SERVER=$server PORT="$base" DURATION=$((STEP * 2)) \
      "$recipes/06-rtsp-server-and-players.sh" >"$work/server.log" 2>&1 &
    srv=$!
    # shellcheck disable=SC2034 # read by wait_bound (eval pid_$name)
    pid_server=$srv
    pids+=("$srv")
    if ! wait_bound t "$base" server; then
      # No client can connect: fail now, with the server's last lines.
      fail "server did not listen on $base"
      exit 1
    fi
    url="rtsp://127.0.0.1:$base/live"
    # gst-play-1.0's path, as a pipeline: rtspsrc (UDP), decode WANT frames.
    # Judged by what reached fakesink, not by gst-launch's exit status:
    # identity's EOS also ends rtspsrc's session (TEARDOWN, after which the
    # server closes the connection), so the PAUSE that gst-launch sends when
    # it shuts down can fail with "Received end-of-file". The pipeline's EOS
    # comes after WANT frames; gst-launch prints the frames' notifications
    # from its bus and may stop before the last one, hence WANT - 1.
    timeout "$STEP" gst-launch-1.0 -v rtspsrc location="$url" \
      protocols=udp latency=200 ! rtph264depay ! h264parse ! avdec_h264 \
      ! identity eos-after="$WANT" ! fakesink name=out silent=false \
      >"$work/rtspsrc.log" 2>&1
    got=$(grep -c 'out: last-message = chain' "$work/rtspsrc.log" || true)
    if grep -q 'Got EOS from element "pipeline0"' "$work/rtspsrc.log" \
      && [ "$got" -ge $((WANT - 1)) ]; then
      echo "ok: rtspsrc (UDP) decoded $WANT frames (EOS after them)"
    else
      fail "rtspsrc did not decode $WANT frames"
      dump "$work/rtspsrc.log"
    fi
    # ffplay's path: ffmpeg over TCP-interleaved.
    if timeout "$STEP" "${ffmpeg_q[@]}" -rtsp_transport tcp -i "$url" \
      -frames:v "$WANT" -f null - >"$work/ffmpeg.log" 2>&1; then
      echo "ok: ffmpeg (RTSP/TCP) decoded $WANT frames"
    else
      fail "ffmpeg did not decode $WANT frames over RTSP/TCP"
      dump "$work/ffmpeg.log"
    fi
    # The second mount of the same capture: MJPEG.
    if timeout "$STEP" "${ffmpeg_q[@]}" -rtsp_transport tcp \
      -i "rtsp://127.0.0.1:$base/mjpeg" -frames:v "$WANT" \
      -f framecrc - >"$work/mjpeg.log" 2>&1 \
      && [ "$(grep -c '^0, ' "$work/mjpeg.log")" -ge "$WANT" ]; then
      echo "ok: ffmpeg decoded $WANT frames of /mjpeg"
    else
      fail "ffmpeg did not decode $WANT frames of /mjpeg"
      dump "$work/mjpeg.log"
    fi
    kill -INT "$srv" 2>/dev/null
    if wait "$srv"; then
      echo "ok: server exited 0 on SIGINT"
    else
      fail "server exited $? on SIGINT"
      dump "$work/server.log"
    fi
    ;;
  bad-input)
    # A missing camera is one clear line and exit status 2, for every
    # recipe with a SOURCE switch; so is an unknown SOURCE.
    for r in "$recipes"/0[1-46]-*.sh; do
      for v in "SOURCE=v4l2 DEVICE=/dev/video-none" "SOURCE=bogus"; do
        # shellcheck disable=SC2086
        env $v timeout "$STEP" "$r" >"$work/out" 2>&1
        rc=$?
        if [ "$rc" = 2 ] && [ "$(wc -l <"$work/out")" = 1 ] \
          && grep -qE "DEVICE|SOURCE" "$work/out"; then
          echo "ok: $(basename "$r") $v: exit 2, $(cat "$work/out")"
        else
          fail "$(basename "$r") $v: exit $rc, want 2 and one line"
          dump "$work/out"
        fi
      done
    done
    ;;
  *)
    echo "unknown check '$check'"
    exit 2
    ;;
esac
exit $failed
