#!/usr/bin/python3
# gst-fanout
# Copyright (C) 2026 the gst-fanout authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Server benchmark: fanout-rtsp-server (shared and isolated modes) against a
stock gst-rtsp-server shared media (stock-rtsp-server, a test-launch
equivalent), same source: 720p30 H.264 (x264enc ultrafast zerolatency,
2000 kbit/s), GOP 2 s, moving SMPTE pattern with two text overlays.

For each server, transport (udp, tcp) and client count N, N `ffmpeg -c copy`
clients play for a fixed media duration; we record the server's CPU (from
/proc/PID/stat over the window), RSS, threads and each client's frames.
One anchor client stays connected for the whole run of a server, so N
counts the clients beside it. Join latency (PLAY to the first decoded frame, a GStreamer client with
avdec_h264 output-corrupt=false) is measured with 10 background clients.

  /usr/bin/python3 tests/bench/server/bench_server.py BUILDDIR [--clients 1,10,50]

Writes docs/benchmarks/server.json and docs/benchmarks/server.png.
"""

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HZ = os.sysconf("SC_CLK_TCK")
FPS = 30
SOURCE = ("videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
          "! video/x-raw,format=I420,width=1280,height=720,framerate=30/1 "
          "! timeoverlay halignment=left valignment=bottom font-desc=\"Sans 20\" "
          "! clockoverlay halignment=right valignment=top font-desc=\"Sans 20\" "
          "time-format=\"%H:%M:%S\"")
# The encoder settings fanout-rtsp-server uses (server/fanoutserver.cpp,
# encoder_chain): the same stream from both servers.
ENCODE = ("x264enc tune=zerolatency speed-preset=ultrafast bitrate=2000 "
          "aud=false key-int-max=60 ! video/x-h264,profile=baseline "
          "! h264parse config-interval=-1")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return int(out["VmRSS"].split()[0]) / 1024.0, int(out["Threads"])


class Server:
    def __init__(self, kind, build):
        self.kind = kind
        self.port = free_port()
        env = dict(os.environ)
        env["GST_PLUGIN_PATH"] = os.path.join(build, "plugins", "fanout")
        if kind == "stock":
            cmd = [os.path.join(build, "tests", "bench", "server", "stock-rtsp-server"),
                   "--port", str(self.port),
                   f"( {SOURCE} ! {ENCODE} ! rtph264pay name=pay0 pt=96 config-interval=-1 )"]
        else:
            # isolated-nogso: isolated without UDP segmentation offload (to
            # compare in the same run)
            if kind == "isolated-nogso":
                env["FANOUT_UDP_GSO"] = "0"
            cmd = [os.path.join(build, "server", "fanout-rtsp-server"), "--quiet",
                   "--address", "127.0.0.1", "--port", str(self.port),
                   "--mode", kind.split("-")[0], "--source", "cam=test:1280x720@30",
                   "--mount", "/live=cam,codec=h264,gop=2,bitrate=2000"]
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env, text=True)
        for line in self.p.stdout:
            if line.startswith("Serving "):
                break
        else:
            raise RuntimeError(f"{kind} server did not start")
        self.url = f"rtsp://127.0.0.1:{self.port}/live"
        threading.Thread(target=self.p.stdout.read, daemon=True).start()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def start_client(url, transport, seconds, progress):
    return subprocess.Popen(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", transport,
         "-i", url, "-t", str(seconds), "-c", "copy", "-copyinkf", "-f", "null", "-",
         "-progress", progress],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def last_frames(progress):
    return last_progress(progress)[0]


def last_progress(progress):
    """(frames, media seconds) of the last progress block."""
    try:
        with open(progress) as f:
            text = f.read()
    except OSError:
        return 0, 0.0
    frames = re.findall(r"^frame=(\d+)", text, re.M)
    times = re.findall(r"^out_time_us=(\d+)", text, re.M)
    return (int(frames[-1]) if frames else 0,
            int(times[-1]) / 1e6 if times else 0.0)


def run_light_clients(server, transport, n, seconds, build):
    """N sessions of rtsp-load (one process, epoll; a few % of a core for
    200 clients, where 200 ffmpeg need ~3 cores): CPU over its counting
    window, delivery = frames (RTP marker packets) / frames the RTP
    timestamp span covers, per client."""
    u = urllib.parse.urlsplit(server.url)
    p = subprocess.Popen(
        [os.path.join(build, "tests", "bench", "server", "rtsp-load"),
         u.hostname, str(u.port), u.path, str(n), transport, str(seconds)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready = p.stdout.readline().split()
    failed = n - int(ready[1]) if len(ready) == 2 and ready[0] == "ready" else n
    time.sleep(1.0)  # rtsp-load settles 1 s before counting
    c0, w0 = proc_cpu(server.p.pid), time.time()
    time.sleep(seconds)
    c1, w1 = proc_cpu(server.p.pid), time.time()
    rss, threads = proc_status(server.p.pid)
    try:
        out, _ = p.communicate(timeout=180)
    except subprocess.TimeoutExpired:  # never hang the run: count it as lost
        p.kill()
        out, _ = p.communicate()
        print(f"  warning: rtsp-load {transport} {n} did not end in time", flush=True)
    delivery, lost, packets = [], 0, 0
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "client":
            frames, expected = int(f[3]), int(f[5])
            delivery.append(min(1.0, frames / expected) if expected else 0.0)
            packets += int(f[7])
            lost += int(f[9]) if len(f) > 9 and f[8] == "lost" else 0
    if failed:
        print(f"  warning: {failed} of {n} sessions did not start", flush=True)
    return {"cpu": (c1 - c0) / (w1 - w0), "rss_mb": rss, "threads": threads,
            "active": n - failed, "delivery": delivery or [0.0],
            "packets": packets, "lost": lost}


def run_clients(server, transport, n, seconds, tmp):
    """N clients for `seconds` of media each; CPU over the steady window."""
    progs = [os.path.join(tmp, f"p{i}.txt") for i in range(n)]
    for pth in progs:
        if os.path.exists(pth):
            os.unlink(pth)
    clients = [start_client(server.url, transport, seconds, progs[i]) for i in range(n)]
    # steady state: every client has frames
    t_end = time.time() + 30
    while time.time() < t_end and min(last_frames(p) for p in progs) == 0:
        time.sleep(0.2)
    c0, w0 = proc_cpu(server.p.pid), time.time()
    time.sleep(max(1.0, seconds - 3.0))
    c1, w1 = proc_cpu(server.p.pid), time.time()
    rss, threads = proc_status(server.p.pid)
    # clients still playing at the end of the window: with many clients and
    # a short --seconds the first ones can end before the last ones start
    active = sum(1 for c in clients if c.poll() is None)
    if active < n:
        print(f"  warning: only {active} of {n} clients were still playing at the "
              f"end of the CPU window: use a longer --seconds", flush=True)
    deadline = time.time() + seconds + 30  # one deadline for all of them
    for c in clients:
        try:
            c.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            c.kill()
            c.wait()
    # Delivery: frames received over frames in the media time they span
    # (a lost frame leaves a gap in time; scheduling does not count).
    delivery = []
    for p in progs:
        f, t = last_progress(p)
        delivery.append(min(1.0, f / (t * FPS + 1)) if t > 0 else 0.0)
    return {
        "cpu": (c1 - c0) / (w1 - w0),
        "rss_mb": rss,
        "threads": threads,
        "active": active,
        "delivery": delivery,
    }


JOIN_SCRIPT = r"""
import sys, time, gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import Gst, GstRtsp
Gst.init(None)
url, transport = sys.argv[1], sys.argv[2]
p = Gst.parse_launch(f"rtspsrc name=src location={url} protocols={transport} latency=0 "
                     "! rtph264depay ! h264parse ! avdec_h264 output-corrupt=false "
                     "! fakesink name=sink sync=false")
