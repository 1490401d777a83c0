#!/usr/bin/env bash
# build.sh - the offline image builder. Builds a FROM-scratch image around
# one binary (see mkrootfs.sh) with the classic builder (no base image is
# pulled), runs it as uid 65532, and pushes it to the local registry.
#
#   build.sh --binary PATH --image REPO[:TAG] [--name NAME] [--cmd ARG]...
#            [--registry HOST:PORT] [--user U --password-file F] [--no-push]
#            [--add SRC=DEST]... [--entrypoint PATH] [--run-as UID:GID]
#            [--env NAME=VALUE]...
#
# REPO is given without the registry (e.g. claw/gateway); the image is
# tagged HOST:PORT/REPO:TAG (TAG defaults to "latest"). --cmd arguments
# become the image's CMD (after the ENTRYPOINT, the binary). With no
# --registry the values printed by scripts/docker-env.sh are used
# ($CLAW_REGISTRY, $CLAW_REGISTRY_USER, $CLAW_REGISTRY_PASSWORD_FILE).
# DOCKER_HOST selects the engine. On success it prints the pushed
# reference pinned by digest (HOST:PORT/REPO@sha256:...), or the local tag
# with --no-push. The platform's own images (platform-images.sh) use the
# last four: more files (mkrootfs.sh's SRC=DEST), another ENTRYPOINT than
# the binary, another user than 65532:65532, and ENV lines.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin= image= name= push=1 cmd=() adds=() entry= run_as=65532:65532 envs=()
registry=${CLAW_REGISTRY:-}
user=${CLAW_REGISTRY_USER:-}
pwfile=${CLAW_REGISTRY_PASSWORD_FILE:-}
while [ $# -gt 0 ]; do
	case "$1" in
	--binary) bin=$2; shift 2 ;;
	--image) image=$2; shift 2 ;;
	--name) name=$2; shift 2 ;;
	--cmd) cmd+=("$2"); shift 2 ;;
	--registry) registry=$2; shift 2 ;;
	--user) user=$2; shift 2 ;;
	--password-file) pwfile=$2; shift 2 ;;
	--no-push) push=0; shift ;;
	--add) adds+=("$2"); shift 2 ;;
	--entrypoint) entry=$2; shift 2 ;;
	--run-as) run_as=$2; shift 2 ;;
	--env) envs+=("$2"); shift 2 ;;
	-h|--help) sed -n '2,23p' "$0"; exit 0 ;;
	*) echo "build: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$bin" ] && [ -n "$image" ] || { echo "build: --binary and --image are required" >&2; exit 2; }
case "$run_as" in
[0-9]*:[0-9]*) [ -z "${run_as//[0-9:]/}" ] || { echo "build: --run-as must be UID:GID" >&2; exit 2; } ;;
*) echo "build: --run-as must be UID:GID" >&2; exit 2 ;;
esac
case "$entry" in
''|/*) ;;
*) echo "build: --entrypoint must be an absolute path" >&2; exit 2 ;;
esac
name=${name:-$(basename "$bin")}
case "$image" in *:*) ;; *) image=$image:latest ;; esac
if [ "$push" = 1 ] && [ -z "$registry" ]; then
	echo "build: no registry (run scripts/docker-env.sh or pass --registry)" >&2
	exit 2
fi
ref=$image
[ -n "$registry" ] && ref=$registry/$image

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Login credentials stay in this run's own client config, removed at exit.
export DOCKER_CONFIG=$work/docker-config
"$here/mkrootfs.sh" "$bin" "$work/rootfs" "$name" "${adds[@]}"
# ADD of a tar keeps its owners (COPY would make everything root's), so the
# data directory stays 65532's and the tenant's volume inherits that.
mkdir "$work/ctx"
tar -C "$work/rootfs" --numeric-owner -cf "$work/ctx/rootfs.tar" .

json_cmd=
if [ ${#cmd[@]} -gt 0 ]; then
	json_cmd="CMD ["
	sep=
	for a in "${cmd[@]}"; do
		esc=${a//\\/\\\\}
		esc=${esc//\"/\\\"}
		json_cmd+="$sep\"$esc\""
		sep=", "
	done
	json_cmd+="]"
fi
# A sanitizer build (the test command's images) keeps up to 256 MiB of
# freed memory in ASan's quarantine, more than a tenant's memory limit: a
# long-running container of it was OOM-killed while the release build sat
# at 5 MB. Such images get a small quarantine.
if readelf -d "$bin" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
	envs+=("ASAN_OPTIONS=quarantine_size_mb=8")
fi
env_lines=
for e in "${envs[@]}"; do
	case "$e" in
	*[!A-Za-z0-9_=/.:,@+-]*|=*|[!A-Za-z_]*) echo "build: bad --env '$e'" >&2; exit 2 ;;
	*=*) env_lines+="ENV $e"$'\n' ;;
	*) echo "build: bad --env '$e'" >&2; exit 2 ;;
	esac
done
cat >"$work/ctx/Dockerfile" <<DF
FROM scratch
ADD rootfs.tar /
USER $run_as
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
$env_lines
ENTRYPOINT ["${entry:-/usr/local/bin/$name}"]
$json_cmd
DF
DOCKER_BUILDKIT=0 docker build -q -t "$ref" "$work/ctx" >"$work/build.log" 2>&1 ||
	{ echo "build: docker build of $ref failed:" >&2; tail -n 20 "$work/build.log" >&2; exit 1; }

if [ "$push" = 0 ]; then
	echo "$ref"
	exit 0
fi
if [ -n "$user" ]; then
	[ -r "$pwfile" ] || { echo "build: cannot read password file '$pwfile'" >&2; exit 2; }
	docker login -u "$user" --password-stdin "$registry" <"$pwfile" >/dev/null 2>&1 ||
		{ echo "build: login to $registry failed" >&2; exit 1; }
fi
docker push "$ref" >"$work/push.log" 2>&1 ||
	{ echo "build: push of $ref failed:" >&2; tail -n 5 "$work/push.log" >&2; exit 1; }
digest=$(sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' "$work/push.log" | tail -n 1)
[ -n "$digest" ] || { echo "build: push of $ref printed no digest" >&2; exit 1; }
echo "${ref%:*}@$digest"
