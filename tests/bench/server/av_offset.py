#!/usr/bin/python3
# gst-fanout
# Copyright (C) 2026 the gst-fanout authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Measure the audio/video offset an RTSP client sees (lip sync).

A content oracle that survives encoding: the source carries aligned periodic
markers in audio and video, the client decodes both and compares, in
running time (what a player presents at), when each marker shows up.

The source (print it with --print-source; give it to the server as its
launch text: video branch last, the audio branch's last element named
"audio"):

  audiotestsrc wave=ticks tick-interval=1066666667 samplesperbuffer=480
      timestamp-offset=10000000 volume=0.8
      ! audio/x-raw,rate=48000,channels=1 ! clocksync ! opusenc name=audio
  videotestsrc pattern=zone-plate kt=8
      ! video/x-raw,width=320,height=240,framerate=30/1 ! clocksync

Video marker: with only kt set, videotestsrc's zone plate paints the whole
frame with sine_table[(kt * n) & 0xff] (n = frame number; the table is
128 + 127 sin(2 pi i / 256)), so the frame brightness is a sine of period
256 / kt = 32 frames = 32/30 s at 30 fps. The marker is the rising crossing
of the mid level (phase 0, the steepest point: ~25 luma levels a frame) at
frames 0, 32, 64, ...: running time k * 32/30 s. It is interpolated between
the two frames around it (sub-frame), and averaged with the falling crossing
half a period later so that a mid level off by rounding or an encoder's
gain cancels out.

Audio marker: audiotestsrc wave=ticks starts a 440 Hz beep (10 periods,
22.7 ms) every tick-interval (1066666667 ns = 51200 samples at 48 kHz =
32/30 s). audiotestsrc 1.22 puts every tick after the first one buffer
(samplesperbuffer) early, at k * interval - 480 samples; timestamp-offset
10 ms (= 480 samples) puts them back on k * 32/30 s (the very first tick
then sits at 10 ms; the warm-up skips it). The marker is the first sample
whose magnitude passes 30% of full beep after >= 0.25 s of quiet, walked
back (at most 1 ms) to the last quiet sample.

Why not is-live=true: a live basesrc stamps its first buffer with the
running time at which it is made (and then ignores timestamp-offset), so
two live test sources start their timelines a few ms apart, at random, and
the tick fix is lost: measured -9 to -12 ms with no network at all. Non-live
sources stamp from 0 exactly; clocksync (without sync-to-first, which would
again give each branch its own start) paces them to the clock like a
capture.

