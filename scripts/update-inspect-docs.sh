#!/usr/bin/env bash
# Regenerates docs/inspect/<element>.txt, the committed gst-inspect-1.0
# output of every element of the plugin, from a build tree.
#
#   scripts/update-inspect-docs.sh [BUILDDIR [OUTDIR]]
#
# BUILDDIR defaults to build; OUTDIR to docs/inspect (the docs test writes to
# a temporary OUTDIR and diffs it against docs/inspect). Machine-specific
# parts are normalised: the plugin's file name is printed relative to the
# build tree as "<builddir>/plugins/fanout/libgstfanout.so".
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-build}
case "$builddir" in /*) ;; *) builddir=$top/$builddir ;; esac
outdir=${2:-$top/docs/inspect}
plugindir=$builddir/plugins/fanout
elements="payloadbatch fanout fanoutsink fanoutsrc fanoutshmsink fanoutshmsrc"

if [ ! -f "$plugindir/libgstfanout.so" ]; then
  echo "no plugin in $plugindir: build first (bash scripts/build.sh)" >&2
  exit 2
fi
mkdir -p "$outdir"
registry=$(mktemp "${TMPDIR:-/tmp}/inspect-registry.XXXXXX")
trap 'rm -f "$registry"' EXIT

for e in $elements; do
  # Only our plugin and the core are scanned: the output cannot depend on
  # which other plugins this machine has.
  if ! GST_PLUGIN_SYSTEM_PATH_1_0='' GST_PLUGIN_PATH_1_0="$plugindir" \
    GST_REGISTRY_1_0="$registry" GST_REGISTRY_FORK=no \
    GST_INSPECT_NO_COLORS=1 PAGER=cat LC_ALL=C \
    gst-inspect-1.0 "$e" >"$outdir/$e.txt.tmp" 2>&1; then
    echo "gst-inspect-1.0 $e failed:" >&2
    cat "$outdir/$e.txt.tmp" >&2
    rm -f "$outdir/$e.txt.tmp"
    exit 1
  fi
  sed -e "s|$plugindir/|<builddir>/plugins/fanout/|g" "$outdir/$e.txt.tmp" \
    >"$outdir/$e.txt"
  rm -f "$outdir/$e.txt.tmp"
done
echo "wrote docs for: $elements (in $outdir)"
