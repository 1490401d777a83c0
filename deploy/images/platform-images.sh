#!/usr/bin/env bash
# platform-images.sh - build the platform's own daemons' images offline and
# push them, for deploy/compose/compose.yaml: claw/controlplane,
# claw/node-agent, claw/postgres and claw/edge. Each is a FROM-scratch
# image made by build.sh (no base image is pulled):
#   claw/controlplane  claw-controlplane, its libraries, the migrations
#                      and the dashboard (/usr/local/share/claw); uid 65532
#   claw/node-agent    claw-node-agent and its libraries; root (it drives
#                      the host's Docker engine and chowns tenant files)
#   claw/postgres      Debian's PostgreSQL 15 server (postgresql-15's
#                      bin/ and lib/ without the LLVM JIT, share/, the
#                      zoneinfo), pg_isready, Debian's busybox-static as
#                      /bin/sh (initdb needs a shell) and
#                      postgres-entrypoint.sh; uid 65532
#   claw/edge          Debian's caddy with the boot config of
#                      deploy/edge/caddy-boot.json (its admin API on
#                      /run/claw-edge/admin.sock only; the node agent
#                      loads the rest); its storage under /var/lib/claw;
#                      uid 65532
#
#   platform-images.sh [--build-dir DIR] [--tag TAG] [--registry HOST:PORT]
#                      [--user U --password-file F] [--no-push]
#
# As tenant-images.sh: DIR is a CMake build directory holding the
# binaries (default ./build-release, or $CLAW_IMAGE_BUILD_DIR), TAG
# defaults to "latest", the registry settings to scripts/docker-env.sh's,
# DOCKER_HOST selects the engine. Prints shell assignments (eval-able, and
# the lines of a Compose .env file), each reference pinned by digest (or
# the local tag with --no-push):
#   CLAW_CONTROLPLANE_IMAGE=HOST:PORT/claw/controlplane@sha256:...
#   CLAW_NODE_AGENT_IMAGE=HOST:PORT/claw/node-agent@sha256:...
#   CLAW_POSTGRES_IMAGE=HOST:PORT/claw/postgres@sha256:...
#   CLAW_EDGE_IMAGE=HOST:PORT/claw/edge@sha256:...
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${CLAW_IMAGE_BUILD_DIR:-build-release}
tag=latest
pass=() # the registry's options, for build.sh to check
while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir|--tag) [ $# -ge 2 ] || { echo "platform-images: $1 needs a value" >&2; exit 2; }
		if [ "$1" = --tag ]; then tag=$2; else build=$2; fi
		shift 2 ;;
	-h|--help) sed -n '2,33p' "$0"; exit 0 ;;
	*) pass+=("$1"); shift ;;
	esac
done
[[ "$tag" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "platform-images: bad tag '$tag'" >&2; exit 2; }
pg=/usr/lib/postgresql/15
for f in "$build/controlplane/claw-controlplane" "$build/node-agent/claw-node-agent" \
	"$pg/bin/postgres" "$pg/bin/initdb" "$pg/bin/pg_isready" /bin/busybox \
	/usr/bin/caddy; do
	[ -x "$f" ] || {
		echo "platform-images: no '$f' (build the project into $build; apt-get install postgresql-15 busybox-static caddy)" >&2
		exit 2
	}
done
# busybox-static: one static binary, so /bin/sh needs no libraries.
if ldd /bin/busybox >/dev/null 2>&1; then
	echo "platform-images: /bin/busybox is not static (apt-get install busybox-static)" >&2
	exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ref=$("$here/build.sh" --binary "$build/controlplane/claw-controlplane" \
	--image "claw/controlplane:$tag" \
	--add "$src/migrations=/usr/local/share/claw/migrations" \
	--add "$src/web=/usr/local/share/claw/web" \
	--env CLAW_MIGRATIONS_DIR=/usr/local/share/claw/migrations \
	--env CLAW_WEB_DIR=/usr/local/share/claw/web \
	--env CLAW_DATA_DIR=/var/lib/claw \
	"${pass[@]}")
echo "CLAW_CONTROLPLANE_IMAGE=$ref"

ref=$("$here/build.sh" --binary "$build/node-agent/claw-node-agent" \
	--image "claw/node-agent:$tag" --run-as 0:0 "${pass[@]}")
echo "CLAW_NODE_AGENT_IMAGE=$ref"

# The server's tree without the LLVM JIT (llvmjit.so and its bitcode pull
# in libLLVM, ~100 MB; the entrypoint runs with jit=off) and without the
# client tools the image does not use.
mkdir -p "$work/pg/bin" "$work/pg/lib"
for b in postgres initdb pg_ctl pg_isready; do cp -a "$pg/bin/$b" "$work/pg/bin/"; done
find "$pg/lib" -maxdepth 1 -name '*.so' ! -name 'llvmjit*' -exec cp -a {} "$work/pg/lib/" \;
cp "$here/postgres-entrypoint.sh" "$work/entrypoint"
chmod 0755 "$work/entrypoint"
ref=$("$here/build.sh" --binary "$pg/bin/pg_isready" --name pg_isready \
	--image "claw/postgres:$tag" \
	--add "$work/pg=$pg" \
	--add "/usr/share/postgresql/15=/usr/share/postgresql/15" \
	--add "/usr/share/zoneinfo=/usr/share/zoneinfo" \
	--add "/bin/busybox=/bin/sh" \
	--add "$work/entrypoint=/usr/local/bin/claw-postgres-entrypoint" \
	--entrypoint /usr/local/bin/claw-postgres-entrypoint \
	--env PGDATA=/var/lib/claw/pg \
	"${pass[@]}")
echo "CLAW_POSTGRES_IMAGE=$ref"

ref=$("$here/build.sh" --binary /usr/bin/caddy --image "claw/edge:$tag" \
	--add "$src/deploy/edge/caddy-boot.json=/etc/claw/caddy-boot.json" \
	--env HOME=/var/lib/claw --env XDG_DATA_HOME=/var/lib/claw/data \
	--env XDG_CONFIG_HOME=/var/lib/claw/config \
	--cmd run --cmd --config --cmd /etc/claw/caddy-boot.json "${pass[@]}")
echo "CLAW_EDGE_IMAGE=$ref"
