#!/usr/bin/env bash
# lint.sh - the lint gates of the test command; any finding fails it.
#   1. clang-format: every tracked .c/.h file is formatted as .clang-format
#      says (the diff is printed; `scripts/lint.sh --fix` rewrites the files);
#   2. clang-tidy: the checks in .clang-tidy, over every C file of the
#      project in the compile database of a clang build.
# banned.h needs no step here: it makes the banned calls compile errors.
# Usage: scripts/lint.sh [--fix] [BUILD_DIR]  (BUILD_DIR: a clang build with
# compile_commands.json; default build/fuzz, made by scripts/test.sh)
set -euo pipefail
CLAW_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$CLAW_ROOT/scripts/lib/common.sh"
cd "$CLAW_ROOT"

fix=0
if [ "${1:-}" = --fix ]; then
	fix=1
	shift
fi
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
	sed -n '2,9p' "$0"; exit 0
fi
build=${1:-${CLAW_BUILD_ROOT:-$CLAW_ROOT/build}/fuzz}

mapfile -t files < <(git ls-files '*.c' '*.h')
status=0

if [ $fix = 1 ]; then
	clang-format -i "${files[@]}"
	claw_say "formatted ${#files[@]} files"
	exit 0
fi

claw_say "clang-format: checking ${#files[@]} files"
bad=()
for f in "${files[@]}"; do
	if ! clang-format --dry-run --Werror "$f" 2>/dev/null; then
		bad+=("$f")
	fi
done
if [ ${#bad[@]} -gt 0 ]; then
	for f in "${bad[@]}"; do
		clang-format "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" - | head -40 || true
	done
	claw_say "clang-format: ${#bad[@]} file(s) not formatted; run scripts/lint.sh --fix"
	status=1
fi

[ -f "$build/compile_commands.json" ] ||
	claw_die "no $build/compile_commands.json: build with clang first (scripts/test.sh does)"
claw_say "clang-tidy: checking the C files of $build/compile_commands.json"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! run-clang-tidy -quiet -p "$build" -j "$(nproc)" \
	-header-filter="^$CLAW_ROOT/(lib|controlplane|node-agent|gateway|runtime|cli|tools)/" \
	"^$CLAW_ROOT/(lib|controlplane|node-agent|gateway|runtime|cli|tools|tests|bench)/" \
	>"$log" 2>&1; then
	sed "s/\x1b\[[0-9;]*m//g" "$log" | grep -E "(warning|error):" | sort -u || true
	claw_say "clang-tidy: findings above (see .clang-tidy for why each check is on)"
	status=1
fi
[ $status = 0 ] && claw_say "lint: clean"
exit $status
