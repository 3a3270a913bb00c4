#!/usr/bin/python3
"""Install check (suite 'install'): `meson install --destdir` of the build
into a temporary directory, then, from there:

- the plugin loads (gst-inspect-1.0 with only the installed plugin
  directory on the plugin path, no build tree) and is the installed file;
- the installed server binary runs (--help), and reads the installed
  example config (it gets past parsing: with no camera it stops at the
  camera, with one it serves);
- the generated systemd unit has no placeholder left, points at files that
  the install put there (ExecStart, Documentation, GST_PLUGIN_PATH_1_0),
  passes `systemd-analyze verify` with no message, and scores at most 4.0
  ("OK") in `systemd-analyze security` (where systemd-analyze exists).

- and a `meson setup --prefix=/usr` of the source tree (configured only,
  not built) would install the plugin into the system GStreamer's own
  plugin directory (pkg-config's pluginsdir) and generate a unit for
  /usr/bin and /etc.

  check-install.py SOURCE_ROOT BUILD_ROOT
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

failures = []


def fail(msg):
    print("FAIL: " + msg)
    failures.append(msg)


def ok(msg):
    print("ok: " + msg)


def run(cmd, env=None, timeout=120):
    return subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def main():
    source = os.path.abspath(sys.argv[1])
    build = os.path.abspath(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix="check-install.")
    dest = os.path.join(tmp, "dest")
    try:
        r = run(["meson", "install", "-C", build, "--destdir", dest,
                 "--no-rebuild", "--quiet"], timeout=300)
        if r.returncode != 0:
            fail("meson install --destdir failed:\n" + r.stdout + r.stderr)
            return 1
        installed = json.loads(run(["meson", "introspect", build,
                                    "--installed"]).stdout)
        target = {os.path.basename(v): v for v in installed.values()}

        def in_dest(path):
            return dest + path

        # The plugin, from the install only.
        plugin = target.get("libgstfanout.so")
        if plugin is None or not os.path.isfile(in_dest(plugin)):
            fail("libgstfanout.so is not installed (%s)" % plugin)
            return 1
        plugindir = os.path.dirname(plugin)
        env = dict(os.environ)
        for k in ["GST_PLUGIN_PATH", "GST_PLUGIN_LOADING_WHITELIST",
                  "GST_PLUGIN_SYSTEM_PATH"]:
            env.pop(k, None)
        env["GST_PLUGIN_SYSTEM_PATH_1_0"] = ""
        env["GST_PLUGIN_PATH_1_0"] = in_dest(plugindir)
        env["GST_REGISTRY_1_0"] = os.path.join(tmp, "plugin-only.registry")
        env["GST_INSPECT_NO_COLORS"] = "1"
        env["PAGER"] = "cat"
        for element in ["fanout", "fanoutsink", "fanoutsrc", "payloadbatch"]:
            r = run(["gst-inspect-1.0", element], env=env)
            m = re.search(r"^\s+Filename\s+(\S+)", r.stdout, re.M)
            if r.returncode != 0 or m is None:
                fail("gst-inspect-1.0 %s from %s: exit %d\n%s%s"
                     % (element, in_dest(plugindir), r.returncode, r.stdout,
                        r.stderr))
            elif os.path.realpath(m.group(1)) != os.path.realpath(
                    in_dest(plugin)):
                fail("%s loaded from %s, not the installed %s"
                     % (element, m.group(1), in_dest(plugin)))
            else:
                ok("%s loads from the installed %s" % (element, m.group(1)))

        server = target.get("fanout-rtsp-server")
        unit = target.get("fanout-rtsp-server.service")
        if server is None:
            print("server not built: plugin checked only")
            return 1 if failures else 0

        # The installed binary, with the system's plugins plus the installed
        # plugin (as the unit runs it).
        senv = dict(env)
        del senv["GST_PLUGIN_SYSTEM_PATH_1_0"]
        senv["GST_REGISTRY_1_0"] = os.path.join(tmp, "server.registry")
        r = run([in_dest(server), "--help"], env=senv)
        if r.returncode == 0 and "--config" in r.stdout:
            ok("installed fanout-rtsp-server --help")
        else:
            fail("installed fanout-rtsp-server --help: exit %d\n%s%s"
                 % (r.returncode, r.stdout, r.stderr))
        example = target.get("fanout-rtsp-server.conf.example")
        if example is None or not os.path.isfile(in_dest(example)):
            fail("the example config is not installed")
        else:
            # It serves: a camera that is not plugged in is waited for
            # (one log line), and a busy one stops it with exit 2.
            p = subprocess.Popen([in_dest(server), "--config",
                                  in_dest(example), "--port", "0",
                                  "--address", "127.0.0.1"], env=senv,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            lines = []
            watchdog = threading.Timer(60, p.kill)  # bounded: no hang
            watchdog.start()
            try:
                for line in p.stdout:
                    lines.append(line)
                    if line.startswith("Serving "):
                        break
            finally:
                watchdog.cancel()
                if p.poll() is None:
                    p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            out = "".join(lines)
            if any(l.startswith("Serving ") for l in lines):
                ok("the example config serves%s"
                   % (" (waiting for /dev/video0)" if "/dev/video0" in out
                      and "does not exist" in out else ""))
            elif p.returncode == 2 and "/dev/video0" in out and \
                    "conf.example" not in out:
                ok("the example config parses (stops at the camera: %s)"
                   % out.strip().splitlines()[-1])
            else:
                fail("the installed example config: exit %s\n%s"
                     % (p.returncode, out))

        # The unit.
        if unit is None or not os.path.isfile(in_dest(unit)):
            fail("the systemd unit is not installed")
            return 1
        with open(in_dest(unit)) as fh:
            text = fh.read()
        left = re.findall(r"@[A-Za-z_]+@", text)
        if left:
            fail("placeholders left in the unit: %s" % " ".join(left))
        m = re.search(r"^ExecStart=(\S+)", text, re.M)
        if m is None or m.group(1) != server:
            fail("ExecStart is %s, not the installed %s"
                 % (m.group(1) if m else None, server))
        else:
            ok("ExecStart=%s" % server)
        m = re.search(r"^Documentation=file://(\S+)", text, re.M)
        if m is None or not os.path.isfile(in_dest(m.group(1))):
            fail("Documentation= does not name an installed file (%s)"
                 % (m.group(1) if m else None))
        else:
            ok("Documentation= %s is installed" % m.group(1))
        m = re.search(r"^Environment=GST_PLUGIN_PATH_1_0=(\S+)", text, re.M)
        if m is None or m.group(1) != plugindir:
            fail("GST_PLUGIN_PATH_1_0 in the unit is %s, not %s"
                 % (m.group(1) if m else None, plugindir))
        else:
            ok("the unit's GST_PLUGIN_PATH_1_0 is the installed plugin dir")

        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            print("systemd-analyze not installed: verify/security skipped")
            return 1 if failures else 0
        # verify resolves ExecStart on this machine: a copy of the unit
        # whose ExecStart points into the destdir.
        vdir = os.path.join(tmp, "verify")
        os.makedirs(vdir)
        vunit = os.path.join(vdir, os.path.basename(unit))
        with open(vunit, "w") as fh:
            fh.write(re.sub(r"^ExecStart=", "ExecStart=" + dest, text,
                            flags=re.M))
        r = run([analyze, "verify", vunit])
        if r.returncode != 0 or (r.stdout + r.stderr).strip():
            fail("systemd-analyze verify: exit %d\n%s%s"
                 % (r.returncode, r.stdout, r.stderr))
        else:
            ok("systemd-analyze verify: no message")
        r = run([analyze, "security", "--offline=true", "--root=" + dest,
                 "--no-pager", os.path.basename(unit)])
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\S+)",
                      r.stdout)
        if m is None:
            fail("systemd-analyze security: no score\n%s%s"
                 % (r.stdout, r.stderr))
        elif float(m.group(1)) > 4.0:
            fail("systemd-analyze security: %s %s (want <= 4.0)\n%s"
                 % (m.group(1), m.group(2), r.stdout))
        else:
            ok("systemd-analyze security: %s %s" % (m.group(1), m.group(2)))
        check_prefix_usr(source, tmp)
        return 1 if failures else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_prefix_usr(source, tmp):
    """--prefix=/usr: the plugin where the system GStreamer looks."""
    usr = os.path.join(tmp, "prefix-usr")
    r = run(["meson", "setup", usr, source, "--prefix=/usr",
             "-Dtests=disabled", "-Dbenchmarks=false"], timeout=300)
    if r.returncode != 0:
        fail("meson setup --prefix=/usr failed:\n" + r.stdout[-3000:])
        return
    installed = json.loads(run(["meson", "introspect", usr,
                                "--installed"]).stdout)
    target = {os.path.basename(v): v for v in installed.values()}
    pluginsdir = run(["pkg-config", "--variable=pluginsdir",
                      "gstreamer-1.0"]).stdout.strip()
    plugin = target.get("libgstfanout.so", "")
    if os.path.dirname(plugin) != pluginsdir:
        fail("--prefix=/usr installs the plugin to %s, not GStreamer's %s"
             % (plugin, pluginsdir))
    else:
        ok("--prefix=/usr: the plugin goes to GStreamer's %s" % pluginsdir)
    unit = os.path.join(usr, "server", "fanout-rtsp-server.service")
    if "fanout-rtsp-server.service" in target and os.path.isfile(unit):
        with open(unit) as fh:
            text = fh.read()
        want = ("ExecStart=/usr/bin/fanout-rtsp-server --config "
                "/etc/fanout-rtsp-server.conf")
        if want not in text or "/usr/local" in text:
            fail("--prefix=/usr unit: want '%s' and no /usr/local:\n%s"
                 % (want, text))
        else:
            ok("--prefix=/usr unit: " + want)


if __name__ == "__main__":
    sys.exit(main())
