#!/usr/bin/python3
"""Ring benchmark: items/s and the writer's CPU ns per item with 1, 8 and 64
readers (drop-to-latest and block), beside a naive mutex + condition
variable queue per reader. Median of 3 runs per point. Writes
docs/benchmarks/ring.md and docs/benchmarks/ring.png.

    /usr/bin/python3 tests/bench/ring/run.py [BUILDDIR]
"""
import os
import pathlib
import platform
import statistics
import subprocess
import sys

top = pathlib.Path(__file__).resolve().parents[3]
build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else top / "build")
exe = build / "tests/bench/ring/ring-bench"
ITEMS = 1_000_000
READERS = [1, 8, 64]
KINDS = ["ring", "ring-block", "naive"]
env = dict(os.environ, GST_PLUGIN_PATH_1_0="", GST_PLUGIN_SYSTEM_PATH_1_0="",
           GST_REGISTRY_1_0=str(build / "bench-ring.registry"))


def run(kind, n):
    items = ITEMS if kind != "naive" or n < 8 else ITEMS // (10 if n < 64 else 100)
    rows = []
    for _ in range(3):
        out = subprocess.run([str(exe), kind, str(n), str(items)], env=env,
                             check=True, capture_output=True, text=True).stdout
        rows.append(dict(kv.split("=") for kv in out.split()))
    med = lambda k: statistics.median(float(r[k]) for r in rows)
    return {"items": items, "items_per_s": med("items_per_s"),
            "writer_cpu": med("writer_cpu_ns_per_item"),
            "writer_wall": med("writer_wall_ns_per_item"),
            "wakeups": med("wakeup_syscalls")}


res = {(k, n): run(k, n) for k in KINDS for n in READERS}
load = os.getloadavg()[0]

lines = ["# Ring benchmark", "",
         "Command: `/usr/bin/python3 tests/bench/ring/run.py` (after the README build).",
         f"Machine: {os.cpu_count()} cores, {platform.machine()}, "
         f"load average {load:.1f} when the run ended (other work was running on it).",
         f"Each point: median of 3 runs; the writer pushes as fast as it can; "
         "readers consume as fast as they can; capacity 1024; 4096 distinct buffers.",
         "Writer CPU is the writer thread's own CPU time (CLOCK_THREAD_CPUTIME_ID).", "",
         "| kind | readers | items | items/s | writer CPU ns/item | writer wall ns/item | writer wake-up syscalls |",
         "|---|---:|---:|---:|---:|---:|---:|"]
for k in KINDS:
    for n in READERS:
        r = res[(k, n)]
        lines.append(f"| {k} | {n} | {r['items']} | {r['items_per_s']:.0f} | "
                     f"{r['writer_cpu']:.1f} | {r['writer_wall']:.1f} | {r['wakeups']:.0f} |")
ratio = res[("ring", 64)]["writer_cpu"] / res[("ring", 1)]["writer_cpu"]
lines += ["", f"Goal: writer ns/item at 64 readers within 1.3x of 1 reader (drop-to-latest): "
          f"measured **{ratio:.2f}x** ({'met' if ratio <= 1.3 else 'NOT met'}).",
          "", "`ring-block` makes the writer wait for the slowest reader (lossless), so its "
          "wall time per item is the readers' pace; its CPU per item is what waiting costs. "
          "`naive` pushes into one mutex-protected queue per reader: its writer cost grows "
          "linearly with readers (runs with 8 and 64 readers push 10x and 100x fewer items).",
          "", "With a single reader the naive queue costs the writer less (one uncontended lock and an append) than the ring, whose writer shares a few cache lines per item (head, the slot word, the node, the buffer's refcount) with readers on the other core that poll and pin them; that cost is paid once per item whatever the number of readers, so it stays flat while the naive one grows with every reader. A caught-up reader spins about a microsecond before it sleeps, so the writer's wake-up syscalls stay in the hundreds per million items.",
          "", "![writer CPU ns per item](ring.png)", ""]
out = top / "docs/benchmarks"
out.mkdir(parents=True, exist_ok=True)
(out / "ring.md").write_text("\n".join(lines))

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6, 4))
for k in KINDS:
    ax.plot(READERS, [res[(k, n)]["writer_cpu"] for n in READERS], marker="o", label=k)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("readers")
ax.set_ylabel("writer CPU ns per item")
ax.set_title("Writer cost per item vs readers")
ax.legend()
ax.grid(True, which="both", alpha=0.3)
fig.tight_layout()
fig.savefig(out / "ring.png", dpi=100)
print("\n".join(lines))
