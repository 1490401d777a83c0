#!/usr/bin/env bash
# test.sh - the one test command: installs what the tests need (apt-get,
# npm), builds the project three ways and runs every test:
#   1. release build (RelWithDebInfo): unit suites and the fuzz corpora
#      replayed (its binaries are also the tenant images' of step 2);
#   2. Debug build under AddressSanitizer + UndefinedBehaviorSanitizer:
#      every suite: unit, integration (real PostgreSQL), browser and the
#      Docker ones (real dockerd, real registry);
#   3. clang libFuzzer build: each harness fuzzes briefly from its corpus;
#   4. lint gates (scripts/lint.sh): clang-format and clang-tidy.
# Usage: scripts/test.sh [-L LABEL_REGEX] (passed to ctest; default all)
# Environment: CLAW_FUZZ_SECONDS (per harness, default 10), CLAW_BUILD_ROOT.
set -euo pipefail
CLAW_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$CLAW_ROOT/scripts/lib/common.sh"

ctest_args=()
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
	sed -n '2,12p' "$0"; exit 0
fi
[ $# -gt 0 ] && ctest_args=("$@")

claw_install_packages
# The edge tests reload Caddy under traffic: the node's kernel settings.
claw_node_sysctls "$CLAW_ROOT"
# npm packages the tests use: MCP servers and the MCP conformance suite
# (tests/node), the browser driver (tests/e2e), the official OpenAI SDK as a
# client of the gateway (tests/node-clients). All pinned by their lock files.
for dir in tests/node tests/e2e tests/node-clients; do
	if [ -f "$CLAW_ROOT/$dir/package-lock.json" ]; then
		claw_say "installing npm test dependencies in $dir"
		(cd "$CLAW_ROOT/$dir" && npm ci --no-audit --no-fund --loglevel=error) >/dev/null \
			|| claw_die "npm ci in $dir failed"
	fi
done

build_root=${CLAW_BUILD_ROOT:-$CLAW_ROOT/build}
mkdir -p "$build_root"
export CLAW_FUZZ_SECONDS=${CLAW_FUZZ_SECONDS:-10}

# Tenant networks earlier runs left behind (a test's node agent is killed,
# and its tenants' networks stay): those with nothing attached are removed
# before the Docker suites run, so runs on one machine never use up the
# engine's address pools (1,024 networks). A running platform's networks
# (scripts/up.sh) have their containers attached and are kept.
prune_tenant_networks() {
	local sock=${CLAW_DOCKER_ROOT:-/var/tmp/claw-docker}/claw/docker.sock n
	[ -S "$sock" ] || return 0
	for n in $(DOCKER_HOST=unix://$sock docker network ls -q \
		--filter label=claw.managed=1 2>/dev/null); do
		if [ "$(DOCKER_HOST=unix://$sock docker network inspect \
			-f '{{len .Containers}}' "$n" 2>/dev/null)" = 0 ]; then
			DOCKER_HOST=unix://$sock docker network rm "$n" >/dev/null 2>&1 || true
		fi
	done
}

status=0
run_suite() {
	local dir=$1 what=$2
	shift 2
	claw_say "running $what"
	if ! (cd "$dir" && ctest --output-on-failure --timeout 900 -j2 "$@" "${ctest_args[@]}"); then
		status=1
	fi
}

claw_say "building release"
claw_build "$build_root/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo
claw_say "building with AddressSanitizer + UndefinedBehaviorSanitizer"
claw_build "$build_root/asan" -DCMAKE_BUILD_TYPE=Debug -DCLAW_SANITIZE=ON
claw_say "building libFuzzer harnesses (clang)"
CC=clang claw_build "$build_root/fuzz" -DCMAKE_BUILD_TYPE=Debug -DCLAW_FUZZ=ON

# Tenant images (FROM scratch, run hardened in containers) hold the release
# binaries; the host-side daemons of the Docker suites run sanitized.
export CLAW_E2E_IMAGE_BUILD_DIR=${CLAW_E2E_IMAGE_BUILD_DIR:-$build_root/release}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The Docker suites (the slowest: real engines, images, containers) run
# once, under the sanitizers, as do the other integration suites; the
# release build runs the unit suites and the fuzz corpora replayed (its
# binaries also serve in the tenant images). Each integration suite once
# keeps the whole command near the 30 minutes the project allows itself.
run_suite "$build_root/release" "unit suites and corpus replays (release build)" -L unit
prune_tenant_networks
run_suite "$build_root/asan" "every suite under ASan + UBSan"
run_suite "$build_root/fuzz" "libFuzzer harnesses" -L fuzz
# The lint gates run on the whole tree, so only when no subset was asked for.
if [ ${#ctest_args[@]} -eq 0 ]; then
	claw_say "lint: clang-format and clang-tidy"
	"$CLAW_ROOT/scripts/lint.sh" "$build_root/fuzz" || status=1
fi

if [ $status -ne 0 ]; then
	claw_say "FAILED: see the output above"
	exit 1
fi
claw_say "all tests passed"
