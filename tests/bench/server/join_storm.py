#!/usr/bin/python3
# gst-fanout
# Copyright (C) 2026 the gst-fanout authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Join-storm benchmark: what joins cost the viewers already watching, and
what a joining viewer gets, for fanout-rtsp-server's key-unit policies and a
stock gst-rtsp-server shared media, same 720p30 H.264 2000 kbit/s source,
GOP 2 s (see bench_server.py).

Per server: one steady viewer plays throughout (raw RTSP over TCP,
interleaved). Phase "spread": joins 1.1 s apart. Phase "storm": 100 joins
in 10 s (one every 100 ms), each viewer staying 1 s. Every joiner is a raw
TCP client that records PLAY -> the last packet of its first complete
keyframe (its first decodable frame) and how far behind live that frame is:
the steady viewer's newest RTP timestamp at that moment minus the frame's
(one RTP stream: in isolated mode every cursor reads the same payloaded
frames; in shared mode and stock both read one media).

What existing viewers pay: keyframes the steady viewer received, and the
mean size of its P-frames (x264's rate control holds the bitrate, so more
keyframes leave fewer bits for each P-frame: the quality proxy) before and
during the storm; forced keyframes from /metrics where the server has them.

  /usr/bin/python3 tests/bench/server/join_storm.py BUILDDIR [--out DIR]

