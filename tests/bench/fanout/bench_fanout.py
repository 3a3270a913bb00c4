#!/usr/bin/python3
# gst-fanout
# Copyright (C) 2026 the gst-fanout authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""fanout vs the stock ways, in one run.

  /usr/bin/python3 tests/bench/fanout/bench_fanout.py [--builddir build]
      [--quick] [--report]

Each measurement runs in its own process (clean RSS and counters). Writes
docs/benchmarks/fanout.md, docs/benchmarks/fanout-*.png and the raw figures
to docs/benchmarks/fanout-results.json (--report: only rewrite the page and
plots from that file).

Parts:
  throughput  N readers, fakesink sync=false, three sources: fakesrc with
              1400 and 460800-byte buffers (a malloc per buffer), and
              videotestsrc 640x480 I420 (460800 bytes, from a buffer pool).
              fanout (every pad lag-policy=block: lossless), fanout with
              its default policy, tee + queue per branch; the source alone.
              Measured from buffer WARM to EOS: total CPU us per buffer per
              reader, and in the writer (source) thread itself CPU, user/sys,
              minor faults, context switches per buffer; peak RSS, threads.
              Plus the earlier whole-run method, with glibc's default mmap
              threshold and a raised one (GLIBC_TUNABLES), as a diagnostic.
  stalled     live 1000 buffers/s (audiotestsrc, 48 samples at 48 kHz), 5
              readers, one stalled by a blocking probe: buffers each reader
              got, writer stall (longest gap between two source pushes),
              age of data at the fast readers.
  rtp         720p30 H.264 (pre-encoded once) -> rtph264pay [! payloadbatch]
              -> N udpsinks on 127.0.0.1: fanout vs tee+queue+udpsink vs
              multiudpsink, and the parse+payload head alone. CPU us (user,
              sys) per packet per destination. Kernel floor: udp-floor
              (udp_floor.c, built in BUILDDIR/tests/bench/fanout) replays the
              same packet sizes and batches with bare sendmmsg calls.
