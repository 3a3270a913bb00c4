#!/usr/bin/env python3
# gst-fanout
# Copyright (C) 2026 the gst-fanout authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""fanoutshmsink/fanoutshmsrc beside shmsink/shmsrc, in one run.

Every party is a process of its own (bench-shm-proc runs one pipeline and
reports frames, CPU time and the longest gap between frames over the
measured window). For 720p raw (videotestsrc, I420, 30 fps) and 720p H.264
(a clip encoded once, replayed at 30 fps) and 1, 4, 16 reader processes:
writer CPU per frame (minus the same writer into fakesink: what the sink
costs) and reader CPU per frame. Then the stalled-reader case: 3 readers,
one SIGSTOPped before the window: frames the writer and the 2 others get.

  flock /work/bench.lock python3 tests/bench/shm/run.py BUILDDIR [OUT.json]

--zero-copy (first argument): only the raw 720p writer into fanoutshmsink,
with videotestsrc drawing into the ring (the proposed pool: zero copy) and
with the allocation query dropped before it (`identity
drop-allocation=true`: system memory, one copy per frame), 1 and 4 readers,
beside the fakesink baseline:

  flock /work/bench.lock python3 tests/bench/shm/run.py --zero-copy BUILDDIR
"""

import json
import os
import signal
import subprocess
import sys
import time

ARGS = sys.argv[1:]
ZERO_COPY = bool(ARGS) and ARGS[0] == "--zero-copy"
if ZERO_COPY:
    ARGS = ARGS[1:]
BUILD = os.path.abspath(ARGS[0] if ARGS else "build")
OUT = ARGS[1] if len(ARGS) > 1 else None
PROC = os.path.join(BUILD, "tests/bench/shm/bench-shm-proc")
WARMUP, WINDOW = 3.0, 8.0
FPS = 30
ENV = dict(os.environ)
ENV["GST_PLUGIN_PATH_1_0"] = os.path.join(BUILD, "plugins/fanout")
TMP = os.environ.get("TMPDIR", "/tmp")
CLIP = os.path.join(TMP, "bench-shm-720p.mkv")

RAW_SRC = ("videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
           "! video/x-raw,format=I420,width=1280,height=720,framerate=30/1 "
           "! identity name=count")
H264_SRC = (f"filesrc location={CLIP} ! matroskademux ! h264parse "
            "! identity name=count sync=true")


def sink(impl, path):
    if impl == "fanout":
        return f"fanoutshmsink socket-path={path} data-size=134217728"
    if impl == "stock":
        return (f"shmsink socket-path={path} wait-for-connection=false "
                "shm-size=134217728 sync=false")
    return "fakesink sync=false"


def reader(impl, path):
    if impl == "fanout":
        src = f"fanoutshmsrc socket-path={path}"
    else:
        src = f"shmsrc socket-path={path} is-live=true"
    return src + " ! fakesink name=count signal-handoffs=true sync=false"


def make_clip():
    if os.path.exists(CLIP):
        return
    # real detail and motion, so that the stream has the bitrate it claims
    subprocess.run(
        ["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=450",
         "pattern=smpte", "horizontal-speed=4", "!",
         "video/x-raw,width=1280,height=720,framerate=30/1", "!",
         "timeoverlay", "font-desc=Sans 48", "!", "x264enc", "bitrate=4000",
         "key-int-max=30", "tune=zerolatency", "speed-preset=veryfast", "!",
         "h264parse", "!", "matroskamux", "!", "filesink",
         f"location={CLIP}"], check=True, env=ENV)


def start(desc, window=WINDOW):
    return subprocess.Popen([PROC, str(WARMUP), str(window), desc],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=ENV, text=True)


def result(p, timeout=60):
    hung = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # it printed its figures but cannot stop (a sink blocked for good)
        hung = True
        p.kill()
        out, err = p.communicate()
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (IndexError, ValueError):
        res = {"error": err.strip()[-300:]}
    if hung:
        res["hung_at_stop"] = True
    return res


def run(impl, fmt, n_readers, stall=False, copy=False):
    path = os.path.join(TMP, f"bench-shm-{os.getpid()}.sock")
    if os.path.exists(path):
        os.unlink(path)
    src = RAW_SRC if fmt == "raw" else H264_SRC
    if copy:
        # upstream never sees the sink's allocator: every frame is copied
        src += " drop-allocation=true"
    # the writer's window covers the readers' (they start later)
    w = start(f"{src} ! {sink(impl, path)}", WINDOW + 2)
    time.sleep(0.5)  # the socket exists before readers connect
    rs = [start(reader(impl, path)) for _ in range(n_readers)]
    if stall:
        time.sleep(WARMUP / 2)
        os.kill(rs[0].pid, signal.SIGSTOP)
    wres = result(w)
    if stall:
        os.kill(rs[0].pid, signal.SIGCONT)
    rres = []
    for r in rs:
        rres.append(result(r, timeout=30))
    return {"impl": impl, "format": fmt, "readers": n_readers,
            "stall": stall, "writer": wres, "reader_results": rres}


def per_frame_us(res):
    if "frames" not in res or res["frames"] == 0:
        return None
    return 1e6 * res["cpu_s"] / res["frames"]


def save(base, runs):
    if OUT:
        with open(OUT, "w") as f:
            json.dump({"window_s": WINDOW, "fps": FPS, "baseline_us": base,
                       "runs": runs}, f, indent=1)


def main_zero_copy():
    base = per_frame_us(run("none", "raw", 0)["writer"])
    runs = []
    for copy in (False, True):
        for n in (1, 4):
            r = run("fanout", "raw", n, copy=copy)
            r["copy"] = copy
            runs.append(r)
            print(json.dumps(r), flush=True)
    print(f"\nraw 720p, window {WINDOW} s at {FPS} fps, baseline (fakesink) "
          f"{base:.0f} µs/frame, load {os.getloadavg()}")
    print("| writer memory | readers | writer frames | writer CPU/frame "
          "(minus fakesink) | reader CPU/frame (mean) | reader frames (min) |")
    print("|---|---|---|---|---|---|")
    for r in runs:
        w = per_frame_us(r["writer"])
        rd = [per_frame_us(x) for x in r["reader_results"]]
        rd = [x for x in rd if x is not None]
        rf = [x.get("frames", 0) for x in r["reader_results"]]
        mem = "system (copied)" if r["copy"] else "ring pool (zero copy)"
        wd = f"{w - base:.0f} µs" if w is not None else "error"
        rdm = f"{sum(rd) / len(rd):.0f} µs" if rd else "error"
        print(f"| {mem} | {r['readers']} | "
              f"{r['writer'].get('frames', 'error')} | {wd} | {rdm} | "
              f"{min(rf) if rf else 0} |")
    save(base, runs)


def main():
    if ZERO_COPY:
        main_zero_copy()
        return
    make_clip()
    runs = []
    base = {}
    for fmt in ("raw", "h264"):
        b = run("none", fmt, 0)
        base[fmt] = per_frame_us(b["writer"])
        runs.append(b)
        for impl in ("fanout", "stock"):
            for n in (1, 4, 16):
                runs.append(run(impl, fmt, n))
                print(json.dumps(runs[-1]), flush=True)
            runs.append(run(impl, fmt, 3, stall=True))
            print(json.dumps(runs[-1]), flush=True)

    expected = int(WINDOW * FPS)  # per reader window
    print(f"\nwindow {WINDOW} s at {FPS} fps ({expected} frames), "
          f"load {os.getloadavg()}")
    print("| format | sink | readers | writer frames | writer CPU/frame "
          "(minus fakesink) | reader CPU/frame (mean) | reader frames (min) |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        if r["impl"] == "none" or r["stall"]:
            continue
        w = per_frame_us(r["writer"])
        rd = [per_frame_us(x) for x in r["reader_results"]]
        rd = [x for x in rd if x is not None]
        rf = [x.get("frames", 0) for x in r["reader_results"]]
        wd = f"{w - base[r['format']]:.0f} µs" if w is not None else "error"
        print(f"| {r['format']} | {r['impl']} | {r['readers']} | "
              f"{r['writer'].get('frames', 'error')} | {wd} | "
              f"{sum(rd) / len(rd):.0f} µs | {min(rf)} |"
              if rd else f"| {r['format']} | {r['impl']} | {r['readers']} |"
              f" {r['writer']} | | | |")
    print("\nstalled reader (3 readers, reader 0 SIGSTOPped before the window)")
    print("| format | sink | writer frames | other readers' frames | "
          "writer longest gap |")
    print("|---|---|---|---|---|")
    for r in runs:
        if not r["stall"]:
            continue
        others = [x.get("frames", 0) for x in r["reader_results"][1:]]
        hung = " (hung at stop: killed)" if r["writer"].get("hung_at_stop") \
            else ""
        print(f"| {r['format']} | {r['impl']} | "
              f"{r['writer'].get('frames', 'error')}{hung} | {others} | "
              f"{r['writer'].get('max_gap_ms', '-')} ms |")
    save(base, runs)


if __name__ == "__main__":
    main()
