#!/usr/bin/python3
# gst-fanout
# Copyright (C) 2026 the gst-fanout authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Relay-chain benchmark: what each relay hop adds, origin -> edge 1 ->
edge 2, each fanout-rtsp-server in its own network namespace, joined by veth
pairs; the clients in a fourth namespace with a veth to each server.

      [origin] --veth-- [edge1] --veth-- [edge2]      (relay links)
          \\               |               /
           `------------ [clients] -------'           (viewer links)

The origin serves the built-in 720p30 H.264 test source (2000 kbit/s, GOP
2 s); each edge relays the one before it with codec=copy, so every frame's
payload is byte for byte the same at every server. One raw RTSP/TCP client
per server records, for each frame, the arrival time (CLOCK_MONOTONIC, one
clock for every namespace) and a hash of its last RTP packet's payload;
frames are matched across servers by that hash. Per hop: the median and
p95 of the arrival-time difference, and the frames that made it through.

Needs root (ip netns). Run for each relay latency given:

  sudo /usr/bin/python3 tests/bench/server/relay_chain.py BUILDDIR \\
      [--latencies 200,50,20,0] [--seconds 20]
"""

import argparse
import hashlib
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import time

NS = ["fo-origin", "fo-edge1", "fo-edge2", "fo-clients"]
# (ns a, addr a, ns b, addr b)
LINKS = [
    ("fo-origin", "10.98.1.1", "fo-edge1", "10.98.1.2"),
    ("fo-edge1", "10.98.2.1", "fo-edge2", "10.98.2.2"),
    ("fo-origin", "10.98.3.1", "fo-clients", "10.98.3.2"),
    ("fo-edge1", "10.98.4.1", "fo-clients", "10.98.4.2"),
    ("fo-edge2", "10.98.5.1", "fo-clients", "10.98.5.2"),
]
VIEW = {"origin": "10.98.3.1", "edge1": "10.98.4.1", "edge2": "10.98.5.1"}


def sh(*args, check=True):
    return subprocess.run(args, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def netns_down():
    for ns in NS:
        if os.path.exists(f"/var/run/netns/{ns}"):
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), 9)
                except OSError:
                    pass
            sh("ip", "netns", "delete", ns, check=False)


def netns_up():
    netns_down()
    for ns in NS:
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    for i, (a, aa, b, ba) in enumerate(LINKS):
        va, vb = f"fo{i}a", f"fo{i}b"
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", va, "netns", a)
        sh("ip", "link", "set", vb, "netns", b)
        sh("ip", "-n", a, "addr", "add", aa + "/24", "dev", va)
        sh("ip", "-n", b, "addr", "add", ba + "/24", "dev", vb)
        sh("ip", "-n", a, "link", "set", va, "up")
        sh("ip", "-n", b, "link", "set", vb, "up")


def server(build, ns, args, log):
    env = dict(os.environ)
    env["GST_PLUGIN_PATH"] = os.path.join(build, "plugins", "fanout")
    p = subprocess.Popen(
        ["ip", "netns", "exec", ns,
         os.path.join(build, "server", "fanout-rtsp-server"), "--quiet",
         "--address", "0.0.0.0", "--port", "8554", "--idle-pause", "0"] + args,
        stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
    return p


CLIENT = r'''
import hashlib, re, socket, struct, sys, time
host, seconds = sys.argv[1], float(sys.argv[2])
url = f"rtsp://{host}:8554/live"
deadline = time.monotonic() + 60
while True:
    try:
        s = socket.create_connection((host, 8554), timeout=5)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("cannot connect to " + host)
        time.sleep(0.5)
buf, cseq, session = b"", 0, None
def recv():
    global buf
    d = s.recv(262144)
    if not d:
        raise SystemExit("closed")
    buf += d
def req(method, u, extra=""):
    global buf, cseq, session
    cseq += 1
    h = f"{method} {u} RTSP/1.0\r\nCSeq: {cseq}\r\n{extra}"
    if session:
        h += f"Session: {session}\r\n"
    s.sendall((h + "\r\n").encode())
    while True:
        while buf[:1] == b"$":
            while len(buf) < 4:
                recv()
            n = struct.unpack("!H", buf[2:4])[0]
            while len(buf) < 4 + n:
                recv()
            buf = buf[4 + n:]
        if buf and buf[:1] != b"$" and b"\r\n\r\n" in buf:
            break
        recv()
    head, buf = buf.split(b"\r\n\r\n", 1)
    head = head.decode(errors="replace")
    m = re.search(r"Content-Length:\s*(\d+)", head, re.I)
    n = int(m.group(1)) if m else 0
    while len(buf) < n:
        recv()
    body, buf = buf[:n], buf[n:]
    m = re.search(r"Session:\s*([^;\r\n]+)", head, re.I)
    if m:
        session = m.group(1).strip()
    return int(head.split()[1]), head, body.decode(errors="replace")
while True:
    st, head, sdp = req("DESCRIBE", url, "Accept: application/sdp\r\n")
    if st == 200:
        break
    if time.monotonic() > deadline:
        sys.exit(f"DESCRIBE {st}")
    time.sleep(0.5)
base = re.search(r"Content-Base:\s*(\S+)", head, re.I)
base = base.group(1) if base else url + "/"
ctrl = re.search(r"a=control:(\S+)", sdp.split("m=", 1)[1]).group(1)
turl = ctrl if ctrl.startswith("rtsp:") else base.rstrip("/") + "/" + ctrl
req("SETUP", turl, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
req("PLAY", url, "Range: npt=0-\r\n")
end = time.monotonic() + seconds
out = sys.stdout
while time.monotonic() < end:
    while len(buf) < 4:
        recv()
    if buf[0] != 0x24:
        i = buf.find(b"$")
        buf = buf[i:] if i >= 0 else b""
        continue
    ch, n = buf[1], struct.unpack("!H", buf[2:4])[0]
    while len(buf) < 4 + n:
        recv()
    pkt, buf = buf[4:4 + n], buf[4 + n:]
    if ch != 0 or n < 13 or not (pkt[1] & 0x80):
        continue
    cc = pkt[0] & 0x0F
    off = 12 + 4 * cc
    if pkt[0] & 0x10:
        off += 4 + 4 * struct.unpack("!H", pkt[off + 2:off + 4])[0]
    out.write(f"{time.monotonic():.6f} {hashlib.sha1(pkt[off:]).hexdigest()}\n")
'''


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))] if v else float("nan")


def edge_source(template, latency, upstream):
    if template:
        return "up=" + template.format(url=upstream, latency=latency)
    return "up=" + upstream


def run(build, latency, seconds, tmp, template=None):
    procs = []
    try:
        procs.append(server(build, "fo-origin", [
            "--source", "cam=test:1280x720@30",
            "--mount", "/live=cam,codec=h264,gop=2,bitrate=2000"],
            os.path.join(tmp, "origin.log")))
        time.sleep(3)
        procs.append(server(build, "fo-edge1", [
            "--relay-latency", str(latency),
            "--source", edge_source(template, latency, "rtsp://10.98.1.1:8554/live"),
            "--mount", "/live=up,codec=copy"], os.path.join(tmp, "edge1.log")))
        time.sleep(3)
        procs.append(server(build, "fo-edge2", [
            "--relay-latency", str(latency),
            "--source", edge_source(template, latency, "rtsp://10.98.2.1:8554/live"),
            "--mount", "/live=up,codec=copy"], os.path.join(tmp, "edge2.log")))
        time.sleep(3)
        script = os.path.join(tmp, "client.py")
        with open(script, "w") as f:
            f.write(CLIENT)
        clients = {k: subprocess.Popen(
            ["ip", "netns", "exec", "fo-clients", "/usr/bin/python3", script,
             addr, str(seconds)], stdout=subprocess.PIPE, text=True)
            for k, addr in VIEW.items()}
        frames = {}
        for k, c in clients.items():
            out, _ = c.communicate(timeout=seconds + 90)
            frames[k] = {}
            for line in out.splitlines():
                t, h = line.split()
                frames[k].setdefault(h, float(t))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    res = {"relay_latency_ms": latency, "frames": {k: len(v) for k, v in frames.items()}}
    for a, b in (("origin", "edge1"), ("edge1", "edge2"), ("origin", "edge2")):
        common = [h for h in frames[a] if h in frames[b]]
        d = [(frames[b][h] - frames[a][h]) * 1000.0 for h in common]
        res[f"{a}->{b}"] = {"matched": len(common), "median_ms": statistics.median(d) if d else None,
                            "p95_ms": pct(d, 0.95) if d else None}
    # frames the origin's client saw (after the edges' clients joined) that
    # reached edge 2's client
    o = frames["origin"]
    t0 = max(min(frames[k].values()) for k in frames if frames[k]) if all(frames.values()) else 0
    t1 = min(max(frames[k].values()) for k in frames if frames[k]) if all(frames.values()) else 0
    window = [h for h, t in o.items() if t0 + 1 <= t <= t1 - 1]
    res["through_edge2"] = (sum(1 for h in window if h in frames["edge2"]), len(window))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--latencies", default="200,50,20,0")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--out", default="docs/benchmarks")
    ap.add_argument("--edge-source", default=None,
                    help="an edge's source SPEC instead of the plain relay, "
                         "{url} and {latency} filled in (experiments)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("relay_chain.py: needs root for ip netns")
    tmp = "/tmp/relay-chain"
    os.makedirs(tmp, exist_ok=True)
    results = []
    netns_up()
    try:
        for lat in [int(x) for x in args.latencies.split(",")]:
            print(f"== relay latency {lat} ms", file=sys.stderr, flush=True)
            results.append(run(args.build, lat, args.seconds, tmp, args.edge_source))
    finally:
        netns_down()
    with open(os.path.join(args.out, "relay-chain.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("| --relay-latency (ms) | origin -> edge 1: median / p95 (ms) | edge 1 -> edge 2 | "
          "origin -> edge 2 | frames through both hops |")
    print("|---|---|---|---|---|")
    for r in results:
        def cell(k):
            x = r[k]
            return "-" if x["median_ms"] is None else f"{x['median_ms']:.0f} / {x['p95_ms']:.0f}"
        got, tot = r["through_edge2"]
        print(f"| {r['relay_latency_ms']} | {cell('origin->edge1')} | {cell('edge1->edge2')} "
              f"| {cell('origin->edge2')} | {got} / {tot} |")


if __name__ == "__main__":
    main()
