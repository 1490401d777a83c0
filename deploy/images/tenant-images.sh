#!/usr/bin/env bash
# tenant-images.sh - build the platform's own tenant images offline and push
# them: claw/gateway (claw-gateway), claw/runtime (claw-runtime) and
# claw/scripted-llm (claw-scripted-llm, the offline test provider, listening
# on 0.0.0.0:8090 in its container). Each is a FROM-scratch image made by
# build.sh: the binary, its libraries, a CA bundle, uid 65532, the tenant
# container layout of docs/contracts.md.
#
#   tenant-images.sh [--build-dir DIR] [--tag TAG] [--registry HOST:PORT]
#                    [--user U --password-file F] [--no-push]
#
# DIR is a CMake build directory holding the three binaries (default
# ./build-release, or $CLAW_IMAGE_BUILD_DIR); build it without sanitizers
# for images meant to run for real. TAG defaults to "latest". Registry
# settings default to those printed by scripts/docker-env.sh ($CLAW_REGISTRY,
# $CLAW_REGISTRY_USER, $CLAW_REGISTRY_PASSWORD_FILE); DOCKER_HOST selects
# the engine. Prints shell assignments (eval-able), each reference pinned
# by digest (or the local tag with --no-push):
#   CLAW_GATEWAY_IMAGE=HOST:PORT/claw/gateway@sha256:...
#   CLAW_RUNTIME_IMAGE=HOST:PORT/claw/runtime@sha256:...
#   CLAW_SCRIPTED_LLM_IMAGE=HOST:PORT/claw/scripted-llm@sha256:...
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${CLAW_IMAGE_BUILD_DIR:-build-release}
tag=latest
pass=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir) build=$2; shift 2 ;;
	--tag) tag=$2; shift 2 ;;
	--registry|--user|--password-file) pass+=("$1" "$2"); shift 2 ;;
	--no-push) pass+=("$1"); shift ;;
	-h|--help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "tenant-images: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
case "$tag" in
*[!A-Za-z0-9_.-]*|'') echo "tenant-images: bad tag '$tag'" >&2; exit 2 ;;
esac

# variable, binary (relative to the build dir), repository, CMD arguments
images=(
	"CLAW_GATEWAY_IMAGE gateway/claw-gateway claw/gateway --log-nonblocking true"
	"CLAW_RUNTIME_IMAGE runtime/claw-runtime claw/runtime --log-nonblocking true"
	"CLAW_SCRIPTED_LLM_IMAGE tools/scripted-llm/claw-scripted-llm claw/scripted-llm --listen 0.0.0.0:8090"
)
for entry in "${images[@]}"; do
	read -r _ bin _ <<<"$entry"
	[ -x "$build/$bin" ] || {
		echo "tenant-images: no binary '$build/$bin' (build the project into $build first)" >&2
		exit 2
	}
done

for entry in "${images[@]}"; do
	read -r var bin repo args <<<"$entry"
	cmd=()
	for a in $args; do cmd+=(--cmd "$a"); done
	ref=$("$here/build.sh" --binary "$build/$bin" --image "$repo:$tag" \
		"${cmd[@]}" "${pass[@]}")
	echo "$var=$ref"
done
