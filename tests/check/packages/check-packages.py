#!/usr/bin/python3
"""Checks that scripts/packages.txt names the Debian package of every stock
GStreamer element that gst-fanout uses.

  check-packages.py SOURCE_ROOT BUILD_ROOT

Scans the recipes, the server sources, the tests, the scripts and the
embedding examples for element names: any word that is the name of an
installed element factory, and any word in pipeline position (after " ! ")
that is neither an element nor a command (an element whose plugin is not
installed at all). For each element it finds the plugin file
(gst-inspect-1.0), the package that holds the file (dpkg -S, trying both
sides of the merged /usr), and fails naming element, package and where the
element is named when that package is neither listed in packages.txt nor a
dependency (recursive Depends/Pre-Depends) of a listed package.

Also checks the programs the build and the tests run: every find_program()
of the meson files, every command a shell script starts and the first word
of a Python argv list, resolved with PATH and dpkg -S in the same way (a
program that is not installed is skipped: the patterns also catch words
that are no program, and optional tools are used "where available"); and
the build's dependencies (meson introspect --dependencies: the package of
each one's pkg-config file).

Exit status: 0 all covered, 1 something is missing (each one named).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Words that sit in pipeline position in a comment but name no element.
NOT_ELEMENTS = {"depayloader"}

HERE = os.path.dirname(os.path.abspath(__file__))
# Directories scanned, relative to the source root.
SCANNED = ["gst-launch-recipes", "server", "tests", "scripts", "docs/examples"]

TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
# " ! name" as in a launch line; name not followed by "(" (C negation).
PIPELINE_POS = re.compile(r"""(?:^|[\s"'])!\s+([a-z][a-z0-9_-]*)(?=[\s"'\\]|$)""")
# Elements our own code registers (not installed from a package).
REGISTERED = re.compile(r'gst_element_register\s*\([^,]*,\s*"([a-z0-9_-]+)"')
# Python: the first word of an argv list, ["ffmpeg", ...].
PY_ARGV = re.compile(r'\[\s*"(/usr/bin/[a-z][\w.+-]*|[a-z][\w.+-]*)",'
                     r'|shutil\.which\("([a-z][\w.+-]*)"\)')
FIND_PROGRAM = re.compile(r"find_program\(\s*'([^']+)'")
# Shell: the command word at the start of a line or after a separator,
# `timeout N`, `if`/`while`/`!`, or $( ... ).
SH_COMMAND = re.compile(
    r"(?:^|[;&|({]|\$\(|\bthen\b|\bdo\b|\belse\b)\s*"
    r"(?:(?:if|while|until|!|exec|command|time)\s+)*"
    r"(?:timeout\s+(?:-\S+\s+)*\S+\s+)?"
    r"([a-z][a-z0-9_.+-]*)(?=\s|$|;|\))")


def source_files(top):
    for d in SCANNED:
        for root, dirs, files in os.walk(os.path.join(top, d)):
            dirs[:] = [x for x in dirs if not x.startswith(".")
                       and os.path.join(root, x) != HERE]
            for f in sorted(files):
                path = os.path.join(root, f)
                try:
                    with open(path, encoding="utf-8") as fh:
                        text = fh.read()
                except (UnicodeDecodeError, OSError):
                    continue
                yield os.path.relpath(path, top), text


def system_gst_env(build):
    """The environment a user's gst-launch-1.0 sees, plus our build dir."""
    env = dict(os.environ)
    for k in ["GST_PLUGIN_SYSTEM_PATH", "GST_PLUGIN_SYSTEM_PATH_1_0",
              "GST_PLUGIN_PATH", "GST_PLUGIN_LOADING_WHITELIST"]:
        env.pop(k, None)
    env["GST_PLUGIN_PATH_1_0"] = os.path.join(build, "plugins", "fanout")
    env["GST_INSPECT_NO_COLORS"] = "1"
    env["PAGER"] = "cat"
    env["LC_ALL"] = "C"
    return env


def factories(env):
    out = subprocess.run(["gst-inspect-1.0", "--print-plugin-auto-install-info"],
                         env=env, capture_output=True, text=True, check=True)
    return {l[len("element-"):] for l in out.stdout.split()
            if l.startswith("element-")}


def plugin_file(env, element):
    out = subprocess.run(["gst-inspect-1.0", element], env=env,
                         capture_output=True, text=True)
    m = re.search(r"^\s+Filename\s+(\S+)", out.stdout, re.M)
    return m.group(1) if m else None


def merged_usr_variants(path):
    """dpkg knows a file under the name its package ships it with: try
    /usr/lib and /lib (merged /usr), and the resolved path."""
    cands = [path]
    real = os.path.realpath(path)
    for p in [path, real]:
        if p.startswith("/usr/"):
            cands.append(p[len("/usr"):])
        else:
            cands.append("/usr" + p)
        cands.append(p)
    seen = []
    for c in cands:
        if c not in seen:
            seen.append(c)
    return seen


def packages_of(paths):
    """{path: package} for the files dpkg knows, in one dpkg-query call."""
    variants = {p: merged_usr_variants(p) for p in paths}
    asked = sorted({v for vs in variants.values() for v in vs})
    owner = {}
    if asked:
        out = subprocess.run(["dpkg-query", "-S"] + asked,
                             capture_output=True, text=True)
        # "pkg[:arch][, pkg2]: /path"; diversions start "diversion by".
        for line in out.stdout.splitlines():
            if line.startswith("diversion "):
                continue
            pkgs, _, f = line.rpartition(": ")
            owner.setdefault(f.strip(),
                             pkgs.split(",")[0].strip().split(":")[0])
    result = {}
    for p, vs in variants.items():
        for v in vs:
            if v in owner:
                result[p] = owner[v]
                break
    return result


def installed_packages():
    """{name: (depends-alternatives, essential)} and {virtual: [providers]}."""
    fmt = ("${Package}\t${db:Status-Abbrev}\t${Essential}\t${Provides}\t"
           "${Depends}\t${Pre-Depends}\n")
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True,
                         text=True, check=True)
    pkgs, provides = {}, {}
    for line in out.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 6 or not f[1].startswith("ii"):
            continue
        name = f[0]
        deps = []
        for field in (f[4], f[5]):
            for clause in filter(None, (c.strip() for c in field.split(","))):
                alts = [re.sub(r"[\s(:].*", "", a.strip())
                        for a in clause.split("|")]
                deps.append(alts)
        pkgs[name] = (deps, f[2] == "yes")
        for prov in filter(None, (p.strip() for p in f[3].split(","))):
            provides.setdefault(re.sub(r"[\s(].*", "", prov), []).append(name)
    return pkgs, provides


def closure(listed, pkgs, provides):
    """Listed packages, their recursive dependencies, and the essential set."""
    have = {p for p, (_, ess) in pkgs.items() if ess}
    todo = [p for p in listed if p in pkgs]
    while todo:
        p = todo.pop()
        if p in have and p not in listed:
            continue
        have.add(p)
        for alts in pkgs[p][0]:
            # An alternative (a | b) is met by whichever is installed.
            for a in alts:
                for cand in [a] + provides.get(a, []):
                    if cand in pkgs and cand not in have:
                        have.add(cand)
                        todo.append(cand)
    return have


def main():
    top, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with open(os.path.join(top, "scripts", "packages.txt")) as fh:
        listed = {l.strip() for l in fh
                  if l.strip() and not l.strip().startswith("#")}

    tmp = tempfile.mkdtemp(prefix="check-packages.")
    try:
        env = system_gst_env(build)
        env["GST_REGISTRY_1_0"] = os.path.join(tmp, "registry.bin")
        known = factories(env)

        files = list(source_files(top))
        ours = set()
        for _, text in files:
            ours.update(REGISTERED.findall(text))

        named = {}     # element -> first "file:line" naming it
        unknown = {}   # pipeline-position word that no installed plugin has
        programs = {}  # program -> first "file:line"
        for rel, text in files:
            is_sh = rel.endswith(".sh") or text.startswith("#!/usr/bin/env bash") \
                or text.startswith("#!/bin/bash")
            for n, line in enumerate(text.splitlines(), 1):
                where = "%s:%d" % (rel, n)
                for tok in TOKEN.findall(line):
                    if tok in known:
                        named.setdefault(tok, where)
                for tok in PIPELINE_POS.findall(line):
                    if (tok not in known and tok not in ours
                            and tok not in NOT_ELEMENTS
                            and shutil.which(tok) is None
                            and not is_function(files, tok)):
                        unknown.setdefault(tok, where)
                if os.path.basename(rel) == "meson.build":
                    for prog in FIND_PROGRAM.findall(line):
                        if "/" in prog and not prog.startswith("/"):
                            continue
                        programs.setdefault(prog, where)
                elif rel.endswith(".py"):
                    for m in PY_ARGV.finditer(line):
                        programs.setdefault(m.group(1) or m.group(2), where)
                elif is_sh and not line.lstrip().startswith("#"):
                    for prog in SH_COMMAND.findall(line):
                        programs.setdefault(prog, where)

        pkgs, provides = installed_packages()
        have = closure(listed, pkgs, provides)
        problems = []

        for element, where in sorted(unknown.items()):
            problems.append(
                "%s (named at %s): no installed plugin provides this element;"
                " install the package that does and add it to"
                " scripts/packages.txt" % (element, where))

        # Element -> plugin file. Factories without a file (bin, pipeline)
        # are built into libgstreamer itself.
        element_file = {}
        for element, where in sorted(named.items()):
            path = plugin_file(env, element)
            if path is None or not path.startswith("/"):
                continue
            if os.path.realpath(path).startswith(build + os.sep):
                continue  # our own plugin, from the build tree
            element_file[element] = path
        # Program -> file (only what is installed: a program that is not
        # is either a word the pattern caught or optional, "where available").
        program_file = {}
        for prog, where in sorted(programs.items()):
            if prog in SHELL_WORDS or is_function(files, prog):
                continue
            path = prog if prog.startswith("/") else shutil.which(prog)
            if path is not None and os.path.isfile(path):
                program_file[prog] = path
        # Build dependency -> its pkg-config file (meson's view of the build).
        dep_file = {}
        deps = subprocess.run(["meson", "introspect", build, "--dependencies"],
                              capture_output=True, text=True)
        if deps.returncode != 0:
            problems.append("meson introspect %s --dependencies failed: %s"
                            % (build, deps.stderr.strip()))
        else:
            for d in json.loads(deps.stdout):
                pc = subprocess.run(["pkg-config", "--path", d["name"]],
                                    capture_output=True, text=True)
                if pc.returncode == 0 and pc.stdout.strip():
                    dep_file[d["name"]] = pc.stdout.strip()
        owner = packages_of(set(element_file.values())
                            | set(program_file.values())
                            | set(dep_file.values()))

        for element, path in sorted(element_file.items()):
            pkg = owner.get(path)
            if pkg is None:
                problems.append("%s (named at %s): its plugin %s belongs to"
                                " no Debian package"
                                % (element, named[element], path))
            elif pkg not in have:
                problems.append(
                    "%s (named at %s): its plugin %s is in package %s, which"
                    " scripts/packages.txt neither lists nor pulls in"
                    % (element, named[element], path, pkg))
        for prog, path in sorted(program_file.items()):
            pkg = owner.get(path)
            if pkg is not None and pkg not in have:
                problems.append(
                    "program %s (run at %s): %s is in package %s, which"
                    " scripts/packages.txt neither lists nor pulls in"
                    % (prog, programs[prog], path, pkg))
        for dep, path in sorted(dep_file.items()):
            pkg = owner.get(path)
            if pkg is not None and pkg not in have:
                problems.append(
                    "build dependency %s: %s is in package %s, which"
                    " scripts/packages.txt neither lists nor pulls in"
                    % (dep, path, pkg))
        checked, nprog = len(element_file), len(program_file)
        for name, path in sorted(list(element_file.items())
                                 + list(program_file.items())
                                 + list(dep_file.items())):
            print("%-22s %-24s %s" % (name, owner.get(path, "?"), path))

        print("checked %d stock elements, %d programs and %d build"
              " dependencies against %d listed packages (%d with their"
              " dependencies)"
              % (checked, nprog, len(dep_file), len(listed), len(have)))
        for p in problems:
            print("MISSING: " + p)
        return 1 if problems else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Shell builtins and keywords that the command pattern can catch.
SHELL_WORDS = {
    "cd", "echo", "exit", "return", "local", "set", "shift", "trap", "wait",
    "kill", "eval", "export", "read", "source", "true", "false", "test",
    "printf", "mapfile", "case", "esac", "for", "in", "fi", "done", "then",
    "do", "else", "elif", "break", "continue", "unset", "declare", "type",
    "command", "exec", "if", "while", "until", "time", "builtin",
    "pwd", "umask", "ulimit", "wait", "select", "function",
}


def is_function(files, name):
    pat = re.compile(r"^\s*(?:function\s+)?%s\s*\(\)" % re.escape(name), re.M)
    return any(pat.search(text) for _, text in files)


if __name__ == "__main__":
    sys.exit(main())
