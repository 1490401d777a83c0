#!/usr/bin/env bash
# up.sh - bring the platform up on this machine (run as root), in the
# foreground:
#   1. install the Debian packages that are missing and build (release);
#   2. make a Docker engine and a local registry answer (docker-env.sh);
#   3. build the tenant images offline and push them (tenant-images.sh);
#   4. without OPENAI_BASE_URL/OPENAI_API_KEY or ANTHROPIC_API_KEY, start
#      the scripted test provider (claw/scripted-llm) as a container that
#      tenant gateways reach on the egress network;
#   5. start claw-controlplane (embedded PostgreSQL) with the tenant images
#      and tenant configs (OpenAI endpoint, web chat, the provider) as its
#      defaults, and one claw-node-agent joined to it (a join token the
#      first time, its own credential afterwards);
#   6. print the control plane URL, the dashboard's, the admin token and the
#      curl commands that deploy a first tenant (an empty deploy body) and
#      chat with it.
# Then it waits; Ctrl-C (or `up.sh down` from another shell) stops what it
# started, keeping every byte of data. Running it again reuses the build,
# the images, the database and the containers that exist.
#
#   scripts/up.sh [up]     bring it up (default)
#   scripts/up.sh down     stop what a running or interrupted up started
#   scripts/up.sh status   say what runs
#
# Environment: CLAW_UP_DIR (data and state, default /var/lib/claw-up),
# CLAW_UP_LISTEN (control plane address, default 127.0.0.1:7070),
# CLAW_UP_AGENT_SOCKET (node agent's local API, an owner-only unix socket,
# default DIR/run/node-agent.sock),
# CLAW_UP_BUILD_DIR (default <source>/build-release), and the provider
# variables above. More in docs/up.md.
set -euo pipefail
CLAW_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$CLAW_ROOT/scripts/lib/common.sh"

dir=${CLAW_UP_DIR:-/var/lib/claw-up}
listen=${CLAW_UP_LISTEN:-127.0.0.1:7070}
build=${CLAW_UP_BUILD_DIR:-$CLAW_ROOT/build-release}
run=$dir/run
egress=claw-egress
llm_name=claw-scripted-llm
llm_port=8090
docker_root=${CLAW_DOCKER_ROOT:-/var/tmp/claw-docker}
agent_sock=${CLAW_UP_AGENT_SOCKET:-$run/node-agent.sock}
node=$(hostname -s | tr 'A-Z' 'a-z' | tr -c 'a-z0-9-\n' '-')

cmd=${1:-up}
case "$cmd" in
up|down|status) ;;
-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
*) claw_die "unknown command '$cmd' (up, down or status)" ;;
esac
[ "$(id -u)" = 0 ] || claw_die "run as root (packages, dockerd, network setup)"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Docker's variables, as docker-env.sh printed them the last time.
load_docker_env() {
	[ -f "$run/docker.env" ] || return 1
	set -a
	. "$run/docker.env"
	set +a
}

stop_pid() { # pid file, what
	local pid i
	alive "$1" || { rm -f "$1"; return 0; }
	pid=$(cat "$1")
	claw_say "stopping $2 (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	rm -f "$1"
}

# Stop what up started: the control plane (its PostgreSQL stops with it),
# the scripted provider container, and dockerd/registry when up started
# them. Containers are stopped, not removed; data directories stay.
stop_all() {
	stop_pid "$run/node-agent.pid" "the node agent"
	stop_pid "$run/controlplane.pid" "the control plane"
	if load_docker_env; then
		ids=$(docker ps -q --filter "label=claw.node=$node" 2>/dev/null || true)
		if [ -n "$ids" ]; then
			claw_say "stopping the tenant containers (kept; the agent restarts them)"
			# shellcheck disable=SC2086
			docker stop -t 5 $ids >/dev/null 2>&1 || true
		fi
		if [ -f "$run/llm.started" ]; then
			claw_say "stopping the scripted provider container"
			docker stop -t 5 "$llm_name" >/dev/null 2>&1 || true
			rm -f "$run/llm.started"
		fi
		if [ -f "$run/dockerd.started" ]; then
			claw_say "stopping dockerd and the registry"
			"$CLAW_ROOT/scripts/docker-env.sh" --stop >/dev/null
		elif [ -f "$run/registry.started" ]; then
			claw_say "stopping the registry"
			stop_pid "$docker_root/registry/registry.pid" "the registry"
		fi
		rm -f "$run/docker.env" "$run/dockerd.started" "$run/registry.started"
	fi
}