t = {}
def before_send(src, msg):
    try:
        r = msg.parse_request()
        if r[1] == GstRtsp.RTSPMethod.PLAY:
            t["play"] = time.monotonic()
    except Exception:
        pass
    return True
p.get_by_name("src").connect("before-send", before_send)
def probe(pad, info):
    if "first" not in t:
        t["first"] = time.monotonic()
    return Gst.PadProbeReturn.OK
p.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)
p.set_state(Gst.State.PLAYING)
end = time.monotonic() + 15
while "first" not in t and time.monotonic() < end:
    time.sleep(0.005)
p.set_state(Gst.State.NULL)
if "first" in t and "play" in t:
    print((t["first"] - t["play"]) * 1000.0, t["play"])
"""


def join_script(tmp):
    script = os.path.join(tmp, "join.py")
    with open(script, "w") as f:
        f.write(JOIN_SCRIPT)
    return script


def parse_join(stdout):
    """(latency ms, PLAY time on CLOCK_MONOTONIC) or None."""
    try:
        ms, play = stdout.strip().splitlines()[-1].split()
        return float(ms), float(play)
    except (ValueError, IndexError):
        return None


def join_latencies(server, count, tmp):
    """count joins one after another, each at a random point of the GOP.
    Returns [{"ms", "gap_ms"}]: gap_ms is the time since the previous
    join's PLAY (fanout-rtsp-server asks for at most one keyframe per
    500 ms, so joins closer than that share one)."""
    script = join_script(tmp)
    out = []
    last_play = None
    for i in range(count):
        time.sleep(random.uniform(0.1, 2.0))  # a random point in the GOP
        r = subprocess.run(["/usr/bin/python3", script, server.url,
                            "tcp" if i % 2 else "udp"],
                           capture_output=True, text=True, timeout=60)
        j = parse_join(r.stdout)
        if j:
            gap = (j[1] - last_play) * 1000.0 if last_play is not None else None
            out.append({"ms": j[0], "gap_ms": gap})
            last_play = j[1]
    return out


def burst_joins(server, count, tmp):
    """count clients started together (one burst): latencies in ms."""
    script = join_script(tmp)
    procs = [subprocess.Popen(["/usr/bin/python3", script, server.url,
                               "tcp" if i % 2 else "udp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True) for i in range(count)]
    out = []
    for p in procs:
        o, _ = p.communicate(timeout=60)
        j = parse_join(o)
        if j:
            out.append(j[0])
    return out


def join_ms(r, close=None):
    """Join latencies of a result; close=False: only joins at least 500 ms
    after the previous one, close=True: only those closer."""
    js = r["join_ms"]
    if js and isinstance(js[0], (int, float)):  # results of older runs
        return list(js) if close is None else []
    if close is None:
        return [j["ms"] for j in js]
    return [j["ms"] for j in js
            if (j["gap_ms"] is not None and j["gap_ms"] < 500) == close]


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p * len(v) + 0.5)) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--clients", default="1,10,50")
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--light", action="store_true",
                    help="clients are rtsp-load sessions (one light process) "
                    "instead of ffmpeg processes: for 100-200 clients")
    ap.add_argument("--joins", type=int, default=30)
    ap.add_argument("--burst", type=int, default=4,
                    help="clients joining at the same moment, after the joins")
    ap.add_argument("--kinds", default="stock,shared,isolated")
    ap.add_argument("--out", default="docs/benchmarks")
    ap.add_argument("--summary", action="store_true",
                    help="only print the table of an existing server.json")
    ap.add_argument("--replot", metavar="JSON",
                    help="only draw JSON's plot again (next to it, .png)")
    args = ap.parse_args()
    if args.replot:
        with open(args.replot) as f:
            res = json.load(f)
        for r in res["servers"].values():
            for t in ("udp", "tcp"):
                r[t] = {int(k): v for k, v in r[t].items()}
        plot(res, os.path.splitext(args.replot)[0] + ".png")
        return 0
    if args.summary:
        with open(os.path.join(args.out, "server.json")) as f:
            summary(json.load(f))
        return 0
    counts = [int(x) for x in args.clients.split(",")]
    results = {"counts": counts, "seconds": args.seconds, "servers": {}}
    tmp = tempfile.mkdtemp(prefix="fanout-bench-")
    for kind in args.kinds.split(","):
        srv = Server(kind, args.build)
        try:
            # fanout-rtsp-server pauses an encoder 5 s after its last
            # client (--idle-pause): idle is measured after that.
            time.sleep(7)
            c0, w0 = proc_cpu(srv.p.pid), time.time()
            time.sleep(3)
            idle_cpu = (proc_cpu(srv.p.pid) - c0) / (time.time() - w0)
            idle_rss, idle_threads = proc_status(srv.p.pid)
            r = {"idle": {"cpu": idle_cpu, "rss_mb": idle_rss, "threads": idle_threads}}
            # One anchor client stays connected throughout (a constant
            # audience): a shared media is then never torn down between runs.
            anchor = start_client(srv.url, "tcp", 3600, os.path.join(tmp, "anchor.txt"))
            time.sleep(2)
            for transport in ("udp", "tcp"):
                r[transport] = {}
                for n in counts:
                    m = (run_light_clients(srv, transport, n, args.seconds, args.build)
                         if args.light else run_clients(srv, transport, n, args.seconds, tmp))
                    r[transport][n] = m
                    ok99 = sum(1 for d in m["delivery"] if d >= 0.99)
                    print(f"{kind:8s} {transport} {n:4d} clients: cpu {m['cpu']:.3f} "
                          f"rss {m['rss_mb']:.1f} MB threads {m['threads']} "
                          f"delivery min {min(m['delivery']):.3f} "
                          f"mean {sum(m['delivery']) / n:.3f} >=99%: {ok99}/{n}"
                          + (f" lost packets {m['lost']}/{m['packets']}"
                             if "lost" in m else ""), flush=True)
                    time.sleep(1)
            # join latency with 10 clients connected
            bg = [start_client(srv.url, "udp", 600, os.path.join(tmp, f"bg{i}.txt"))
                  for i in range(10)]
            time.sleep(3)
            r["join_ms"] = join_latencies(srv, args.joins, tmp)
            time.sleep(1)
            r["burst_ms"] = burst_joins(srv, args.burst, tmp) if args.burst else []
            for c in bg + [anchor]:
                c.kill()
                c.wait()
            joins = join_ms(r)
            print(f"{kind:8s} join p50 {pct(joins, 0.5):.0f} ms p95 {pct(joins, 0.95):.0f} ms "
                  f"({len(joins)} joins; {len(join_ms(r, True))} within 500 ms of the "
                  f"previous); burst of {args.burst}: {sorted(round(x) for x in r['burst_ms'])}",
                  flush=True)
            results["servers"][kind] = r
        finally:
            srv.stop()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "server.json"), "w") as f:
        json.dump(results, f, indent=1)
    plot(results, os.path.join(args.out, "server.png"))
    summary(results)


def marginal(r, transport, key, counts):
    """Least-squares slope of key over the client counts (per client)."""
    ys = [r[transport][n][key] for n in counts]
    mx, my = sum(counts) / len(counts), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in counts)
    return sum((x - mx) * (y - my) for x, y in zip(counts, ys)) / den if den else 0.0


def summary(results):
    counts = results["counts"]
    for r in results["servers"].values():  # JSON keys are strings
        for t in ("udp", "tcp"):
            r[t] = {int(k): v for k, v in r[t].items()}
    print("\n| server | transport | " + " | ".join(f"CPU @{n}" for n in counts) +
          " | marginal CPU/client | marginal RSS/client (MB) | threads/client | min delivery | join p50/p95 (ms) |")
    print("|---|---|" + "---|" * len(counts) + "---|---|---|---|---|")
    for kind, r in results["servers"].items():
        for t in ("udp", "tcp"):
            cpus = " | ".join(f"{r[t][n]['cpu']:.3f}" for n in counts)
            mind = min(min(r[t][n]["delivery"]) for n in counts)
            print(f"| {kind} | {t} | {cpus} | {marginal(r, t, 'cpu', counts):.4f} | "
                  f"{marginal(r, t, 'rss_mb', counts):.3f} | "
                  f"{marginal(r, t, 'threads', counts):.1f} | {mind:.3f} | "
                  f"{pct(join_ms(r), 0.5):.0f} / {pct(join_ms(r), 0.95):.0f} |")
    print("\n| server | idle CPU (cores) | idle RSS (MB) | idle threads | joins | "
          "p50 / p95 / max (ms) | joins >= 500 ms apart: p50 / p95 / max | "
          "closer joins (ms) | burst (ms) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, r in results["servers"].items():
        a, far, close = join_ms(r), join_ms(r, False), join_ms(r, True)
        idle = r.get("idle", {})

        def three(v):
            return (f"{pct(v, 0.5):.0f} / {pct(v, 0.95):.0f} / {max(v):.0f}"
                    if v else "-")
        print(f"| {kind} | {idle.get('cpu', float('nan')):.3f} | "
              f"{idle.get('rss_mb', float('nan')):.1f} | {idle.get('threads', '-')} | "
              f"{len(a)} | {three(a)} | {three(far)} | "
              f"{' '.join(str(round(x)) for x in sorted(close)) or '-'} | "
              f"{' '.join(str(round(x)) for x in sorted(r.get('burst_ms', []))) or '-'} |")


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    counts = results["counts"]
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.5))
    for kind, r in results["servers"].items():
        for t, style in (("udp", "-o"), ("tcp", "--s")):
            ax[0].plot(counts, [r[t][n]["cpu"] for n in counts], style, label=f"{kind} {t}")
            # sessions with >= 99% of their frames (an unstarted one counts
            # as 0%: a server that stops taking sessions shows)
            ax[1].plot(counts, [100.0 * sum(1 for d in r[t][n]["delivery"] if d >= 0.99)
                                / n for n in counts], style, label=f"{kind} {t}")
    ax[0].set_xlabel("clients")
    ax[0].set_ylabel("server CPU (cores)")
    ax[0].set_title("Server CPU, 720p30 H.264")
    ax[0].legend(fontsize=7)
    ax[1].set_xlabel("clients")
    ax[1].set_ylabel("sessions with >= 99% of frames (%)")
    ax[1].set_title("Sessions served in full")
    kinds = list(results["servers"])
    if not any(join_ms(results["servers"][k]) for k in kinds):
        ax[2].set_axis_off()  # no joins measured (--joins 0 --burst 0)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        return
    p50 = [pct(join_ms(results["servers"][k]), 0.5) for k in kinds]
    p95 = [pct(join_ms(results["servers"][k]), 0.95) for k in kinds]
    x = range(len(kinds))
    ax[2].bar([i - 0.2 for i in x], p50, 0.4, label="p50")
    ax[2].bar([i + 0.2 for i in x], p95, 0.4, label="p95")
    ax[2].set_xticks(list(x))
    ax[2].set_xticklabels(kinds)
    ax[2].set_ylabel("ms")
    ax[2].set_title("Join: PLAY to first decoded frame (GOP 2 s)")
    ax[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    sys.exit(main())
