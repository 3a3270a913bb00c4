#!/usr/bin/python3
# gst-fanout
# Copyright (C) 2026 the gst-fanout authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""fanoutsink/fanoutsrc against intervideosink/intervideosrc and an
appsink -> N x appsrc fan-out: CPU and RSS vs the number of reader
pipelines (1, 10, 50, 100), one process per point, in one run.

  /usr/bin/python3 tests/bench/fanoutsinksrc/run.py BUILDDIR [OUTDIR]

BUILDDIR is a configured and built meson build directory (benchmarks on);
OUTDIR (default docs/benchmarks) receives fanoutsinksrc.json and
fanoutsinksrc.png. Takes about 2-3 minutes.
"""
import json
import os
import subprocess
import sys

MODES = ["fanout", "inter", "appsrc"]
LABELS = {
    "fanout": "fanoutsink ! fanoutsrc",
    "inter": "intervideosink ! intervideosrc",
    "appsrc": "appsink -> N x appsrc",
}
READERS = [1, 10, 50, 100]
SECONDS = os.environ.get("BENCH_SECONDS", "5")
WARMUP = os.environ.get("BENCH_WARMUP", "2")


def main():
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2
                          else os.path.join(top, "docs", "benchmarks"))
    prog = os.path.join(build, "tests", "bench", "fanoutsinksrc",
                        "bench-fanoutsinksrc")
    env = dict(os.environ)
    env["GST_PLUGIN_PATH_1_0"] = os.path.join(build, "plugins", "fanout")
    env.setdefault("GST_DEBUG", "*:1")

    results = []
    for n in READERS:
        for mode in MODES:
            r = subprocess.run([prog, mode, str(n), SECONDS, WARMUP],
                               env=env, capture_output=True, text=True,
                               timeout=120)
            if r.returncode != 0:
                print(r.stderr, file=sys.stderr)
                sys.exit("%s N=%d failed" % (mode, n))
            row = json.loads(r.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
            results.append(row)

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "fanoutsinksrc.json"), "w") as f:
        json.dump(results, f, indent=1)

    print()
    print("| readers | way | CPU % (of one core) | CPU µs per reader buffer "
          "| buffers/s per reader | RSS MB | threads |")
    print("|---|---|---|---|---|---|---|")
    for row in results:
        print("| %d | %s | %.1f | %.1f | %.1f | %.1f | %d |" % (
            row["readers"], LABELS[row["mode"]], row["cpu_pct"],
            row["cpu_us_per_reader_buffer"], row["buffers_per_reader_s"],
            row["rss_kb"] / 1024.0, row["threads"]))

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for mode in MODES:
        rows = [r for r in results if r["mode"] == mode]
        xs = [r["readers"] for r in rows]
        axes[0].plot(xs, [r["cpu_pct"] for r in rows], "o-",
                     label=LABELS[mode])
        axes[1].plot(xs, [r["rss_kb"] / 1024.0 for r in rows], "o-",
                     label=LABELS[mode])
        axes[2].plot(xs, [r["buffers_per_reader_s"] for r in rows], "o-",
                     label=LABELS[mode])
    axes[0].set_title("CPU (% of one core), whole process")
    axes[1].set_title("RSS (MB)")
    axes[2].set_title("buffers/s received per reader (source: 30)")
    for ax in axes:
        ax.set_xlabel("reader pipelines")
        ax.set_xscale("log")
        ax.set_xticks(READERS)
        ax.set_xticklabels([str(x) for x in READERS])
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    fig.suptitle("640x480 I420 30 fps live raw video, one writer pipeline, "
                 "N reader pipelines ! fakesink (2 cores, other work running)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fanoutsinksrc.png"), dpi=90)


if __name__ == "__main__":
    main()
