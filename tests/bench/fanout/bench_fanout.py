#!/usr/bin/python3
# gst-fanout
# Copyright (C) 2026 the gst-fanout authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""fanout vs the stock ways, in one run.

  /usr/bin/python3 tests/bench/fanout/bench_fanout.py [--builddir build] [--quick]

Each measurement runs in its own process (clean RSS and counters). Writes
docs/benchmarks/fanout.md, docs/benchmarks/fanout-*.png and the raw figures
to docs/benchmarks/fanout-results.json.

Parts:
  throughput  fakesrc (1400 / 460800-byte buffers) -> N readers, fakesink
              sync=false: fanout (every pad lag-policy=block: lossless) vs
              tee + queue per branch. Total CPU us per buffer per reader,
              writer-thread CPU us per buffer, context switches, peak RSS,
              threads.
  stalled     live 1000 buffers/s (audiotestsrc, 48 samples at 48 kHz), 5
              readers, one stalled by a blocking probe: buffers each reader
              got, writer stall (longest gap between two source pushes),
              age of data at the fast readers.
  rtp         720p30 H.264 (pre-encoded once) -> rtph264pay [! payloadbatch]
              -> N udpsinks on 127.0.0.1: fanout vs tee+queue+udpsink vs
              multiudpsink. CPU us per packet per destination.
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


def cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_nvcsw + ru.ru_nivcsw