"""

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DOCS = os.path.join(TOP, "docs", "benchmarks")
CACHE = "/tmp/gst-fanout-bench"
NOTES_MARK = "<!-- notes: kept by bench_fanout.py -->"


# --------------------------------------------------------------- one run
def proc_status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def thread_cpu_ns(tid):
    try:
        with open("/proc/self/task/%d/schedstat" % tid) as f:
            return int(f.read().split()[0])
    except OSError:
        return None


def proc_snapshot():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return dict(cpu=ru.ru_utime + ru.ru_stime, utime=ru.ru_utime,
                stime=ru.ru_stime, minflt=ru.ru_minflt,
                csw=ru.ru_nvcsw + ru.ru_nivcsw)


def thread_snapshot():
    """Called in the writer thread itself: precise per-thread rusage."""
    import threading
    tid = threading.get_native_id()
    ru = resource.getrusage(resource.RUSAGE_THREAD)
    return dict(tid=tid, cpu_ns=thread_cpu_ns(tid), utime=ru.ru_utime,
                stime=ru.ru_stime, minflt=ru.ru_minflt, vcsw=ru.ru_nvcsw,
                ivcsw=ru.ru_nivcsw, proc=proc_snapshot())


def cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_nvcsw + ru.ru_nivcsw


POOL_CAPS = "video/x-raw,format=I420,width=640,height=480,framerate=30/1"


def source_desc(source, size, nbuf):
    """The writer: fakesrc (a fresh malloc per buffer, no pool) or
    videotestsrc (a GstBufferPool whose buffers come back when freed)."""
    if source == "fakesrc":
        return ("fakesrc name=src num-buffers=%d sizetype=fixed sizemax=%d "
                "filltype=nothing can-activate-pull=false" % (nbuf, size))
    assert source == "pool" and size == 460800  # 640x480 I420
    return ("videotestsrc name=src pattern=black num-buffers=%d ! %s"
            % (nbuf, POOL_CAPS))


def one_throughput(Gst, cfg):
    n, size, nbuf, system = cfg["n"], cfg["size"], cfg["buffers"], cfg["system"]
    warm = cfg.get("warm", 0)
    src = source_desc(cfg.get("source", "fakesrc"), size, nbuf)
    if system == "alone":
        desc = "%s ! fakesink sync=false async=false" % src
    elif system.startswith("fanout"):
        # "fanout": lossless (block), "fanout-default": default lag policy,
        # "fanout-c32": lossless with a 32-item ring
        props = " ".join("src_%d::lag-policy=block" % i for i in range(n)) \
            if system != "fanout-default" else ""
        if system == "fanout-c32":
            props += " capacity=32"
        desc = "%s ! fanout name=f %s %s" % (src, props, " ".join(
            "f. ! fakesink sync=false async=false" for _ in range(n)))
    else:
        desc = "%s ! tee name=t %s" % (src, " ".join(
            "t. ! queue ! fakesink sync=false async=false" for _ in range(n)))
    pipe = Gst.parse_launch(desc)
    srcpad = pipe.get_by_name("src").get_static_pad("src")
    # The window: from buffer number `warm` (the ring, the queues and a
    # buffer pool are filled by then) to EOS, both snapshots taken in the
    # writer thread itself.
    snap = {"seen": 0}

    def on_buffer(pad, info):
        if snap["seen"] == warm:
            snap["a"] = thread_snapshot()
            snap["seen"] += 1
            return Gst.PadProbeReturn.REMOVE
        snap["seen"] += 1
        return Gst.PadProbeReturn.OK

    def on_eos(pad, info):
        if info.get_event().type == Gst.EventType.EOS and "b" not in snap:
            snap["b"] = thread_snapshot()
        return Gst.PadProbeReturn.OK

    srcpad.add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    srcpad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_eos)
    t0 = time.monotonic()
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(
        300 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    t1 = time.monotonic()
    threads = proc_status("Threads")
    delivered = 1.0
    if system.startswith("fanout"):
        st = pipe.get_by_name("f").get_property("stats")
        pushed = sum(st.get_value("src_%d" % i).get_value("pushed")
                     for i in range(n))
        delivered = pushed / float(nbuf * n)
    ok = (msg is not None and msg.type == Gst.MessageType.EOS
          and "a" in snap and "b" in snap)
    pipe.set_state(Gst.State.NULL)
    res = dict(cfg)
    res.update(ok=ok, wall_s=t1 - t0, delivered=delivered, threads=threads,
               load=os.getloadavg()[0],
               rss_mb=proc_status("VmHWM") / 1024.0)
    if not ok:
        return res
    a, b = snap["a"], snap["b"]
    m = float(nbuf - warm)  # buffers in the window
    pa, pb = a["proc"], b["proc"]
    readers = max(n, 1)
    res.update(
        window=int(m),
        writer_us_per_buf=(b["cpu_ns"] - a["cpu_ns"]) / 1e3 / m,
        writer_user_us_per_buf=(b["utime"] - a["utime"]) * 1e6 / m,
        writer_sys_us_per_buf=(b["stime"] - a["stime"]) * 1e6 / m,
        writer_minflt_per_buf=(b["minflt"] - a["minflt"]) / m,
        writer_vcsw_per_buf=(b["vcsw"] - a["vcsw"]) / m,
        writer_ivcsw_per_buf=(b["ivcsw"] - a["ivcsw"]) / m,
        cpu_us_per_buf_reader=(pb["cpu"] - pa["cpu"]) * 1e6 / (m * readers),
        sys_share=(pb["stime"] - pa["stime"]) / max(pb["cpu"] - pa["cpu"],
                                                    1e-9),
        minflt_per_buf=(pb["minflt"] - pa["minflt"]) / m,
        ctxsw_per_buf=(pb["csw"] - pa["csw"]) / m)
    return res


def one_stalled(Gst, cfg):
    system, dur = cfg["system"], cfg["seconds"]
    src = ("audiotestsrc name=src is-live=true samplesperbuffer=48 "
           "wave=silence ! audio/x-raw,rate=48000,channels=1,format=S16LE")
    if system == "fanout":
        desc = src + " ! fanout name=f " + " ".join(
            "f. ! fakesink name=s%d sync=false async=false" % i for i in range(5))
    else:
        desc = src + " ! tee name=t " + " ".join(
            "t. ! queue ! fakesink name=s%d sync=false async=false" % i
            for i in range(5))
    pipe = Gst.parse_launch(desc)
    counts = [0] * 5
    ages = [[] for _ in range(5)]
    push = {"n": 0, "last": None, "maxgap": 0.0}

    def on_src(pad, info):
        now = time.monotonic()
        if push["last"] is not None:
            push["maxgap"] = max(push["maxgap"], now - push["last"])
        push["last"] = now
        push["n"] += 1
        return Gst.PadProbeReturn.OK

    def on_sink(pad, info, i):
        counts[i] += 1
        buf = info.get_buffer()
        clock = pipe.get_clock()
        if clock is not None and counts[i] % 10 == 0:
            now = clock.get_time() - pipe.get_base_time()
            ages[i].append((now - buf.pts) / 1e6)
        return Gst.PadProbeReturn.OK

    pipe.get_by_name("src").get_static_pad("src").add_probe(
        Gst.PadProbeType.BUFFER, on_src)
    for i in range(4):
        pipe.get_by_name("s%d" % i).get_static_pad("sink").add_probe(
            Gst.PadProbeType.BUFFER, on_sink, i)
    stalled_pad = pipe.get_by_name("s4").get_static_pad("sink")
    block_id = stalled_pad.add_probe(
        Gst.PadProbeType.BLOCK | Gst.PadProbeType.BUFFER,
        lambda pad, info: Gst.PadProbeReturn.OK)
    c0, _ = cpu_s()
    pipe.set_state(Gst.State.PLAYING)
    t0 = time.monotonic()
    time.sleep(dur)  # the measurement window of a live source
    end = time.monotonic()
    # the gap still open at the end counts as a stall too
    open_gap = end - push["last"] if push["last"] else dur
    maxgap = max(push["maxgap"], open_gap)
    c1, _ = cpu_s()
    res = dict(cfg)
    res.update(
        expected=int((end - t0) * 1000),
        produced=push["n"],
        got=counts[:4],
        writer_max_gap_ms=maxgap * 1000.0,
        age_ms_median=sorted(sum(ages, []))[len(sum(ages, [])) // 2]
        if sum(ages, []) else None,
        age_ms_max=max(sum(ages, [])) if sum(ages, []) else None,
        cpu_s=c1 - c0)
    stalled_pad.remove_probe(block_id)
    pipe.set_state(Gst.State.NULL)
    return res


def rtp_clip(Gst):
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, "clip720p30.h264")
    if not os.path.exists(path):
        desc = ("videotestsrc pattern=snow num-buffers=900 ! video/x-raw,"
                "width=1280,height=720,framerate=30/1 ! x264enc "
                "speed-preset=ultrafast tune=zerolatency bitrate=4000 "
                "key-int-max=30 ! h264parse ! video/x-h264,"
                "stream-format=byte-stream ! filesink location=%s.tmp" % path)
        pipe = Gst.parse_launch(desc)
        pipe.set_state(Gst.State.PLAYING)
        pipe.get_bus().timed_pop_filtered(
            600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        pipe.set_state(Gst.State.NULL)
        os.rename(path + ".tmp", path)
    # four times the clip back to back (a valid byte-stream): more packets
    # per run, steadier figures
    path4 = os.path.join(CACHE, "clip720p30x4.h264")
    if not os.path.exists(path4):
        with open(path, "rb") as f:
            data = f.read()
        with open(path4 + ".tmp", "wb") as f:
            for _ in range(4):
                f.write(data)
        os.rename(path4 + ".tmp", path4)
    return path4


def rtp_head(Gst, clip, want_batch=True):
    batch = (" ! payloadbatch name=pb" if want_batch
             and Gst.ElementFactory.find("payloadbatch") else "")
    return ("filesrc location=%s ! h264parse ! rtph264pay config-interval=-1 "
            "mtu=1400 pt=96 name=pay%s" % (clip, batch)), bool(batch)


def one_rtp_count(Gst, cfg):
    """Counts the packets and writes the trace udp-floor replays: one line
    per batch leaving payloadbatch (a frame's packets), packet sizes."""
    clip = rtp_clip(Gst)
    head, batched = rtp_head(Gst, clip)
    pipe = Gst.parse_launch(head + " ! fakesink sync=false")
    lines = []

    def on(pad, info):
        lines.append([info.get_buffer().get_size()])
        return Gst.PadProbeReturn.OK

    def on_list(pad, info):
        bl = info.get_buffer_list()
        lines.append([bl.get(i).get_size() for i in range(bl.length())])
        return Gst.PadProbeReturn.OK

    last = pipe.get_by_name("pb" if batched else "pay").get_static_pad("src")
    last.add_probe(Gst.PadProbeType.BUFFER, on)
    last.add_probe(Gst.PadProbeType.BUFFER_LIST, on_list)
    pipe.set_state(Gst.State.PLAYING)
    pipe.get_bus().timed_pop_filtered(
        300 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    with open(cfg["trace"], "w") as f:
        for line in lines:
            f.write(" ".join(str(v) for v in line) + "\n")
    sizes = sum(lines, [])
    return dict(cfg, packets=len(sizes), batches=len(lines),
                mean_size=sum(sizes) / float(len(sizes)))


def one_rtp(Gst, cfg):
    n, system = cfg["n"], cfg["system"]
    clip = rtp_clip(Gst)
    head, batched = rtp_head(Gst, clip, cfg.get("batch", True))
    socks = []
    ports = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    if system.startswith("fanout"):
        props = " ".join("src_%d::lag-policy=block" % i for i in range(n))
        if system == "fanout-c128":
            props += " capacity=128"
        desc = "%s ! fanout name=f %s %s" % (head, props, " ".join(
            "f. ! udpsink host=127.0.0.1 port=%d sync=false async=false" % p
            for p in ports))
    elif system == "head":
        # parsing and payloading alone: what every system pays once
        desc = "%s ! fakesink sync=false async=false" % head
    elif system == "tee":
        desc = "%s ! tee name=t %s" % (head, " ".join(
            "t. ! queue ! udpsink host=127.0.0.1 port=%d sync=false "
            "async=false" % p for p in ports))
    else:
        desc = "%s ! multiudpsink clients=%s sync=false async=false" % (
            head, ",".join("127.0.0.1:%d" % p for p in ports))
    pipe = Gst.parse_launch(desc)
    p0 = proc_snapshot()
    t0 = time.monotonic()
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(
        300 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    t1 = time.monotonic()
    p1 = proc_snapshot()
    ok = msg is not None and msg.type == Gst.MessageType.EOS
    pipe.set_state(Gst.State.NULL)
    for s in socks:
        s.close()
    return dict(cfg, ok=ok, batched=batched, wall_s=t1 - t0,
                cpu_s=p1["cpu"] - p0["cpu"], user_s=p1["utime"] - p0["utime"],
                sys_s=p1["stime"] - p0["stime"], ctxsw=p1["csw"] - p0["csw"],
                rss_mb=proc_status("VmHWM") / 1024.0,
                load=os.getloadavg()[0])


def child(cfg):
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    fn = {"throughput": one_throughput, "stalled": one_stalled,
          "rtp": one_rtp, "rtp-count": one_rtp_count}[cfg["kind"]]
    print(json.dumps(fn(Gst, cfg)))


# ------------------------------------------------------------ the driver
def run_child(cfg, env, extra_env=None):
    if extra_env:
        env = dict(env, **extra_env)
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)],
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-2000:])
        raise SystemExit("benchmark child failed: %s" % cfg)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if extra_env:
        res["env"] = extra_env
    sys.stderr.write("  %s\n" % json.dumps(res))
    return res


