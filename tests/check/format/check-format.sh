#!/usr/bin/env bash
# clang-format check (suite 'format'): every C/C++ file of the source tree is
# formatted as .clang-format says (`clang-format --dry-run -Werror`). Build
# directories (any directory holding meson-private/) and hidden ones are
# skipped. Fix with `clang-format -i FILE`.
#
#   check-format.sh SOURCE_ROOT
set -u
top=${1:?usage: check-format.sh SOURCE_ROOT}
cd "$top" || exit 1
mapfile -d '' files < <(find . \( -type d \( -name '.*' -a ! -name . \
  -o -exec test -d '{}/meson-private' \; \) -prune \) -o -type f \
  \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \
  -o -name '*.cc' -o -name '*.cxx' \) -print0 | sort -z)
if [ ${#files[@]} -eq 0 ]; then
  echo "no C/C++ files found under $top"
  exit 1
fi
if clang-format --dry-run -Werror "${files[@]}"; then
  echo "ok: ${#files[@]} C/C++ files formatted"
else
  echo "FAIL: clang-format differs (run clang-format -i on the files above)"
  exit 1
fi