Writes DIR/join-storm.json and prints a Markdown table.
"""

import argparse
import json
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_server import ENCODE, SOURCE, free_port  # noqa: E402

KINDS = [
    ("stock", None, None),
    ("shared, interval 300 ms", "shared", 300),
    ("isolated, one keyframe per join (interval 0)", "isolated", 0),
    ("isolated, interval 300 ms (default)", "isolated", 300),
    ("isolated, interval 500 ms", "isolated", 500),
]


class Server:
    def __init__(self, build, mode, interval):
        self.port = free_port()
        self.http = free_port() if mode else None
        env = dict(os.environ)
        env["GST_PLUGIN_PATH"] = os.path.join(build, "plugins", "fanout")
        if mode is None:
            cmd = [os.path.join(build, "tests", "bench", "server",
                                "stock-rtsp-server"), "--port", str(self.port),
                   f"( {SOURCE} ! {ENCODE} ! rtph264pay name=pay0 pt=96 "
                   "config-interval=-1 )"]
        else:
            cmd = [os.path.join(build, "server", "fanout-rtsp-server"),
                   "--quiet", "--address", "127.0.0.1", "--port",
                   str(self.port), "--http-port", str(self.http),
                   "--mode", mode, "--key-unit-interval", str(interval),
                   "--source", "cam=test:1280x720@30",
                   "--mount", "/live=cam,codec=h264,gop=2,bitrate=2000"]
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env,
                                  text=True)
        for line in self.p.stdout:
            if line.startswith("Serving "):
                break
        else:
            raise RuntimeError("server did not start")
        threading.Thread(target=self.p.stdout.read, daemon=True).start()
        self.url = f"rtsp://127.0.0.1:{self.port}/live"

    def forced(self):
        if not self.http:
            return None
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.http}/metrics", timeout=5) as r:
            text = r.read().decode()
        m = re.search(r'^fanout_key_unit_requests_total\{mount="/live"\} '
                      r'(\d+)', text, re.M)
        return int(m.group(1)) if m else None

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


class Rtsp:
    """DESCRIBE, SETUP (TCP interleaved 0-1) and PLAY of stream 0."""

    def __init__(self, url):
        host, port = re.match(r"rtsp://([^:/]+):(\d+)", url).groups()
        self.s = socket.create_connection((host, int(port)), timeout=10)
        self.url, self.cseq, self.buf = url, 0, b""
        self.session = None

    def _req(self, method, url, extra=""):
        self.cseq += 1
        hdr = f"{method} {url} RTSP/1.0\r\nCSeq: {self.cseq}\r\n{extra}"
        if self.session:
            hdr += f"Session: {self.session}\r\n"
        self.s.sendall((hdr + "\r\n").encode())
        while True:
            # interleaved packets may come before the response (a shared
            # media that plays already)
            while self.buf[:1] == b"$":
                if len(self.buf) < 4:
                    self.buf += self._recv()
                    continue
                n = struct.unpack("!H", self.buf[2:4])[0]
                while len(self.buf) < 4 + n:
                    self.buf += self._recv()
                self.buf = self.buf[4 + n:]
            if self.buf and self.buf[:1] != b"$" and b"\r\n\r\n" in self.buf:
                break
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        head = head.decode(errors="replace")
        m = re.search(r"Content-Length:\s*(\d+)", head, re.I)
        n = int(m.group(1)) if m else 0
        while len(self.buf) < n:
            self.buf += self._recv()
        body, self.buf = self.buf[:n], self.buf[n:]
        status = int(head.split()[1])
        m = re.search(r"Session:\s*([^;\r\n]+)", head, re.I)
        if m:
            self.session = m.group(1).strip()
        return status, head, body.decode(errors="replace")

    def _recv(self):
        d = self.s.recv(65536)
        if not d:
            raise ConnectionError("closed")
        return d

    def play(self):
        st, head, sdp = self._req("DESCRIBE", self.url,
                                  "Accept: application/sdp\r\n")
        if st != 200:
            raise RuntimeError(f"DESCRIBE {st}")
        base = re.search(r"Content-Base:\s*(\S+)", head, re.I)
        base = base.group(1) if base else self.url + "/"
        ctrl = re.search(r"a=control:(\S+)", sdp.split("m=", 1)[1]).group(1)
        turl = ctrl if ctrl.startswith("rtsp:") else base.rstrip("/") + "/" + ctrl
        st, _, _ = self._req("SETUP", turl, "Transport: RTP/AVP/TCP;unicast;"
                             "interleaved=0-1\r\n")
        if st != 200:
            raise RuntimeError(f"SETUP {st}")
        t = time.monotonic()
        st, _, _ = self._req("PLAY", self.url, "Range: npt=0-\r\n")
        if st != 200:
            raise RuntimeError(f"PLAY {st}")
        return t

    def packets(self):
        """Yields (arrival, rtp_ts, marker, nal, size) of channel 0."""
        while True:
            while len(self.buf) < 4:
                self.buf += self._recv()
            if self.buf[0] != 0x24:  # an RTSP message between packets
                i = self.buf.find(b"$")
                self.buf = self.buf[i:] if i >= 0 else b""
                continue
            ch, n = self.buf[1], struct.unpack("!H", self.buf[2:4])[0]
            while len(self.buf) < 4 + n:
                self.buf += self._recv()
            pkt, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
            if ch != 0 or n < 13:
                continue
            ts = struct.unpack("!I", pkt[4:8])[0]
            yield time.monotonic(), ts, bool(pkt[1] & 0x80), pkt[12] & 0x1F, n

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def is_key_nal(nal, pkt_nal_types):
    return nal in (5, 7, 8, 24) or 5 in pkt_nal_types


class Steady(threading.Thread):
    """Frames (arrival, ts, size, key) of the viewer that stays."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.c = Rtsp(url)
        self.c.play()
        self.frames = []
        self.newest_ts = None
        self.lock = threading.Lock()
        self.stop = False

    def run(self):
        cur_ts, size, key = None, 0, False
        try:
            for t, ts, marker, nal, n in self.c.packets():
                if self.stop:
                    break
                with self.lock:
                    self.newest_ts = ts
                if cur_ts is not None and ts != cur_ts:
                    size, key = 0, False
                cur_ts = ts
                size += n
                key = key or nal in (5, 7, 24)
                if marker:
                    self.frames.append((t, ts, size, key))
                    size, key, cur_ts = 0, False, None
        except (OSError, ConnectionError):
            pass

    def ts(self):
        with self.lock:
            return self.newest_ts


def join_once(url, steady, stay, out):
    c = None
    try:
        c = Rtsp(url)
        t_play = c.play()
        first_ts = None
        for t, ts, marker, nal, n in c.packets():
            if first_ts is None:
                if nal not in (5, 7, 24):
                    continue  # waiting for a keyframe (shared/stock)
                first_ts = ts
            if marker and ts == first_ts:
                live = steady.ts()
                lag = ((live - first_ts) & 0xFFFFFFFF) / 90.0 if live else 0.0
                if lag > 1e6:
                    lag = 0.0  # joiner ahead of the steady viewer's read
                out.append(((t - t_play) * 1000.0, lag))
                break
        time.sleep(stay)
    except (OSError, ConnectionError, RuntimeError, ValueError) as e:
        out.append((None, str(e)))
    finally:
        if c:
            c.close()


