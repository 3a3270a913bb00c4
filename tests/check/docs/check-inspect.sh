#!/usr/bin/env bash
# The committed element reference (docs/inspect/<element>.txt) must be what
# gst-inspect-1.0 prints for the plugin just built: regenerate it into a
# temporary directory with scripts/update-inspect-docs.sh and diff.
#
#   check-inspect.sh SOURCE_ROOT BUILD_ROOT
set -u
src=${1:?usage: check-inspect.sh SOURCE_ROOT BUILD_ROOT}
build=${2:?usage: check-inspect.sh SOURCE_ROOT BUILD_ROOT}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/inspect-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

bash "$src/scripts/update-inspect-docs.sh" "$build" "$tmp" || exit 1
status=0
for f in "$tmp"/*.txt; do
  name=$(basename "$f")
  if [ ! -f "$src/docs/inspect/$name" ]; then
    echo "docs/inspect/$name is missing"
    status=1
  elif ! diff -u "$src/docs/inspect/$name" "$f"; then
    status=1
  fi
done
for f in "$src"/docs/inspect/*.txt; do
  [ -f "$tmp/$(basename "$f")" ] || {
    echo "docs/inspect/$(basename "$f") documents no element of the plugin"
    status=1
  }
done
if [ "$status" != 0 ]; then
  echo "docs/inspect/ is out of date: run scripts/update-inspect-docs.sh BUILDDIR and commit the result"
else
  echo "docs/inspect/ matches gst-inspect-1.0 of the built plugin"
fi
exit $status