if [ "$cmd" = status ]; then
	if alive "$run/up.pid"; then echo "up: running (pid $(cat "$run/up.pid"))"
	else echo "up: not running"; fi
	if alive "$run/controlplane.pid"; then
		echo "control plane: running (pid $(cat "$run/controlplane.pid")), http://$listen/"
	else echo "control plane: stopped"; fi
	if alive "$run/node-agent.pid"; then
		echo "node agent '$node': running (pid $(cat "$run/node-agent.pid")), curl --unix-socket $agent_sock http://agent/v1/status"
	else echo "node agent: stopped"; fi
	if load_docker_env; then
		echo "docker: $DOCKER_HOST, registry $CLAW_REGISTRY"
		docker ps --filter "name=^$llm_name\$" --format 'scripted provider: {{.Status}}'
	fi
	exit 0
fi

if [ "$cmd" = down ]; then
	if alive "$run/up.pid"; then
		pid=$(cat "$run/up.pid")
		claw_say "asking up (pid $pid) to stop"
		kill -TERM "$pid"
		for _ in $(seq 1 300); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
	fi
	stop_all
	rm -f "$run/up.pid"
	claw_say "stopped; data kept in $dir"
	exit 0
fi

# ------------------------------------------------------------------ up
mkdir -p "$run"
# 0711: the embedded PostgreSQL runs as its own user and must reach its
# directory below; nothing here is listable by others.
chmod 0711 "$dir"
if alive "$run/up.pid"; then
	claw_die "already running (pid $(cat "$run/up.pid")); 'scripts/up.sh down' stops it"
fi
echo $$ >"$run/up.pid"
on_exit() {
	trap - INT TERM EXIT
	stop_all
	rm -f "$run/up.pid"
}
trap 'exit 130' INT
trap 'exit 143' TERM
trap on_exit EXIT

claw_install_packages
claw_say "building (release) in $build"
mkdir -p "$build"
claw_build "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo

# What answers already is not ours to stop later (docker-env.sh reports
# "started" for an engine of its own that was already running).
socket_answers() {
	[ -S "$1" ] && curl -fsS --max-time 3 --unix-socket "$1" \
		http://localhost/_ping >/dev/null 2>&1
}
engine_was_up=0
for s in "${DOCKER_HOST:+${DOCKER_HOST#unix://}}" /var/run/docker.sock "$docker_root/claw/docker.sock"; do
	if [ -n "$s" ] && socket_answers "$s"; then engine_was_up=1; fi
done
registry_was_up=0
curl -sS --max-time 3 -o /dev/null "http://127.0.0.1:${CLAW_REGISTRY_PORT:-5000}/v2/" 2>/dev/null \
	&& registry_was_up=1
claw_say "starting Docker and the local registry"
"$CLAW_ROOT/scripts/docker-env.sh" >"$run/docker.env.new"
[ "$engine_was_up" = 1 ] || touch "$run/dockerd.started"
[ "$registry_was_up" = 1 ] || touch "$run/registry.started"
mv "$run/docker.env.new" "$run/docker.env"
load_docker_env

# Images: rebuilt and pushed only when one of the binaries changed.
bins=("$build/gateway/claw-gateway" "$build/runtime/claw-runtime"
	"$build/tools/scripted-llm/claw-scripted-llm")
sums=$(sha256sum "${bins[@]}" | cut -d' ' -f1 | tr '\n' ' ')
if [ -s "$run/images.env" ] && [ "$(cat "$run/images.sums" 2>/dev/null)" = "$sums" ]; then
	claw_say "tenant images unchanged"
else
	claw_say "building and pushing the tenant images"
	"$CLAW_ROOT/deploy/images/tenant-images.sh" --build-dir "$build" \
		--tag up >"$run/images.env.new"
	mv "$run/images.env.new" "$run/images.env"
	echo "$sums" >"$run/images.sums"
fi
. "$run/images.env"

# The egress network tenant gateways reach out through, as the node agent
# makes it (no traffic between its containers); made here first so the
# scripted provider can sit on it before any node agent runs.
if ! docker network inspect "$egress" >/dev/null 2>&1; then
	docker network create -o com.docker.network.bridge.enable_icc=false \
		--label claw.managed=1 "$egress" >/dev/null
fi
egress_ip=$(docker network inspect "$egress" -f '{{(index .IPAM.Config 0).Gateway}}')