Offset = audio marker time - nearest video marker time (running time of
the decoded buffers' PTS): positive = audio late (heard after the picture).

Usage:
  av_offset.py rtsp://127.0.0.1:8554/live --seconds 10 [--tcp]
      measure a server (rtspsrc with rtpbin's default RTCP sync, as any
      normal GStreamer client); one JSON line; exit 0, 1 if nothing could
      be measured, 2 on bad usage
  av_offset.py --local [--encode] [--audio-delay-ms 80] [--video-delay-ms 80]
      the source pipeline straight into the analysis (no network), for
      validation; --encode takes the --print-source text and completes it
      as a server would (x264enc ! avdec_h264, audio. ! opusdec);
      the delays are pad offsets on the test sources (content stamped and
      sent that much later)
  av_offset.py --serve 8554 [--audio-delay-ms 80] [--seconds 300]
      a stock gst-rtsp-server (shared media) on 127.0.0.1:PORT/live serving
      the --print-source text as pay0 (H.264, x264enc tune=zerolatency or
      --serve-encoder) + pay1 (audio., Opus): the reference to compare a
      server with
  av_offset.py --print-source
      the launch text to give the server ("launch:..." form)

Run it with Debian's /usr/bin/python3 (PyGObject + GStreamer 1.22).
"""

import argparse
import array
import json
import os
import signal
import statistics
import sys
import threading
import time

FPS = 30
KT = 8
PERIOD_FRAMES = 256 // KT                  # 32 frames
PERIOD_NS = PERIOD_FRAMES * 1000000000 // FPS  # 1066666666 ns
TICK_INTERVAL_NS = PERIOD_NS + 1           # 51200 samples at 48 kHz either way
RATE = 48000
SPB = 480                                  # samples per audio buffer
VOLUME = 0.8

AUDIO_SRC = ("audiotestsrc wave=ticks tick-interval=%d "
             "samplesperbuffer=%d timestamp-offset=%d volume=%s "
             "! audio/x-raw,rate=%d,channels=1 ! clocksync"
             % (TICK_INTERVAL_NS, SPB, SPB * 1000000000 // RATE, VOLUME, RATE))
VIDEO_SRC = ("videotestsrc pattern=zone-plate kt=%d "
             "! video/x-raw,width=320,height=240,framerate=%d/1 ! clocksync"
             % (KT, FPS))
SOURCE = AUDIO_SRC + " ! opusenc name=audio " + VIDEO_SRC

GOAL_MS = 40
SIGN = "positive = audio late (audio marker presented after the video marker)"

try:
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import GLib, Gst
except (ImportError, ValueError) as e:  # pragma: no cover
    sys.stderr.write("av_offset.py: needs PyGObject with GStreamer 1.0 "
                     "(run it with /usr/bin/python3): %s\n" % e)
    sys.exit(2)


def die_usage(msg):
    sys.stderr.write("av_offset.py: %s (see --help)\n" % msg)
    sys.exit(2)


class Analysis:
    """Collects (running time, brightness) per frame and audio onsets."""

    def __init__(self):
        self.frames = []         # (rt_ns, mean luma)
        self.onsets = []         # rt_ns
        self.first_v = None
        self.first_a = None
        self.last_loud = None
        self.audio_thr = int(0.3 * VOLUME * 32767)
        self.audio_samples = 0
        self.tail = array.array("h")

    @staticmethod
    def _rt(sample, buf):
        if buf.pts == Gst.CLOCK_TIME_NONE:
            return None
        seg = sample.get_segment()
        rt = seg.to_running_time(Gst.Format.TIME, buf.pts)
        if rt == Gst.CLOCK_TIME_NONE or rt < 0:
            return None
        return rt

    def on_video(self, sink):
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        buf = sample.get_buffer()
        rt = self._rt(sample, buf)
        if rt is not None:
            ok, info = buf.map(Gst.MapFlags.READ)
            if ok:
                data = info.data
                self.frames.append((rt, sum(data) / len(data)))
                buf.unmap(info)
                if self.first_v is None:
                    self.first_v = time.monotonic()
        return Gst.FlowReturn.OK

    def on_audio(self, sink):
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        buf = sample.get_buffer()
        rt = self._rt(sample, buf)
        if rt is None:
            return Gst.FlowReturn.OK
        a = array.array("h", buf.extract_dup(0, buf.get_size()))
        self.audio_samples += len(a)
        if self.first_a is None:
            self.first_a = time.monotonic()
        tail, self.tail = self.tail, a[-(RATE // 1000):]
        if not a or max(max(a), -min(a)) < self.audio_thr:
            return Gst.FlowReturn.OK
        self.tail = tail
        thr = self.audio_thr
        end = rt + len(a) * 1000000000 // RATE
        quiet = self.last_loud is None or rt - self.last_loud > 250000000
        if quiet:
            for i, x in enumerate(a):
                if x > thr or -x > thr:
                    # back to the last quiet sample (at most 1 ms, into the
                    # previous buffer's tail): the beep's true start
                    w = self.tail + a[:i + 1]
                    j = len(w) - 1
                    while j > 0 and len(w) - 1 - j < RATE // 1000 and \
                            abs(w[j]) > thr // 8:
                        j -= 1
                    i -= len(w) - 1 - j
                    self.onsets.append(rt + i * 1000000000 // RATE)
                    break
        self.last_loud = end
        return Gst.FlowReturn.OK

    def video_markers(self, warmup_ns):
        f = self.frames
        if len(f) < 2:
            return []
        t0 = f[0][0] + warmup_ns
        ys = [y for t, y in f if t >= t0] or [y for t, y in f]
        lo, hi = min(ys), max(ys)
        if hi - lo < 20:     # no zone-plate sine in this video
            return []
        # mid level: the sine's mean over whole periods (near its value at
        # phase 0; the error left is cancelled below)
        whole = len(ys) // PERIOD_FRAMES * PERIOD_FRAMES
        mid = sum(ys[:whole]) / whole if whole else (lo + hi) / 2
        frame_ns = 1000000000 / FPS
        rising, falling = [], []
        for (ta, ya), (tb, yb) in zip(f, f[1:]):
            if ta < t0 or tb - ta > 2.5 * frame_ns:
                continue
            if abs(yb - ya) < 0.05 * (hi - lo):
                continue
            if ya < mid <= yb:
                rising.append(ta + (mid - ya) / (yb - ya) * (tb - ta))
            elif ya >= mid > yb:
                falling.append(ta + (ya - mid) / (ya - yb) * (tb - ta))
        # A mid level off by a rounding puts the rising crossing early by as
        # much as it puts the falling one (half a period later) late: their
        # mean cancels it.
        out = []
        for r in rising:
            nxt = [x for x in falling if r < x < r + 0.75 * PERIOD_NS]
            if nxt:
                out.append((r + nxt[0] - PERIOD_NS / 2) / 2)
        return out

    def audio_markers(self, warmup_ns):
        if not self.onsets:
            return []
        t0 = self.onsets[0] if not self.frames else min(self.onsets[0],
                                                        self.frames[0][0])
        return [t for t in self.onsets if t >= t0 + warmup_ns]


def r2(x):
    return round(x, 2) + 0.0    # no "-0.0"


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def pair(vm, am):
    """Each video marker with the nearest audio marker (within half a
    period): list of (video_rt_ns, offset_ms)."""
    out = []
    if not am:
        return out
    for tv in vm:
        ta = min(am, key=lambda t: abs(t - tv))
        if abs(ta - tv) < PERIOD_NS / 2:
            out.append((tv, (ta - tv) / 1e6))
    return out


def analysis_bins():
    v = Gst.parse_bin_from_description(
        "queue max-size-time=3000000000 max-size-buffers=0 max-size-bytes=0 "
        "! videoconvert ! videoscale "
        "! video/x-raw,format=GRAY8,width=64,height=48 "
        "! appsink name=vsink emit-signals=true sync=false max-buffers=0",
        True)
    a = Gst.parse_bin_from_description(
        "queue max-size-time=3000000000 max-size-buffers=0 max-size-bytes=0 "
        "! audioconvert ! audioresample "
        "! audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved "
        "! appsink name=asink emit-signals=true sync=false max-buffers=0",
        True)
    return v, a


def inject_delays(pipe, args):
    """Delays audio or video by a pad offset on its test source's src pad:
    its buffers are stamped that much later than their content, and, being
    upstream of clocksync, also leave that much later (as from a capture
    whose latency nobody compensated). An offset downstream of clocksync
    would send buffers stamped in the future, which RTCP sender reports do
    not describe consistently (tried: 20-120 ms at the client for 80)."""
    it = pipe.iterate_recurse()
    while True:
        res, el = it.next()
        if res != Gst.IteratorResult.OK:
            break
        name = el.get_factory().get_name() if el.get_factory() else ""
        ms = {"audiotestsrc": args.audio_delay_ms,
              "videotestsrc": args.video_delay_ms}.get(name)
        if ms:
            el.get_static_pad("src").set_offset(int(ms * 1e6))


def build_local(args, an):
    """The source straight into the analysis: no network."""
    if args.encode:
        # the --print-source text itself, completed as a server would
        desc = (SOURCE + " ! x264enc tune=zerolatency speed-preset=ultrafast"
                " key-int-max=30 ! avdec_h264 ! queue name=vout "
                "audio. ! opusdec ! queue name=aout")
    else:
        desc = (AUDIO_SRC + " ! queue name=aout " +
                VIDEO_SRC + " ! queue name=vout")
    pipe = Gst.parse_launch(desc)
    inject_delays(pipe, args)
    vbin, abin = analysis_bins()
    pipe.add(vbin)
    pipe.add(abin)
    pipe.get_by_name("vout").link(vbin)
    pipe.get_by_name("aout").link(abin)
    connect_sinks(vbin, abin, an)
    return pipe


def connect_sinks(vbin, abin, an):
    vbin.get_by_name("vsink").connect("new-sample", an.on_video)
    abin.get_by_name("asink").connect("new-sample", an.on_audio)


def build_rtsp(args, an):
    pipe = Gst.Pipeline.new("client")
    src = Gst.ElementFactory.make("rtspsrc", None)
    src.set_property("location", args.url)
    src.set_property("latency", args.latency)
    if args.tcp:
        src.set_property("protocols", "tcp")
    pipe.add(src)
    bins = dict(zip(("video", "audio"), analysis_bins()))
    connect_sinks(bins["video"], bins["audio"], an)
    media_seen = set()

    # An analysis branch joins the pipeline only once its track is there:
    # a sink that never prerolls would hold the pipeline in PAUSED, and
    # rtspsrc sends PLAY only on the way to PLAYING.
    def on_decoded(dbin, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        kind = caps.get_structure(0).get_name().split("/")[0]
        target = bins.pop(kind, None)
        if target is None:
            return
        pipe.add(target)
        target.sync_state_with_parent()
        pad.link(target.get_static_pad("sink"))

    def on_pad(_src, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        media = caps.get_structure(0).get_string("media")
        if media not in ("video", "audio") or media in media_seen:
            return
        media_seen.add(media)
        dec = Gst.ElementFactory.make("decodebin", None)
        dec.connect("pad-added", on_decoded)
        pipe.add(dec)
        dec.sync_state_with_parent()
        pad.link(dec.get_static_pad("sink"))

    src.connect("pad-added", on_pad)
    return pipe


def run_pipeline(pipe, an, args):
    """Plays until --seconds of both streams (or the hard timeout)."""
    loop = GLib.MainLoop()
    state = {"error": None, "started": time.monotonic()}
    hard = args.seconds + args.startup_timeout

    def on_msg(_bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            state["error"] = "%s (%s)" % (err.message, msg.src.get_name())
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()
        return True

    def tick():
        now = time.monotonic()
        both = an.first_v is not None and an.first_a is not None
        if both and now - max(an.first_v, an.first_a) >= args.seconds:
            loop.quit()
            return False
        one = an.first_v or an.first_a
        if not both and one and now - one > min(args.seconds, 10):
            state["error"] = "only %s arrived (no %s track?)" % (
                ("video", "audio") if an.first_v else ("audio", "video"))
            loop.quit()
            return False
        if now - state["started"] > hard:
            state["error"] = state["error"] or (
                "hard timeout (%.0f s): video frames %d, audio samples %d"
                % (hard, len(an.frames), an.audio_samples))
            loop.quit()
            return False
        return True

    bus = pipe.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_msg)
    GLib.timeout_add(100, tick)
    # belt and braces: whatever blocks (a state change in C, a dead
    # server), this process ends: a watchdog thread, then the kernel
    def watchdog():
        sys.stderr.write("av_offset.py: stuck after %.0f s, giving up\n"
                         % (hard + 10))
        os._exit(1)
    dog = threading.Timer(hard + 10, watchdog)
    dog.daemon = True
    dog.start()
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(int(hard + 20))
    if pipe.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        state["error"] = "could not start the pipeline"
    else:
        loop.run()
    pipe.set_state(Gst.State.NULL)
    return state["error"]


def report(args, an, error):
    warm = int(args.warmup * 1e9)
    vm = an.video_markers(warm)
    am = an.audio_markers(warm)
    pairs = pair(vm, am)
    offs = [o for _, o in pairs]
    res = {
        "source": args.url or ("local+encode" if args.encode else "local"),
        "transport": ("tcp" if args.tcp else "udp") if args.url else None,
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "video_frames": len(an.frames),
        "video_markers": len(vm),
        "audio_markers": len(am),
        "matched": len(offs),
        "sign": SIGN,
        "goal_ms": GOAL_MS,
    }
    if args.audio_delay_ms or args.video_delay_ms:
        res["injected"] = {"audio_delay_ms": args.audio_delay_ms,
                           "video_delay_ms": args.video_delay_ms}
    if offs:
        absd = [abs(o) for o in offs]
        worst = max(offs, key=abs)
        res["offset_ms"] = {
            "p50": r2(statistics.median(offs)),
            "p5": r2(pct(offs, 5)),
            "p95": r2(pct(offs, 95)),
            "min": r2(min(offs)),
            "max": r2(max(offs)),
            "mean": r2(statistics.mean(offs)),
            "stdev": r2(statistics.pstdev(offs)),
        }
        res["abs_offset_ms"] = {"p50": r2(statistics.median(absd)),
                                "p95": r2(pct(absd, 95)),
                                "max": r2(max(absd)),
                                "worst_signed": r2(worst)}
        res["within_goal"] = max(absd) <= GOAL_MS
    if args.events:
        t0 = pairs[0][0] if pairs else 0
        res["events"] = [[round((t - t0) / 1e9, 3), r2(o)]
                         for t, o in pairs]
    if error:
        res["error"] = error
    print(json.dumps(res))
    sys.stdout.flush()
    if not offs:
        sys.stderr.write("av_offset.py: nothing measured%s\n"
                         % (": " + error if error else
                            " (no matching audio/video markers; is the "
                            "source the --print-source one?)"))
        return 1
    return 0


def serve(args):
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GstRtspServer
    # the --print-source text, completed as a server would
    launch = ("( " + SOURCE + " ! " + args.serve_encoder +
              " ! rtph264pay name=pay0 pt=96 config-interval=-1 "
              "audio. ! rtpopuspay name=pay1 pt=97 )")
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.serve))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)

    def configure(_f, media):
        inject_delays(media.get_element(), args)

    factory.connect("media-configure", configure)
    server.get_mount_points().add_factory("/live", factory)
    if server.attach(None) == 0:
        sys.stderr.write("av_offset.py: cannot listen on 127.0.0.1:%s\n"
                         % args.serve)
        return 1
    sys.stderr.write("stock gst-rtsp-server: rtsp://127.0.0.1:%s/live for "
                     "%d s\n" % (args.serve, args.seconds))
    loop = GLib.MainLoop()
    GLib.timeout_add_seconds(int(args.seconds), lambda: loop.quit())
    for s in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, s, lambda: loop.quit())
    loop.run()
    return 0


def main():
    p = argparse.ArgumentParser(
        description="Measure the A/V offset an RTSP client sees "
        "(%s). Source: --print-source." % SIGN)
    p.add_argument("url", nargs="?", help="rtsp://127.0.0.1:PORT/MOUNT")
    p.add_argument("--seconds", type=float, default=None,
                   help="media seconds to measure (default 10; "
                   "--serve: how long to serve, default 300)")
    p.add_argument("--tcp", action="store_true",
                   help="RTP over the RTSP connection (default UDP)")
    p.add_argument("--latency", type=int, default=2000,
                   help="rtspsrc jitterbuffer latency in ms (default 2000, "
                   "rtspsrc's own default)")
    p.add_argument("--warmup", type=float, default=1.0,
                   help="ignore markers in the first S seconds (default 1)")
    p.add_argument("--startup-timeout", type=float, default=20.0,
                   help="extra seconds allowed for connecting (default 20)")
    p.add_argument("--events", action="store_true",
                   help="add every matched event [t_s, offset_ms]")
    p.add_argument("--local", action="store_true",
                   help="no network: the source straight into the analysis")
    p.add_argument("--encode", action="store_true",
                   help="--local: through x264enc/avdec_h264 and "
                   "opusenc/opusdec")
    p.add_argument("--audio-delay-ms", type=float, default=0.0,
                   help="--local/--serve: delay audio by a pad offset")
    p.add_argument("--video-delay-ms", type=float, default=0.0,
                   help="--local/--serve: delay video by a pad offset")
    p.add_argument("--serve", type=int, metavar="PORT",
                   help="serve the source with stock gst-rtsp-server on "
                   "rtsp://127.0.0.1:PORT/live")
    p.add_argument("--serve-encoder", default="x264enc tune=zerolatency "
                   "speed-preset=ultrafast key-int-max=30", metavar="ELEMENTS",
                   help="--serve: the H.264 encoder (default: %(default)s)")
    p.add_argument("--print-source", action="store_true",
                   help="print the server launch text and exit")
    args = p.parse_args()

    modes = sum([bool(args.url), args.local, args.serve is not None,
                 args.print_source])
    if modes != 1:
        die_usage("give exactly one of: an rtsp:// URL, --local, --serve "
                  "PORT, --print-source")
    if args.print_source:
        print("launch:" + SOURCE)
        return 0
    if args.url and not args.url.startswith(("rtsp://", "rtsps://")):
        die_usage("not an rtsp:// URL: %r" % args.url)
    if args.url and (args.audio_delay_ms or args.video_delay_ms):
        die_usage("--audio-delay-ms/--video-delay-ms belong to the source "
                  "(--local, --serve)")
    if args.encode and not args.local:
        die_usage("--encode goes with --local")
    if args.seconds is None:
        args.seconds = 300.0 if args.serve is not None else 10.0
    if not 0 < args.seconds <= 3600:
        die_usage("--seconds must be in (0, 3600]")
    if args.warmup < 0 or args.warmup >= args.seconds:
        die_usage("--warmup must be in [0, --seconds)")

    Gst.init(None)
    if args.serve is not None:
        return serve(args)
    an = Analysis()
    pipe = build_local(args, an) if args.local else build_rtsp(args, an)
    error = run_pipeline(pipe, an, args)
    return report(args, an, error)


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
