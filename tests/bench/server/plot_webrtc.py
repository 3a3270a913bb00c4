#!/usr/bin/python3
# Plots webrtc_load.py results: server CPU and RSS vs WebRTC viewers, the
# shared payloading beside one payloader per viewer.
#   plot_webrtc.py SHARED.json OWN.json OUT.png
import json
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

shared, own = (json.load(open(p)) for p in sys.argv[1:3])
fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
for res, label, style in ((shared, 'shared payloading (this server)', 'o-'),
                          (own, 'one payloader per viewer', 's--')):
    n = [s['viewers'] for s in res['steps']]
    a.plot(n, [s['server_cpu_cores'] for s in res['steps']], style,
           label=label)
    b.plot(n, [s['server_rss_mb'] for s in res['steps']], style, label=label)
a.set_xlabel('WebRTC viewers (1 Mbit/s H.264, 640x360@30)')
a.set_ylabel('server CPU (cores, encoder included)')
b.set_xlabel('WebRTC viewers')
b.set_ylabel('server RSS (MB)')
for ax in (a, b):
    ax.grid(True, alpha=0.3)
    ax.legend()
fig.tight_layout()
fig.savefig(sys.argv[3], dpi=90)