def phase(url, steady, joins, spacing, stay):
    res, threads = [], []
    for _ in range(joins):
        th = threading.Thread(target=join_once, args=(url, steady, stay, res),
                              daemon=True)
        th.start()
        threads.append(th)
        time.sleep(spacing)
    for th in threads:
        th.join(30)
    return res


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))] if v else float("nan")


def pframes(frames, t0, t1):
    s = [f[2] for f in frames if t0 <= f[0] < t1 and not f[3]]
    return statistics.mean(s) if s else float("nan")


def keys(frames, t0, t1):
    return sum(1 for f in frames if t0 <= f[0] < t1 and f[3])


def run(build, label, mode, interval, storm, spread):
    srv = Server(build, mode, interval)
    try:
        steady = Steady(srv.url)
        steady.start()
        time.sleep(12)  # steady state: 6 GOPs
        t_base0 = time.monotonic() - 10
        t_base1 = time.monotonic()
        sp = phase(srv.url, steady, spread, 1.1, 0.5)
        time.sleep(2)
        f0 = srv.forced()
        t_s0 = time.monotonic()
        st = phase(srv.url, steady, storm, 0.1, 1.0)
        t_s1 = t_s0 + storm * 0.1
        f1 = srv.forced()
        steady.stop = True
        ok = [r for r in st if r[0] is not None]
        okp = [r for r in sp if r[0] is not None]
        r = {
            "server": label,
            "spread_join_ms": [x[0] for x in okp],
            "storm_join_ms": [x[0] for x in ok],
            "storm_lag_ms": [x[1] for x in ok],
            "storm_failed": len(st) - len(ok),
            "forced_keyframes_storm": (f1 - f0) if f0 is not None else None,
            "steady_keys_base": keys(steady.frames, t_base0, t_base1),
            "steady_keys_storm": keys(steady.frames, t_s0, t_s1),
            "steady_pframe_bytes_base": pframes(steady.frames, t_base0, t_base1),
            "steady_pframe_bytes_storm": pframes(steady.frames, t_s0, t_s1),
        }
        return r
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--storm", type=int, default=100)
    ap.add_argument("--spread", type=int, default=20)
    ap.add_argument("--out", default="docs/benchmarks")
    ap.add_argument("--kinds", default="all",
                    help="comma-separated indexes into the list of servers")
    args = ap.parse_args()
    sel = range(len(KINDS)) if args.kinds == "all" else [
        int(i) for i in args.kinds.split(",")]
    results = []
    for i in sel:
        label, mode, interval = KINDS[i]
        print(f"== {label}", file=sys.stderr, flush=True)
        results.append(run(args.build, label, mode, interval, args.storm,
                           args.spread))
    with open(os.path.join(args.out, "join-storm.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("| server | spread joins p50 / p95 (ms) | storm joins p50 / p95 / max (ms) "
          "| storm: behind live p50 / p95 / max (ms) | forced keyframes in the storm "
          "| steady viewer's keyframes: 10 s before / 10 s storm "
          "| its mean P-frame (bytes): before / storm |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        sj, j, lag = r["spread_join_ms"], r["storm_join_ms"], r["storm_lag_ms"]
        fk = r["forced_keyframes_storm"]
        print(f"| {r['server']} | {pct(sj, .5):.0f} / {pct(sj, .95):.0f} "
              f"| {pct(j, .5):.0f} / {pct(j, .95):.0f} / {max(j) if j else 0:.0f} "
              f"| {pct(lag, .5):.0f} / {pct(lag, .95):.0f} / {max(lag) if lag else 0:.0f} "
              f"| {'-' if fk is None else fk} "
              f"| {r['steady_keys_base']} / {r['steady_keys_storm']} "
              f"| {r['steady_pframe_bytes_base']:.0f} / "
              f"{r['steady_pframe_bytes_storm']:.0f} |")
        if r["storm_failed"]:
            print(f"  ({r['storm_failed']} storm joins failed)")


if __name__ == "__main__":
    main()
