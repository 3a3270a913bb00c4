#!/usr/bin/env bash
# Every relative link in the given Markdown files points at a file or
# directory of the source tree (web links and #anchors are not checked).
#
#   check-links.sh SOURCE_ROOT FILE.md...   (FILE relative to SOURCE_ROOT)
set -u
src=${1:?usage: check-links.sh SOURCE_ROOT FILE.md...}
shift
status=0
for f in "$@"; do
  if [ ! -f "$src/$f" ]; then
    echo "$f: missing"
    status=1
    continue
  fi
  dir=$(dirname "$src/$f")
  # ](target) and ](target "title"); one link per line of grep -o output.
  while IFS= read -r target; do
    case "$target" in
      http://* | https://* | mailto:* | '#'*) continue ;;
    esac
    path=${target%%#*}
    if [ ! -e "$dir/$path" ]; then
      echo "$f: broken link to $target"
      status=1
    fi
  done < <(grep -o '](\([^)" ]*\)' "$src/$f" | sed 's/^](//')
done
if [ "$status" = 0 ]; then
  echo "all relative links resolve in: $*"
fi
exit $status
