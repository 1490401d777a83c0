#!/usr/bin/env bash
# setup.sh - make a Compose project of the platform ready on this Docker
# host (docs/compose.md), then `docker-compose up -d` (or `docker compose`)
# runs it:
#   1. build the images offline and push them (platform-images.sh,
#      tenant-images.sh) and write their digests into PROJECT/.env;
#   2. make what is missing of PROJECT/config (controlplane.conf: the
#      registry user; gateway.json and runtime.json: the fleet's default
#      tenant configs for an OpenAI-compatible provider) and of
#      PROJECT/secrets (pgpass with a random password, llm_api_key,
#      registry_password, node_agent.conf), secrets owned by the daemons'
#      users and mode 0400. Existing files are kept: running it again only
#      rebuilds the images (an upgrade).
#
#   setup.sh [--project-dir DIR] [--build-dir DIR] [--tag TAG]
#            [--llm-base-url URL] [--llm-model NAME] [--llm-key-file FILE]
#            [--base-domain DOMAIN]
#
# PROJECT defaults to this directory (deploy/compose). The build directory
# (default ./build-release) holds a release build of the project; TAG
# defaults to "compose". The registry, its user and its password file are
# scripts/docker-env.sh's ($CLAW_REGISTRY, $CLAW_REGISTRY_USER,
# $CLAW_REGISTRY_PASSWORD_FILE); DOCKER_HOST selects the engine. The LLM
# provider defaults to https://api.openai.com/v1, model gpt-4o-mini; its key
# is copied from --llm-key-file (else secrets/llm_api_key is left for you
# to fill in). DOMAIN (default claw.localhost) is where tenants answer,
# https://SLUG.DOMAIN, through the edge; CLAW_EDGE_RUN_DIR in .env (default
# /run/claw-edge), the edge's admin socket directory, is made for its user.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
project=$here
build=${CLAW_IMAGE_BUILD_DIR:-build-release}
tag=compose
llm_base=https://api.openai.com/v1
llm_model=gpt-4o-mini
llm_key_file=
base_domain=claw.localhost
while [ $# -gt 0 ]; do
	case "$1" in
	--project-dir) project=$2; shift 2 ;;
	--build-dir) build=$2; shift 2 ;;
	--tag) tag=$2; shift 2 ;;
	--llm-base-url) llm_base=$2; shift 2 ;;
	--llm-model) llm_model=$2; shift 2 ;;
	--llm-key-file) llm_key_file=$2; shift 2 ;;
	--base-domain) base_domain=$2; shift 2 ;;
	-h|--help) sed -n '2,28p' "$0"; exit 0 ;;
	*) echo "setup: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "setup: run as root (secrets are chowned)" >&2; exit 2; }
case "$llm_base" in
http://*|https://*) ;;
*) echo "setup: --llm-base-url must be http(s)://..." >&2; exit 2 ;;
esac
mkdir -p "$project/config" "$project/secrets"
chmod 0755 "$project/secrets"

# 1. images
images=$("$src/deploy/images/platform-images.sh" --build-dir "$build" --tag "$tag")
images+=$'\n'$("$src/deploy/images/tenant-images.sh" --build-dir "$build" --tag "$tag" |
	grep -E '^CLAW_(GATEWAY|RUNTIME|SCRIPTED_LLM)_IMAGE=')
env_file=$project/.env
{
	echo "# written by deploy/compose/setup.sh; the images' digests are replaced on every run"
	echo "$images"
	[ -f "$env_file" ] && grep -vE '^(#|CLAW_(CONTROLPLANE|NODE_AGENT|POSTGRES|GATEWAY|RUNTIME|SCRIPTED_LLM)_IMAGE=)' "$env_file" || true
} >"$env_file.new"
mv "$env_file.new" "$env_file"

# 2. config
host_port() { # URL -> host:port (default port by scheme)
	local u=${1#*://} hp
	hp=${u%%/*}
	case "$hp" in
	*:*) echo "$hp" ;;
	*) case "$1" in https:*) echo "$hp:443" ;; *) echo "$hp:80" ;; esac ;;
	esac
}
if [ ! -e "$project/config/controlplane.conf" ]; then
	{
		echo "# claw-controlplane settings ('key = value', claw-controlplane --help)"
		if [ -n "${CLAW_REGISTRY_USER:-}" ]; then
			echo "registry-user = $CLAW_REGISTRY_USER"
			echo "registry-password-file = /run/secrets/registry_password"
		else
			echo "# registry-user = USER"
			echo "# registry-password-file = /run/secrets/registry_password"
		fi
		echo "base-domain = $base_domain"
	} >"$project/config/controlplane.conf"
fi
if [ ! -e "$project/config/gateway.json" ]; then
	printf '{"egress_allow": ["%s"],\n "channels": {"openai": {}, "webchat": {}}}\n' \
		"$(host_port "$llm_base")" >"$project/config/gateway.json"
fi
if [ ! -e "$project/config/runtime.json" ]; then
	printf '{"proxy": "http://gateway:3128",\n "providers": [{"name": "main", "kind": "openai", "base_url": "%s",\n                "model": "%s", "api_key_secret": "llm_api_key"}]}\n' \
		"$llm_base" "$llm_model" >"$project/config/runtime.json"
fi
chmod 0644 "$project/config/"*

# The edge's admin socket directory: Caddy (65532) makes the socket, the
# node agent (root) connects; nobody else.
edge_run=$(sed -n 's/^CLAW_EDGE_RUN_DIR=//p' "$env_file" | tail -n 1)
edge_run=${edge_run:-/run/claw-edge}
mkdir -p "$edge_run"
chown 65532:65532 "$edge_run"
chmod 0700 "$edge_run"

# 3. secrets: the control plane's and PostgreSQL's owned by 65532 (both
# run as it), the node agent's by root.
secret() { # name, owner, content command...
	local f=$project/secrets/$1 owner=$2
	shift 2
	if [ ! -e "$f" ]; then
		(umask 077; "$@" >"$f")
	fi
	chown "$owner" "$f"
	chmod 0400 "$f"
}
secret pgpass 65532:65532 sh -c 'printf "*:*:*:claw:%s\n" "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n")"'
if [ -n "$llm_key_file" ]; then
	secret llm_api_key 65532:65532 cat "$llm_key_file"
else
	secret llm_api_key 65532:65532 printf ''
fi
if [ -n "${CLAW_REGISTRY_PASSWORD_FILE:-}" ]; then
	secret registry_password 65532:65532 cat "$CLAW_REGISTRY_PASSWORD_FILE"
else
	secret registry_password 65532:65532 printf ''
fi
secret node_agent.conf 0:0 printf '# join-token = (clawctl nodes join-token), the first start only\n'
echo "setup: $project is ready (images in $env_file); see docs/compose.md" >&2