def run_floor(floor, trace, n, mode):
    out = subprocess.run([floor, trace, str(n), mode], capture_output=True,
                         text=True, timeout=600)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-2000:])
        raise SystemExit("udp-floor failed: %d %s" % (n, mode))
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(n=n, batched=(mode != "single"), load=os.getloadavg()[0])
    sys.stderr.write("  %s\n" % json.dumps(res))
    return res


# Buffers measured per throughput run (after WARM more): enough for a
# steady figure, few enough that tee + queue at N = 100 stays near 2 s.
WARM = 2048  # twice fanout's default capacity: the ring has wrapped twice


def window(size, source, n):
    if source == "pool":
        return max(2000, min(10000, 100000 // n))
    if size == 1400:
        return max(20000, min(200000, 2000000 // n))
    return max(4000, min(40000, 400000 // n))


REPEATS = 3  # passes over the goals' points (the median is shown)
GOAL_POINTS = {"fanout-c32": lambda ns: (),
               "fanout": lambda ns: (ns[0], 10, ns[-1]),
               "fanout-default": lambda ns: (ns[0], ns[-1]),
               "tee": lambda ns: (10, ns[-1])}


def goal_ns(ns):
    return sorted({n for f in GOAL_POINTS.values() for n in f(ns)})


THROUGHPUT_SERIES = ((1400, "fakesrc"), (460800, "fakesrc"), (460800, "pool"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default="build")
    ap.add_argument("--quick", action="store_true",
                    help="fewer points (N = 1, 10, 100) for a fast check")
    ap.add_argument("--report", action="store_true",
                    help="only rewrite the page and plots from the saved "
                    "fanout-results.json")
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    if args.report:
        with open(os.path.join(DOCS, "fanout-results.json")) as f:
            report(json.load(f))
        return

    builddir = os.path.join(TOP, args.builddir)
    env = dict(os.environ)
    env["GST_PLUGIN_PATH_1_0"] = (os.path.join(builddir, "plugins", "fanout")
                                  + ":/usr/lib/x86_64-linux-gnu/gstreamer-1.0")
    env["GST_PLUGIN_SYSTEM_PATH_1_0"] = ""
    env["GST_REGISTRY_1_0"] = os.path.join(CACHE, "registry.bin")
    env.pop("GLIBC_TUNABLES", None)
    os.makedirs(CACHE, exist_ok=True)
    started = time.monotonic()
    load0 = os.getloadavg()

    ns = [1, 10, 100] if args.quick else [1, 2, 5, 10, 20, 50, 100]
    results = {"throughput": [], "diagnostic": [], "stalled": [], "rtp": [],
               "floor": [], "meta": {}}
    for size, source in THROUGHPUT_SERIES:
        # the source alone (source ! fakesink): its own cost per buffer
        results["throughput"].append(run_child(dict(
            kind="throughput", system="alone", n=0, size=size, source=source,
            warm=WARM, buffers=WARM + window(size, source, 1)), env))
        for rep in range(REPEATS):
            # rep 0: every point; then the goals' points again, N = 1 next
            # to N = 100 in time, so each ratio compares runs made under
            # the same load from the other work on the machine
            for n in ns if rep == 0 else goal_ns(ns):
                # raw video with a ring sized for it: the pool stays small
                extra = ("fanout-c32",) if (source == "pool" and rep == 0
                                             and n in (ns[0], ns[-1])) else ()
                for system in ("fanout", "fanout-default", "tee") + extra:
                    if rep and n not in GOAL_POINTS[system](ns):
                        continue
                    results["throughput"].append(run_child(dict(
                        kind="throughput", system=system, n=n, size=size,
                        source=source, warm=WARM, rep=rep,
                        buffers=WARM + window(size, source, n)), env))
    # How the earlier report measured it (whole run, ring fill included,
    # 10x fewer buffers at N = 100), with glibc's default mmap threshold and
    # with one above the buffer size.
    for tunables in (None, "glibc.malloc.mmap_threshold=1048576:"
                     "glibc.malloc.trim_threshold=1073741824"):
        for n, nbuf in ((1, 20000), (100, 2000)):
            results["diagnostic"].append(run_child(dict(
                kind="throughput", system="fanout", n=n, size=460800,
                source="fakesrc", warm=0, buffers=nbuf), env,
                {"GLIBC_TUNABLES": tunables} if tunables else None))
    for system in ("fanout", "tee"):
        results["stalled"].append(run_child(dict(
            kind="stalled", system=system, seconds=3), env))
    trace = os.path.join(CACHE, "rtp-trace.txt")
    count = run_child(dict(kind="rtp-count", trace=trace), env)
    floor = os.path.join(builddir, "tests", "bench", "fanout", "udp-floor")
    rtp_ns = [1, 10, 50] if not args.quick else [1, 10]
    for batch in (True, False):
        r = run_child(dict(kind="rtp", system="head", n=0, batch=batch), env)
        r["packets"] = count["packets"]
        results["rtp"].append(r)
        for n in rtp_ns:
            for system in ("fanout", "fanout-c128", "tee", "multiudpsink"):
                r = run_child(dict(kind="rtp", system=system, n=n,
                                   batch=batch), env)
                r["packets"] = count["packets"]
                results["rtp"].append(r)
            if os.path.exists(floor):
                results["floor"].append(run_floor(
                    floor, trace, n, "frame" if batch else "single"))
        if batch and os.path.exists(floor):
            # multiudpsink's pattern: one call for every destination
            results["floor"].append(run_floor(floor, trace, rtp_ns[-1],
                                              "all"))
    results["meta"] = dict(
        seconds=time.monotonic() - started, cores=os.cpu_count(),
        load_start=load0, load_end=os.getloadavg(),
        started_utc=time.strftime("%Y-%m-%d %H:%M UTC",
                                  time.gmtime(time.time() - (
                                      time.monotonic() - started))),
        rtp_packets=count["packets"], rtp_batches=count["batches"],
        rtp_mean_size=count["mean_size"],
        command="/usr/bin/python3 tests/bench/fanout/bench_fanout.py "
        "--builddir %s%s" % (args.builddir, " --quick" if args.quick else ""))
    os.makedirs(DOCS, exist_ok=True)
    with open(os.path.join(DOCS, "fanout-results.json"), "w") as f:
        json.dump(results, f, indent=1)
    report(results)


# ------------------------------------------------------------ the report
def pick(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


SERIES_LABEL = {(1400, "fakesrc"): "1400 B fakesrc",
                (460800, "fakesrc"): "460800 B fakesrc",
                (460800, "pool"): "460800 B videotestsrc (pool)"}
SYSTEM_LABEL = {"fanout": "fanout (block, lossless)",
                "fanout-c32": "fanout (block, capacity=32)",
                "fanout-default": "fanout (default policy)",
                "tee": "tee + queue"}


def plots(res):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    th = res["throughput"]
    for key, fname, label in (
            ("writer_us_per_buf", "fanout-writer.png",
             "writer thread CPU, us per buffer"),
            ("cpu_us_per_buf_reader", "fanout-cpu.png",
             "total CPU, us per buffer per reader")):
        fig, ax = plt.subplots(figsize=(9, 6))
        for series, ls in zip(THROUGHPUT_SERIES, ("-", "--", ":")):
            for system, color in (("fanout", "tab:blue"),
                                  ("fanout-default", "tab:cyan"),
                                  ("tee", "tab:red")):
                rows = [one(th, size=series[0], source=series[1],
                            system=system, n=n)
                        for n in sorted({r["n"] for r in th if r["n"]})]
                rows = [r for r in rows if r]
                if not rows:
                    continue
                ax.plot([r["n"] for r in rows], [r[key] for r in rows],
                        ls, color=color, marker="o", markersize=3,
                        label="%s, %s" % (SYSTEM_LABEL[system],
                                          SERIES_LABEL[series]))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("readers (N)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13),
                  ncol=3)
        fig.tight_layout()
        fig.savefig(os.path.join(DOCS, fname), dpi=100)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for system, color in (("fanout", "tab:blue"), ("fanout-c128", "tab:cyan"),
                          ("tee", "tab:red"), ("multiudpsink", "tab:green"),
                          ("floor", "tab:gray")):
        for batched, ls in ((True, "-"), (False, "--")):
            if system == "floor":
                rows = sorted(pick(res.get("floor", []),
                                   mode="frame" if batched else "single"),
                              key=lambda r: r["n"])
                ys = [r["us_per_pkt_dest"] for r in rows]
            else:
                rows = sorted(pick(res["rtp"], system=system,
                                   batched=batched), key=lambda r: r["n"])
                ys = [rtp_us(r) for r in rows]
            if not rows:
                continue
            ax.plot([r["n"] for r in rows], ys, ls, marker="o", color=color,
                    label={"fanout-c128": "fanout capacity=128",
                           "tee": "tee + queue + udpsink",
                           "floor": "kernel floor (sendmmsg only)"}.get(
                               system, system)
                    + (", payloadbatch" if batched else ", single packets"))
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("destinations (N)")
    ax.set_ylabel("CPU us per packet per destination")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(DOCS, "fanout-rtp.png"), dpi=100)
    plt.close(fig)


def fmt(v, d=2):
    return "-" if v is None else ("%.*f" % (d, v))


def rtp_us(r, key="cpu_s"):
    return r[key] * 1e6 / (r["packets"] * r["n"])


def one(rows, key="writer_us_per_buf", **kw):
    """The row matching kw; of repeated runs, the median by key."""
    r = [x for x in pick(rows, **kw) if x.get("ok", True)]
    if len(r) > 1 and all(x.get(key) is not None for x in r):
        r.sort(key=lambda x: x[key])
        return r[len(r) // 2]
    return r[0] if r else None


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else 0.5 * (
        xs[len(xs) // 2 - 1] + xs[len(xs) // 2])


def paired(rows, key, num, den):
    """Ratios num/den of the runs made in the same pass (same rep)."""
    out = []
    for a in pick(rows, **num):
        b = [x for x in pick(rows, **den) if x.get("rep") == a.get("rep")]
        if a.get("ok") and b and b[0].get("ok") and b[0].get(key) \
                and a.get(key) is not None:
            out.append(a[key] / b[0][key])
    return out


def ratio(a, b):
    return a / b if a is not None and b else None


def report(res):
    plots(res)
    th = res["throughput"]
    meta = res["meta"]
    lines = []
    w = lines.append
    w("# `fanout` benchmark\n")
    w("Generated by `%s` (%.0f s for the whole run, started %s) on the team "
      "machine: %d cores, shared with other helpers' builds and tests while "
      "it ran (load average %.1f / %.1f / %.1f at the start, %.1f / %.1f / "
      "%.1f at the end; each run's 1-minute load is in the raw figures), so "
      "absolute figures are noisy; the ratios measured in the same run are "
      "what matters. Raw figures: `fanout-results.json`.\n"
      % (meta["command"], meta["seconds"], meta.get("started_utc", "?"),
         meta["cores"], *meta["load_start"], *meta["load_end"]))

    w("## Throughput: one writer, N readers (`fakesink sync=false`)\n")
    w("Three sources, each as fast as it can: `fakesrc sizetype=fixed "
      "filltype=nothing` with 1400-byte and 460800-byte buffers (a fresh "
      "`malloc` per buffer, no pool, memory not touched), and `videotestsrc "
      "pattern=black` at 640x480 I420 (460800 bytes) from its own "
      "`GstBufferPool` (`fanout` does not forward the allocation query, so "
      "the pool is videotestsrc's, unbounded: freed buffers go back to it "
      "and it grows to what is in flight, about `capacity` + readers' "
      "buffers for `fanout`; it copies its cached black frame into each "
      "buffer). Against: `fanout` with every pad `lag-policy=block` "
      "(lossless, like `tee ! queue`); `tee` + a default `queue` per "
      "branch; `fanout` with its default lag policy (readers that cannot "
      "keep up with a source this fast are lapped: *delivered* is the share "
      "of buffers the readers pushed).\n")
    w("Measured in a window: from buffer %d (the ring, the queues and the "
      "pool are full and the allocator in its steady state by then) to EOS, "
      "*buffers* = the window. Writer = the source's streaming thread, "
      "sampled in that thread (CPU from `/proc/self/task/TID/schedstat`; "
      "user/sys, minor page faults and context switches from "
      "`getrusage(RUSAGE_THREAD)`; the user/sys split is the kernel's "
      "tick-sampled estimate); it includes the source's own work "
      "(`fakesrc`'s `malloc`, `videotestsrc`'s copy). Total CPU = the "
      "process's user+sys over the window. *Source alone* = the source into "
      "one `fakesink`, no `tee` or `fanout`. The goals' points (`fanout` at "
      "N = 1, 10, %d, its default policy at N = 1 and %d, `tee` at N = 10 "
      "and %d) were run in %d passes: the tables show the run with the "
      "median writer CPU; every run is in the raw figures.\n" % (
          WARM, max(r["n"] for r in th), max(r["n"] for r in th),
          max(r["n"] for r in th), REPEATS))
    for series in THROUGHPUT_SERIES:
        size, source = series
        alone = one(th, size=size, source=source, system="alone")
        w("### %s\n" % SERIES_LABEL[series])
        if alone:
            w("Source alone: writer %s us/buffer.\n"
              % fmt(alone["writer_us_per_buf"]))
        w("| N | buffers | fanout writer us/buf | tee writer us/buf | "
          "fanout CPU us/buf/reader | tee CPU us/buf/reader | fanout "
          "ctxsw/buf | tee ctxsw/buf | fanout RSS MB | tee RSS MB | threads "
          "| default-policy fanout: writer us/buf | delivered |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for n in sorted({r["n"] for r in th if r["n"]}):
            f = one(th, size=size, source=source, n=n, system="fanout")
            t = one(th, size=size, source=source, n=n, system="tee")
            d = one(th, size=size, source=source, n=n,
                    system="fanout-default")
            if not f or not t or not d:
                continue
            w("| %d | %d | %s | %s | %s | %s | %s | %s | %.0f | %.0f | %d | "
              "%s | %.1f%% |" % (
                  n, f["window"], fmt(f["writer_us_per_buf"]),
                  fmt(t["writer_us_per_buf"]),
                  fmt(f["cpu_us_per_buf_reader"]),
                  fmt(t["cpu_us_per_buf_reader"]), fmt(f["ctxsw_per_buf"]),
                  fmt(t["ctxsw_per_buf"]), f["rss_mb"], t["rss_mb"],
                  f["threads"], fmt(d["writer_us_per_buf"]),
                  100.0 * d["delivered"]))
        w("")
    w("![writer CPU per buffer](fanout-writer.png)\n")
    w("![total CPU per buffer per reader](fanout-cpu.png)\n")

    w("### Where the writer's time goes (N = 1 and N = 100)\n")
    w("Per buffer in the window, the writer thread only: user and system "
      "CPU, minor page faults, voluntary (it slept) and involuntary (it was "
      "preempted) context switches.\n")
    w("| source | system | N | writer us/buf | user us | sys us | minflt "
      "| vol. csw | invol. csw |")
    w("|---|---|---|---|---|---|---|---|---|")
    ns = sorted({r["n"] for r in th if r["n"]})
    for series in THROUGHPUT_SERIES:
        for system in ("fanout", "fanout-c32", "fanout-default", "tee"):
            for n in (ns[0], ns[-1]):
                r = one(th, size=series[0], source=series[1], n=n,
                        system=system)
                if not r:
                    continue
                w("| %s | %s | %d | %s | %s | %s | %s | %s | %s |" % (
                    SERIES_LABEL[series], SYSTEM_LABEL[system], n,
                    fmt(r["writer_us_per_buf"]),
                    fmt(r["writer_user_us_per_buf"]),
                    fmt(r["writer_sys_us_per_buf"]),
                    fmt(r["writer_minflt_per_buf"], 3),
                    fmt(r["writer_vcsw_per_buf"], 3),
                    fmt(r["writer_ivcsw_per_buf"], 3)))
    w("")

    diag = res.get("diagnostic", [])
    if diag:
        w("### The earlier method: ring fill included\n")
        w("The previous report measured the writer over the whole run, with "
          "20000 buffers at N = 1 but 2000 at N = 100, so the ring's first "
          "fill (1024 buffers) weighed 10x more at N = 100. Each of those "
          "first buffers is a fresh `mmap` (glibc's mmap threshold starts at "
          "128 KiB and rises to the buffer size only when the first such "
          "block is freed, i.e. when the ring wraps) plus a page fault. The "
          "same runs again, and with `GLIBC_TUNABLES` setting the mmap "
          "threshold above the buffer size:\n")
        w("| allocator | N | buffers (whole run) | fanout (block) writer "
          "us/buf | sys us | minflt/buf |")
        w("|---|---|---|---|---|---|")
        for r in diag:
            w("| %s | %d | %d | %s | %s | %s |" % (
                "`%s`" % r["env"]["GLIBC_TUNABLES"] if r.get("env")
                else "glibc defaults", r["n"], r["buffers"],
                fmt(r.get("writer_us_per_buf")),
                fmt(r.get("writer_sys_us_per_buf")),
                fmt(r.get("writer_minflt_per_buf"), 3)))
        w("")
        pairs = []
        for env in (None, True):
            rows = [r for r in diag if bool(r.get("env")) == bool(env)]
            r1 = [r for r in rows if r["n"] == 1]
            r100 = [r for r in rows if r["n"] == 100]
            if r1 and r100 and r1[0].get("writer_us_per_buf"):
                pairs.append(r100[0]["writer_us_per_buf"]
                             / r1[0]["writer_us_per_buf"])
        if len(pairs) == 2:
            w("N = 100 vs N = 1 measured that way: **%.2fx** with glibc's "
              "defaults, **%.2fx** with the raised mmap threshold.\n"
              % tuple(pairs))

    w("### Goals, as ratios from this run\n")
    w("Each ratio is taken within one pass (the two runs it compares were "
      "made a few seconds apart, under the same load from the other work on "
      "the machine); the figure in bold is the median over the %d passes, "
      "every pass's ratio follows.\n" % REPEATS)
    for series in THROUGHPUT_SERIES:
        size, source = series
        lab = SERIES_LABEL[series]
        for system, what in (("fanout-default", "default lag policy"),
                             ("fanout", "lossless (`block`)")):
            rs = paired(th, "writer_us_per_buf", dict(
                size=size, source=source, system=system, n=ns[-1]), dict(
                size=size, source=source, system=system, n=ns[0]))
            if not rs:
                continue
            dN = one(th, size=size, source=source, n=ns[-1], system=system)
            d1 = one(th, size=size, source=source, n=ns[0], system=system)
            tee = ratio(*[one(th, size=size, source=source, n=n,
                              system="tee")["writer_us_per_buf"]
                          for n in (ns[-1], ns[0])])
            w("- %s: writer us/buffer N=%d vs N=%d, %s%s: fanout **%.2fx** "
              "(goal <= 1.3x; %s -> %s us; runs: %s)%s." % (
                  lab, ns[-1], ns[0], what,
                  " (%.1f%% delivered at N=%d)" % (100.0 * dN["delivered"],
                                                   ns[-1])
                  if system == "fanout-default" else "", median(rs),
                  fmt(d1["writer_us_per_buf"]), fmt(dN["writer_us_per_buf"]),
                  ", ".join("%.2fx" % x for x in rs),
                  "; tee+queue %.1fx" % tee
                  if system == "fanout" and tee else ""))
        for n in (10, ns[-1]):
            rs = paired(th, "cpu_us_per_buf_reader", dict(
                size=size, source=source, system="fanout", n=n), dict(
                size=size, source=source, system="tee", n=n))
            if rs:
                w("- %s, N=%d: total CPU per buffer per reader, fanout/tee "
                  "= **%.2fx** (goal <= 0.25x; runs: %s)." % (
                      lab, n, median(rs), ", ".join("%.2fx" % x for x in rs)))
    w("")

    w("## One stalled reader among five, live 1000 buffers/s\n")
    w("`audiotestsrc is-live=true samplesperbuffer=48` (1000 buffers/s) to 5 "
      "`fakesink sync=false`; the 5th is stalled by a blocking pad probe for "
      "the whole %d s window. `fanout` with its defaults (raw audio: every "
      "buffer is a keyframe, `drop-to-keyframe`); stock: `tee` + default "
      "`queue`s. Writer stall = the longest time between two buffers leaving "
      "the source (1 ms nominal). Age = pipeline running time minus buffer "
      "PTS at the fast readers.\n" % res["stalled"][0]["seconds"])
    w("| system | expected | source pushed | fast readers got | longest writer "
      "gap ms | age median ms | age max ms |")
    w("|---|---|---|---|---|---|---|")
    for r in res["stalled"]:
        w("| %s | %d | %d | %s | %.1f | %s | %s |" % (
            r["system"], r["expected"], r["produced"],
            ", ".join(str(c) for c in r["got"]), r["writer_max_gap_ms"],
            fmt(r["age_ms_median"], 1), fmt(r["age_ms_max"], 1)))
    w("")

    rtp = res["rtp"]
    floors = res.get("floor", [])
    w("## RTP to N `udpsink`s (720p30 H.264, ~4 Mbit/s)\n")
    batched = any(r.get("batched") for r in rtp)
    w("A 30 s 1280x720 30 fps clip (played 4 times back to back) "
      "(`videotestsrc pattern=snow`, x264 ultrafast, 4000 kbit/s, GOP 30) is "
      "encoded once, then read with `filesrc ! h264parse ! rtph264pay "
      "mtu=1400 [! payloadbatch]` and sent to N ports on 127.0.0.1 (bound, "
      "unread sockets) as fast as possible, the same chain before all "
      "three. %d RTP packets in %d batches (mean %.0f bytes). `fanout` pads "
      "use `lag-policy=block`, with the default `capacity` (1024 items) and "
      "with `capacity=128`. CPU = the process's user+sys (it includes "
      "parsing and payloading, the same in all three: *head* is that chain "
      "into a `fakesink`, per packet).\n" % (
          meta.get("rtp_packets", 0), meta.get("rtp_batches", 0),
          meta.get("rtp_mean_size", 0)))
    w("*Kernel floor*: `udp-floor` (tests/bench/fanout/udp_floor.c) replays "
      "the same packets (sizes and batches recorded at payloadbatch's "
      "output) from one thread to N bound, unread sockets on 127.0.0.1 with "
      "nothing but `sendmmsg`: one call per frame per destination "
      "(payloadbatch rows) or one per packet per destination (single "
      "packets). No parsing, no payloading, no GStreamer: the system calls "
      "every system here has to make, and the loopback delivery they "
      "trigger (charged to the sender).\n")
    if not batched:
        w("`payloadbatch` was not available in this build: no batching.\n")
    w("| before the fan-out | N | head us/pkt | fanout us/pkt/dest | fanout "
      "capacity=128 | tee+queue+udpsink | multiudpsink | kernel floor | "
      "least possible (head/N + batched floor) | fanout/multiudpsink | "
      "fanout/tee | "
      "0.3 x tee | peak RSS MB fanout / c128 / tee / multiudpsink |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for b in (True, False):
        head = one(rtp, system="head", batched=b)
        for n in sorted({r["n"] for r in rtp if r["n"]}):
            head = dict(head, n=n) if head else None
            v = {}
            rss = {}
            for system in ("fanout", "fanout-c128", "tee", "multiudpsink"):
                r = one(rtp, n=n, system=system, batched=b)
                if r:
                    v[system] = rtp_us(r)
                    rss[system] = r["rss_mb"]
            if len(v) < 4:
                continue
            fl = one(floors, n=n, mode="frame" if b else "single")
            flv = fl["us_per_pkt_dest"] if fl else None
            # any system could batch: the cheapest floor measured at this N
            flb = one(floors, n=n, mode="frame")
            least = (rtp_us(head) + flb["us_per_pkt_dest"]) \
                if head and flb else None
            w("| %s | %d | %s | %.2f | %.2f | %.2f | %.2f | %s | %s | "
              "**%.2fx** (goal <= 1.5x) | **%.2fx** (goal <= 0.3x) | %s | "
              "%.0f / %.0f / %.0f / %.0f |" % (
                  "payloadbatch" if b else "single packets", n,
                  fmt(rtp_us(dict(head, n=1))) if head else "-",
                  v["fanout"], v["fanout-c128"], v["tee"], v["multiudpsink"],
                  fmt(flv), fmt(least), v["fanout"] / v["multiudpsink"],
                  v["fanout"] / v["tee"],
                  "%.2f (%s the least possible)" % (
                      0.3 * v["tee"],
                      "below" if 0.3 * v["tee"] < least else "above")
                  if least else "%.2f" % (0.3 * v["tee"]),
                  rss["fanout"], rss["fanout-c128"], rss["tee"],
                  rss["multiudpsink"]))
    w("")
    w("![RTP CPU per packet per destination](fanout-rtp.png)\n")

    w("### Above the floor: user and system time, us per packet per "
      "destination\n")
    w("Each system's CPU minus the head's (parsing and payloading, paid "
      "once whatever N), split into user and system time, beside the "
      "floor's; *excess* = what the system pays beyond the floor.\n")
    for fl in pick(floors, mode="all"):
        fr = one(floors, n=fl["n"], mode="frame")
        w("Batching harder does not lower the floor: one `sendmmsg` for "
          "every destination at once (multiudpsink's pattern, %d calls "
          "instead of %d at N = %d) cost %.2f us/pkt/dest against %s for one "
          "call per frame per destination.\n" % (
              fl["calls"], fr["calls"] if fr else 0, fl["n"],
              fl["us_per_pkt_dest"],
              fmt(fr["us_per_pkt_dest"]) if fr else "-"))
    w("| before the fan-out | N | system | user | sys | floor user | floor "
      "sys | excess user | excess sys |")
    w("|---|---|---|---|---|---|---|---|---|")
    for b in (True, False):
        head = one(rtp, system="head", batched=b)
        for n in sorted({r["n"] for r in rtp if r["n"] and r["n"] > 1}):
            fl = one(floors, n=n, mode="frame" if b else "single")
            if not head or not fl:
                continue
            fu = fl["user_s"] * 1e6 / (fl["packets"] * n)
            fs = fl["sys_s"] * 1e6 / (fl["packets"] * n)
            for system in ("fanout", "tee", "multiudpsink"):
                r = one(rtp, n=n, system=system, batched=b)
                if not r or "user_s" not in r:
                    continue
                u = (r["user_s"] - head["user_s"]) * 1e6 / (r["packets"] * n)
                sy = (r["sys_s"] - head["sys_s"]) * 1e6 / (r["packets"] * n)
                w("| %s | %d | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |"
                  % ("payloadbatch" if b else "single packets", n,
                     {"tee": "tee+queue+udpsink"}.get(system, system), u, sy,
                     fu, fs, u - fu, sy - fs))
    w("")
    # Hand-written notes after the marker survive a re-run.
    path = os.path.join(DOCS, "fanout.md")
    notes = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if NOTES_MARK in old:
            notes = old[old.index(NOTES_MARK):]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n" + (notes or NOTES_MARK + "\n"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