# LLM provider: the user's own, else the scripted test provider.
# host:port of a URL (default port by scheme), for the egress allow-list.
hostport() {
	local u=${1#*://} scheme=${1%%://*} hp
	hp=${u%%/*}
	case "$hp" in
	*:*) echo "$hp" ;;
	*) if [ "$scheme" = https ]; then echo "$hp:443"; else echo "$hp:80"; fi ;;
	esac
}
provider=
if [ -n "${OPENAI_BASE_URL:-}" ] && [ -n "${OPENAI_API_KEY:-}" ]; then
	provider="openai-compatible at $OPENAI_BASE_URL (your OPENAI_API_KEY)"
	llm_kind=openai llm_base=$OPENAI_BASE_URL llm_model=${OPENAI_MODEL:-gpt-4o-mini}
	llm_key_src='$OPENAI_API_KEY'
elif [ -n "${ANTHROPIC_API_KEY:-}" ]; then
	provider="Anthropic at https://api.anthropic.com (your ANTHROPIC_API_KEY)"
	llm_kind=anthropic llm_base=https://api.anthropic.com
	llm_model=${ANTHROPIC_MODEL:-claude-sonnet-4-5}
	llm_key_src='$ANTHROPIC_API_KEY'
else
	keydir=$dir/scripted-llm
	mkdir -p "$keydir"
	if [ ! -s "$keydir/llm_api_key" ]; then
		(umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n' \
			>"$keydir/llm_api_key")
	fi
	chown 65532:65532 "$keydir/llm_api_key"
	chmod 0400 "$keydir/llm_api_key"
	current=$(docker inspect -f '{{.Config.Image}}' "$llm_name" 2>/dev/null || true)
	if [ -n "$current" ] && [ "$current" != "$CLAW_SCRIPTED_LLM_IMAGE" ]; then
		docker rm -f "$llm_name" >/dev/null
		current=
	fi
	if [ -z "$current" ]; then
		docker create --name "$llm_name" --network "$egress" \
			--read-only --user 65532:65532 --cap-drop ALL \
			--security-opt no-new-privileges:true --tmpfs /tmp \
			--memory 64m --pids-limit 64 \
			-v "$keydir:/run/claw/secrets:ro" \
			-p "$egress_ip:$llm_port:8090" \
			--label claw.role=scripted-llm \
			"$CLAW_SCRIPTED_LLM_IMAGE" --listen 0.0.0.0:8090 \
			--api-key-file /run/claw/secrets/llm_api_key >/dev/null
	fi
	docker start "$llm_name" >/dev/null
	touch "$run/llm.started"
	provider="SCRIPTED TEST PROVIDER (no model: answers \"echo: ...\") at http://$egress_ip:$llm_port/v1, key in $keydir/llm_api_key"
	llm_kind=openai llm_base=http://$egress_ip:$llm_port/v1 llm_model=scripted
	llm_key_src="\$(cat $keydir/llm_api_key)"
fi

# The fleet's default tenant configs, used by a deploy whose body gives
# none (the control plane sets "tenant" to the slug): the gateway serves
# the OpenAI-compatible endpoint and web chat and lets the provider's host
# out; the runtime uses the provider through the gateway's egress proxy,
# with the key each tenant stores as its secret llm_api_key. Rewritten on
# every run, so a new provider takes effect on the next deploy.
defaults=$dir/defaults
mkdir -p "$defaults"
cat >"$defaults/gateway.json" <<JSON
{"egress_allow": ["$(hostport "$llm_base")"],
 "channels": {"openai": {}, "webchat": {}}}
JSON
cat >"$defaults/runtime.json" <<JSON
{"proxy": "http://gateway:3128",
 "providers": [{"name": "main", "kind": "$llm_kind", "base_url": "$llm_base",
                "model": "$llm_model", "api_key_secret": "llm_api_key"}]}
JSON

claw_say "starting the control plane on $listen (data in $dir/controlplane)"
mkdir -p "$dir/controlplane"
"$build/controlplane/claw-controlplane" --listen "$listen" \
	--data-dir "$dir/controlplane" \
	--migrations-dir "$CLAW_ROOT/migrations" \
	--default-gateway-image "$CLAW_GATEWAY_IMAGE" \
	--default-runtime-image "$CLAW_RUNTIME_IMAGE" \
	--default-gateway-config "$defaults/gateway.json" \
	--default-runtime-config "$defaults/runtime.json" \
	--registry-user "$CLAW_REGISTRY_USER" \
	--registry-password-file "$CLAW_REGISTRY_PASSWORD_FILE" \
	>"$run/controlplane.out" 2>>"$dir/controlplane.log" </dev/null &
echo $! >"$run/controlplane.pid"
url=
for _ in $(seq 1 600); do
	url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$run/controlplane.out" | head -n 1)
	[ -n "$url" ] && break
	alive "$run/controlplane.pid" || break
	sleep 0.1
done
[ -n "$url" ] || { tail -n 20 "$dir/controlplane.log" >&2; claw_die "the control plane did not start (log: $dir/controlplane.log)"; }
token=$(cat "$dir/controlplane/admin.token" 2>/dev/null) ||
	claw_die "no admin token in $dir/controlplane/admin.token (see $dir/controlplane.log)"

# One node agent, joined once with a join token; later runs use the
# credential it keeps in its state directory.
agent_dir=$dir/node-agent
mkdir -p "$agent_dir"
join=
if [ ! -s "$agent_dir/node.credential" ]; then
	join=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-d '{"ttl_s": 300}' "$url/v1/nodes/join-tokens" |
		sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
	[ -n "$join" ] || claw_die "could not create a node join token"
fi
claw_say "starting the node agent '$node'"
CLAW_JOIN_TOKEN=$join "$build/node-agent/claw-node-agent" \
	--control-plane "$url" --docker-socket "$CLAW_DOCKER_SOCKET" \
	--state-dir "$agent_dir" --secrets-dir /run/claw-up/secrets \
	--egress-network "$egress" --api-socket "$agent_sock" --node-name "$node" \
	>>"$dir/node-agent.log" 2>&1 </dev/null &
echo $! >"$run/node-agent.pid"
for _ in $(seq 1 300); do
	curl -fsS -o /dev/null --unix-socket "$agent_sock" http://agent/healthz 2>/dev/null && break
	alive "$run/node-agent.pid" || { tail -n 20 "$dir/node-agent.log" >&2; claw_die "the node agent exited (log: $dir/node-agent.log)"; }
	sleep 0.1
done

cat <<EOF

  control plane  $url
  dashboard      $url/
  admin token    $token
  LLM provider   $provider
  tenant images  $CLAW_GATEWAY_IMAGE
                 $CLAW_RUNTIME_IMAGE

  node agent     $node, joined (status: curl --unix-socket $agent_sock http://agent/v1/status)

  A first tenant and a chat with it:

  CP=$url; ADMIN=\$(cat $dir/controlplane/admin.token); KEY=$llm_key_src
  curl -s -H "Authorization: Bearer \$ADMIN" -H 'Content-Type: application/json' \\
       -d '{"slug":"demo","name":"Demo"}' \$CP/v1/tenants
  curl -s -H "Authorization: Bearer \$ADMIN" -X PUT -H 'Content-Type: application/json' \\
       --data "{\"value\":\"\$KEY\"}" \$CP/v1/tenants/demo/secrets/llm_api_key
  CHAT=\$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
  curl -s -H "Authorization: Bearer \$ADMIN" -X PUT -H 'Content-Type: application/json' \\
       --data "{\"value\":\"\$CHAT\"}" \$CP/v1/tenants/demo/secrets/openai_api_token
  curl -s -H "Authorization: Bearer \$ADMIN" -X POST \$CP/v1/tenants/demo/deploy
  # when GET \$CP/v1/tenants/demo/placement says "phase": "healthy":
  PORT=\$(curl -s -H "Authorization: Bearer \$ADMIN" \$CP/v1/tenants/demo/placement |
         python3 -c 'import json,sys; print(json.load(sys.stdin)["observed"]["roles"]["gateway"]["port"])')
  curl -s -H "Authorization: Bearer \$CHAT" -H 'Content-Type: application/json' \\
       -d '{"model":"claw","messages":[{"role":"user","content":"hello"}]}' \\
       http://127.0.0.1:\$PORT/v1/chat/completions

  Ctrl-C or 'scripts/up.sh down' stops it; data stays in $dir.

EOF

# Foreground: until interrupted, or until the control plane or the agent
# exits.
while alive "$run/controlplane.pid" && alive "$run/node-agent.pid"; do
	sleep 1 &
	wait $! || true
done
claw_say "the control plane or the node agent exited; see $dir/controlplane.log and $dir/node-agent.log"
exit 1
