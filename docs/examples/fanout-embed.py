#!/usr/bin/python3
# gst-fanout
# Copyright (C) 2026 the gst-fanout authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""fanout-embed.py: payloadbatch and fanout from Python (PyGObject).

Builds, with Gst.ElementFactory.make,

    videotestsrc is-live=true ! video/x-raw,width=320,height=240
      ! x264enc tune=zerolatency ! rtph264pay ! payloadbatch ! fanout

then, while PLAYING, adds a reader (a src_%u request pad of fanout linked to
a sink added to the running pipeline) and removes one (pad released first,
which stops its streaming task, then the sink), printing each reader's
statistics from the element's `stats` property (a Gst.Structure holding one
Gst.Structure per src pad).

Run with the interpreter that has PyGObject (on Debian: /usr/bin/python3,
package python3-gst-1.0), with the plugin installed or on GST_PLUGIN_PATH:

    GST_PLUGIN_PATH=$PWD/build/plugins/fanout /usr/bin/python3 \\
        docs/examples/fanout-embed.py

Exits 0 when every step happened as expected, 1 otherwise (the test suite
runs it as is).
"""

import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def make(factory, **props):
    element = Gst.ElementFactory.make(factory, None)
    if element is None:
        hint = ""
        if factory in ("fanout", "payloadbatch"):
            hint = ": install gst-fanout or set GST_PLUGIN_PATH"
        sys.exit(f"fanout-embed.py: no element '{factory}'{hint}")
    for name, value in props.items():
        element.set_property(name.replace("_", "-"), value)
    return element


class App:
    def __init__(self):
        self.pipeline = Gst.Pipeline.new("embed")
        self.loop = GLib.MainLoop()
        self.readers = []  # (pad, sink) pairs
        self.step = 0
        self.mark = 0
        self.failure = None

        src = make("videotestsrc", is_live=True)
        caps = make(
            "capsfilter",
            caps=Gst.Caps.from_string(
                "video/x-raw,width=320,height=240,framerate=30/1"
            ),
        )
        enc = make("x264enc", key_int_max=30)
        Gst.util_set_object_arg(enc, "tune", "zerolatency")
        Gst.util_set_object_arg(enc, "speed-preset", "ultrafast")
        pay = make("rtph264pay", config_interval=-1)
        batch = make("payloadbatch")
        self.fanout = make("fanout")
        chain = [src, caps, enc, pay, batch, self.fanout]
        for element in chain:
            self.pipeline.add(element)
        for a, b in zip(chain, chain[1:]):
            if not a.link(b):
                sys.exit(f"could not link {a.name} to {b.name}")

    def reader_stats(self):
        """{pad name: Gst.Structure} from the fanout `stats` property."""
        stats = self.fanout.get_property("stats")
        out = {}
        for i in range(stats.n_fields()):
            name = stats.nth_field_name(i)
            value = stats.get_value(name)
            if isinstance(value, Gst.Structure):
                out[name] = value
        return stats, out

    def pushed(self, name):
        _, readers = self.reader_stats()
        if name not in readers:
            return 0
        return readers[name].get_uint64("pushed")[1]

    def print_stats(self, when):
        stats, readers = self.reader_stats()
        print(f"{when}: ring written {stats.get_uint64('written')[1]}")
        for name, r in readers.items():
            print(
                f"  {name:6} pushed {r.get_uint64('pushed')[1]:6} "
                f"dropped {r.get_uint64('dropped')[1]:4} "
                f"lag-items {r.get_uint64('lag-items')[1]:3}"
            )
        sys.stdout.flush()

    def add_reader(self):
        sink = Gst.ElementFactory.make("fakesink", None)
        sink.set_property("sync", False)
        sink.set_property("async", False)
        self.pipeline.add(sink)
        sink.sync_state_with_parent()
        pad = self.fanout.request_pad_simple("src_%u")
        if pad is None or pad.link(sink.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
            self.fail("could not add a reader")
            return
        print(f"added reader {pad.get_name()}")
        self.readers.append((pad, sink))

    def remove_reader(self, index):
        pad, sink = self.readers.pop(index)
        self.fanout.release_request_pad(pad)
        sink.set_state(Gst.State.NULL)
        self.pipeline.remove(sink)
        print(f"removed reader {pad.get_name()}")

    def fail(self, why):
        self.failure = why
        self.loop.quit()

    def tick(self):
        """Every 200 ms: advance once the previous step shows in the stats."""
        first = self.readers[0][0].get_name()
        if self.step == 0:
            if self.pushed(first) < 10:
                return True
            self.print_stats("two readers")
            self.add_reader()
        elif self.step == 1:
            if self.pushed(self.readers[2][0].get_name()) < 10:
                return True
            self.print_stats("three readers")
            self.remove_reader(0)
            self.mark = self.pushed(self.readers[0][0].get_name())
        else:
            if self.pushed(first) < self.mark + 10:
                return True
            self.print_stats("after removing one")
            n = self.fanout.get_property("num-src-pads")
            if n != 2:
                self.fail(f"num-src-pads is {n}, want 2")
            else:
                self.loop.quit()
            return False
        self.step += 1
        return True

    def on_message(self, _bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            self.fail(f"error from {msg.src.name}: {err.message} ({dbg})")
        elif msg.type == Gst.MessageType.WARNING:
            err, _ = msg.parse_warning()
            print(f"warning from {msg.src.name}: {err.message}", file=sys.stderr)

    def timeout(self):
        self.fail("timed out (120 s)")
        return False

    def run(self):
        self.add_reader()
        self.add_reader()
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)
        GLib.timeout_add(200, self.tick)
        GLib.timeout_add_seconds(120, self.timeout)
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self.fail("could not start the pipeline")
        else:
            self.loop.run()
        self.pipeline.set_state(Gst.State.NULL)
        bus.remove_signal_watch()
        if self.failure:
            print(f"fanout-embed.py: FAILED: {self.failure}", file=sys.stderr)
            return 1
        print("fanout-embed.py: done")
        return 0


if __name__ == "__main__":
    Gst.init(sys.argv)
    sys.exit(App().run())