def one_throughput(Gst, cfg):
    n, size, nbuf, system = cfg["n"], cfg["size"], cfg["buffers"], cfg["system"]
    src = ("fakesrc name=src num-buffers=%d sizetype=fixed sizemax=%d "
           "filltype=nothing" % (nbuf, size))
    if system.startswith("fanout"):
        # "fanout": lossless (block), "fanout-default": default lag policy
        props = " ".join("src_%d::lag-policy=block" % i for i in range(n)) \
            if system == "fanout" else ""
        desc = "%s ! fanout name=f %s %s" % (src, props, " ".join(
            "f. ! fakesink sync=false async=false" for _ in range(n)))
    else:
        desc = "%s ! tee name=t %s" % (src, " ".join(
            "t. ! queue ! fakesink sync=false async=false" for _ in range(n)))
    pipe = Gst.parse_launch(desc)
    srcpad = pipe.get_by_name("src").get_static_pad("src")
    writer = {}

    def first(pad, info):
        import threading
        tid = threading.get_native_id()
        writer["tid"] = tid
        writer["cpu0"] = thread_cpu_ns(tid)
        return Gst.PadProbeReturn.REMOVE

    srcpad.add_probe(Gst.PadProbeType.BUFFER, first)
    c0, cs0 = cpu_s()
    t0 = time.monotonic()
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(
        300 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    t1 = time.monotonic()
    c1, cs1 = cpu_s()
    wcpu = thread_cpu_ns(writer["tid"]) if "tid" in writer else None
    threads = proc_status("Threads")
    delivered = 1.0
    if system.startswith("fanout"):
        st = pipe.get_by_name("f").get_property("stats")
        pushed = sum(st.get_value("src_%d" % i).get_value("pushed")
                     for i in range(n))
        delivered = pushed / float(nbuf * n)
    ok = msg is not None and msg.type == Gst.MessageType.EOS
    pipe.set_state(Gst.State.NULL)
    res = dict(cfg)
    res.update(ok=ok, wall_s=t1 - t0, delivered=delivered,
               cpu_us_per_buf_reader=(c1 - c0) * 1e6 / (nbuf * n),
               writer_us_per_buf=((wcpu - writer["cpu0"]) / 1e3 / nbuf)
               if wcpu is not None and writer.get("cpu0") is not None else None,
               ctxsw_per_buf=(cs1 - cs0) / nbuf,
               rss_mb=proc_status("VmHWM") / 1024.0, threads=threads)
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
    batch = (" ! payloadbatch" if want_batch
             and Gst.ElementFactory.find("payloadbatch") else "")
    return ("filesrc location=%s ! h264parse ! rtph264pay config-interval=-1 "
            "mtu=1400 pt=96 name=pay%s" % (clip, batch)), bool(batch)


def one_rtp_count(Gst, cfg):
    clip = rtp_clip(Gst)
    head, _ = rtp_head(Gst, clip)
    pipe = Gst.parse_launch(head + " ! fakesink sync=false")
    count = [0]

    def on(pad, info):
        count[0] += 1
        return Gst.PadProbeReturn.OK

    def on_list(pad, info):
        count[0] += info.get_buffer_list().length()
        return Gst.PadProbeReturn.OK

    pay = pipe.get_by_name("pay").get_static_pad("src")
    pay.add_probe(Gst.PadProbeType.BUFFER, on)
    pay.add_probe(Gst.PadProbeType.BUFFER_LIST, on_list)
    pipe.set_state(Gst.State.PLAYING)
    pipe.get_bus().timed_pop_filtered(
        300 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    return dict(cfg, packets=count[0])


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
    elif system == "tee":
        desc = "%s ! tee name=t %s" % (head, " ".join(
            "t. ! queue ! udpsink host=127.0.0.1 port=%d sync=false "
            "async=false" % p for p in ports))
    else:
        desc = "%s ! multiudpsink clients=%s sync=false async=false" % (
            head, ",".join("127.0.0.1:%d" % p for p in ports))
    pipe = Gst.parse_launch(desc)
    c0, cs0 = cpu_s()
    t0 = time.monotonic()
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(
        300 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    t1 = time.monotonic()
    c1, cs1 = cpu_s()
    ok = msg is not None and msg.type == Gst.MessageType.EOS
    pipe.set_state(Gst.State.NULL)
    for s in socks:
        s.close()
    return dict(cfg, ok=ok, batched=batched, wall_s=t1 - t0, cpu_s=c1 - c0,
                ctxsw=cs1 - cs0, rss_mb=proc_status("VmHWM") / 1024.0)


def child(cfg):
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    fn = {"throughput": one_throughput, "stalled": one_stalled,
          "rtp": one_rtp, "rtp-count": one_rtp_count}[cfg["kind"]]
    print(json.dumps(fn(Gst, cfg)))


# ------------------------------------------------------------ the driver
def run_child(cfg, env):
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)],
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-2000:])
        raise SystemExit("benchmark child failed: %s" % cfg)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    sys.stderr.write("  %s\n" % json.dumps(res))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default="build")
    ap.add_argument("--quick", action="store_true",
                    help="fewer points (N = 1, 10, 100) for a fast check")
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return

    builddir = os.path.join(TOP, args.builddir)
    env = dict(os.environ)
    env["GST_PLUGIN_PATH_1_0"] = (os.path.join(builddir, "plugins", "fanout")
                                  + ":/usr/lib/x86_64-linux-gnu/gstreamer-1.0")
    env["GST_PLUGIN_SYSTEM_PATH_1_0"] = ""
    env["GST_REGISTRY_1_0"] = os.path.join(CACHE, "registry.bin")
    os.makedirs(CACHE, exist_ok=True)
    started = time.monotonic()

    ns = [1, 10, 100] if args.quick else [1, 2, 5, 10, 20, 50, 100]
    results = {"throughput": [], "stalled": [], "rtp": [], "meta": {}}
    for size in (1400, 460800):
        for n in ns:
            if size == 1400:
                nbuf = max(20000, min(200000, 2000000 // n))
            else:
                nbuf = max(2000, min(20000, 200000 // n))
            for system in ("fanout", "fanout-default", "tee"):
                results["throughput"].append(run_child(dict(
                    kind="throughput", system=system, n=n, size=size,
                    buffers=nbuf), env))
    for system in ("fanout", "tee"):
        results["stalled"].append(run_child(dict(
            kind="stalled", system=system, seconds=3), env))
    count = run_child(dict(kind="rtp-count"), env)
    for batch in (True, False):
        for n in ([1, 10, 50] if not args.quick else [1, 10]):
            for system in ("fanout", "fanout-c128", "tee", "multiudpsink"):
                r = run_child(dict(kind="rtp", system=system, n=n,
                                   batch=batch), env)
                r["packets"] = count["packets"]
                results["rtp"].append(r)
    results["meta"] = dict(
        seconds=time.monotonic() - started, cores=os.cpu_count(),
        command="/usr/bin/python3 tests/bench/fanout/bench_fanout.py "
        "--builddir %s%s" % (args.builddir, " --quick" if args.quick else ""))
    os.makedirs(DOCS, exist_ok=True)
    with open(os.path.join(DOCS, "fanout-results.json"), "w") as f:
        json.dump(results, f, indent=1)
    report(results)


# ------------------------------------------------------------ the report
def pick(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


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
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for size, ls in ((1400, "-"), (460800, "--")):
            for system, color in (("fanout", "tab:blue"),
                                  ("fanout-default", "tab:cyan"),
                                  ("tee", "tab:red")):
                rows = sorted(pick(th, size=size, system=system),
                              key=lambda r: r["n"])
                ax.plot([r["n"] for r in rows], [r[key] for r in rows],
                        ls, color=color, marker="o",
                        label="%s, %d B" % ({
                            "fanout": "fanout (block, lossless)",
                            "fanout-default": "fanout (default policy)",
                            "tee": "tee + queue"}[system], size))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("readers (N)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(DOCS, fname), dpi=100)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for system, color in (("fanout", "tab:blue"), ("fanout-c128", "tab:cyan"),
                          ("tee", "tab:red"), ("multiudpsink", "tab:green")):
        for batched, ls in ((True, "-"), (False, "--")):
            rows = sorted(pick(res["rtp"], system=system, batched=batched),
                          key=lambda r: r["n"])
            if not rows:
                continue
            ax.plot([r["n"] for r in rows],
                    [r["cpu_s"] * 1e6 / (r["packets"] * r["n"]) for r in rows],
                    ls, marker="o", color=color,
                    label={"fanout-c128": "fanout capacity=128",
                           "tee": "tee + queue + udpsink"}.get(system, system) + (", payloadbatch" if batched
                                                else ", single packets"))
    ax.set_xscale("log")
    ax.set_xlabel("destinations (N)")
    ax.set_ylabel("CPU us per packet per destination")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(DOCS, "fanout-rtp.png"), dpi=100)
    plt.close(fig)


def fmt(v, d=2):
    return "-" if v is None else ("%.*f" % (d, v))


def report(res):
    plots(res)
    th = res["throughput"]
    lines = []
    w = lines.append
    w("# `fanout` benchmark\n")
    w("Generated by `%s` (%.0f s for the whole run) on the team machine: "
      "%d cores, shared with other helpers' builds and tests while it ran, so "
      "absolute figures are noisy; the ratios measured in the same run are "
      "what matters. Raw figures: `fanout-results.json`.\n"
      % (res["meta"]["command"], res["meta"]["seconds"], res["meta"]["cores"]))
    w("## Throughput: one writer, N readers (`fakesink sync=false`)\n")
    w("`fakesrc` pushes fixed-size buffers as fast as it can. `fanout`: every "
      "pad `lag-policy=block` (lossless, like `tee ! queue`); stock: `tee` + "
      "a default `queue` per branch; and `fanout` with its default lag policy "
      "(readers that cannot keep up with a source this fast are lapped: the "
      "*delivered* column is the share of buffers the readers pushed). Writer = the source's streaming thread "
      "(CPU from `/proc/self/task/TID/schedstat`, it includes fakesrc's own "
      "allocation); total CPU = the process's user+sys over the run.\n")
    w("| size | N | buffers | fanout writer us/buf | tee writer us/buf | "
      "fanout CPU us/buf/reader | tee CPU us/buf/reader | fanout ctxsw/buf | "
      "tee ctxsw/buf | fanout RSS MB | tee RSS MB | fanout threads | "
      "tee threads | default-policy fanout: writer us/buf | delivered |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size in (1400, 460800):
        for n in sorted({r["n"] for r in th}):
            f = pick(th, size=size, n=n, system="fanout")
            t = pick(th, size=size, n=n, system="tee")
            d = pick(th, size=size, n=n, system="fanout-default")
            if not f or not t or not d:
                continue
            f, t, d = f[0], t[0], d[0]
            w("| %d | %d | %d | %s | %s | %s | %s | %s | %s | %.0f | %.0f | "
              "%d | %d | %s | %.1f%% |" % (
                  size, n, f["buffers"], fmt(f["writer_us_per_buf"]),
                            fmt(t["writer_us_per_buf"]),
                            fmt(f["cpu_us_per_buf_reader"]),
                            fmt(t["cpu_us_per_buf_reader"]),
                            fmt(f["ctxsw_per_buf"]), fmt(t["ctxsw_per_buf"]),
                            f["rss_mb"], t["rss_mb"], f["threads"],
                            t["threads"], fmt(d["writer_us_per_buf"]),
                            100.0 * d["delivered"]))
    w("")
    w("![writer CPU per buffer](fanout-writer.png)\n")
    w("![total CPU per buffer per reader](fanout-cpu.png)\n")

    w("### Goals, as ratios from this run\n")
    ns = sorted({r["n"] for r in th})
    for size in (1400, 460800):
        f1 = pick(th, size=size, n=ns[0], system="fanout")[0]
        fN = pick(th, size=size, n=ns[-1], system="fanout")[0]
        t1 = pick(th, size=size, n=ns[0], system="tee")[0]
        tN = pick(th, size=size, n=ns[-1], system="tee")[0]
        d1 = pick(th, size=size, n=ns[0], system="fanout-default")[0]
        dN = pick(th, size=size, n=ns[-1], system="fanout-default")[0]
        if d1["writer_us_per_buf"]:
            w("- %d B: writer us/buffer N=%d vs N=%d with the default lag "
              "policy (lossy, %.1f%% delivered at N=%d): fanout **%.2fx** "
              "(goal <= 1.3x)." % (
                  size, ns[-1], ns[0], 100.0 * dN["delivered"], ns[-1],
                  dN["writer_us_per_buf"] / d1["writer_us_per_buf"]))
        if f1["writer_us_per_buf"] and t1["writer_us_per_buf"]:
            w("- %d B: writer us/buffer N=%d vs N=%d, lossless (`block`): "
              "fanout **%.2fx** (goal <= 1.3x), tee+queue %.1fx." % (
                  size, ns[-1], ns[0],
                  fN["writer_us_per_buf"] / f1["writer_us_per_buf"],
                  tN["writer_us_per_buf"] / t1["writer_us_per_buf"]))
        for n in (10, 100):
            f = pick(th, size=size, n=n, system="fanout")
            t = pick(th, size=size, n=n, system="tee")
            if f and t:
                w("- %d B, N=%d: total CPU per buffer per reader, fanout/tee "
                  "= **%.2fx** (goal <= 0.25x)." % (
                      size, n, f[0]["cpu_us_per_buf_reader"]
                      / t[0]["cpu_us_per_buf_reader"]))
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
    w("## RTP to N `udpsink`s (720p30 H.264, ~4 Mbit/s)\n")
    batched = rtp[0]["batched"] if rtp else False
    w("A 30 s 1280x720 30 fps clip (played 4 times back to back) (`videotestsrc pattern=snow`, x264 "
      "ultrafast, 4000 kbit/s, GOP 30) is encoded once, then read with "
      "`filesrc ! h264parse ! rtph264pay mtu=1400 [! payloadbatch]` and sent "
      "to N ports on 127.0.0.1 (bound, unread sockets) as fast as possible, "
      "the same chain before all three. %d RTP packets. `fanout` pads use "
      "`lag-policy=block`, with the default `capacity` (1024 items) and with "
      "`capacity=128`. CPU = the process's user+sys (it includes parsing "
      "and payloading, the same in all three).\n" % (
          rtp[0]["packets"] if rtp else 0))
    if not batched:
        w("`payloadbatch` was not available in this build: no batching.\n")
    w("| before the fan-out | N | fanout us/pkt/dest | fanout capacity=128 | "
      "tee+queue+udpsink us/pkt/dest | multiudpsink us/pkt/dest | "
      "fanout/multiudpsink | fanout/tee | peak RSS MB fanout / c128 / tee / "
      "multiudpsink |")
    w("|---|---|---|---|---|---|---|---|---|")
    for b in (True, False):
        for n in sorted({r["n"] for r in rtp}):
            v = {}
            rss = {}
            for system in ("fanout", "fanout-c128", "tee", "multiudpsink"):
                r = pick(rtp, n=n, system=system, batched=b)
                if r:
                    v[system] = r[0]["cpu_s"] * 1e6 / (r[0]["packets"] * n)
                    rss[system] = r[0]["rss_mb"]
            if len(v) < 4:
                continue
            w("| %s | %d | %.2f | %.2f | %.2f | %.2f | **%.2fx** (goal <= 1.5x) "
              "| **%.2fx** (goal <= 0.3x) | %.0f / %.0f / %.0f / %.0f |" % (
                  "payloadbatch" if b else "single packets", n, v["fanout"],
                  v["fanout-c128"], v["tee"], v["multiudpsink"],
                  v["fanout"] / v["multiudpsink"], v["fanout"] / v["tee"],
                  rss["fanout"], rss["fanout-c128"], rss["tee"],
                  rss["multiudpsink"]))
    w("")
    w("![RTP CPU per packet per destination](fanout-rtp.png)\n")
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
