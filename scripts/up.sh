#!/usr/bin/env bash
# up.sh - bring the platform up on this machine (run as root), in the
# foreground:
#   1. install the Debian packages that are missing and build (release);
#   2. make a Docker engine and a local registry answer (docker-env.sh);
#   3. build the tenant images offline and push them (tenant-images.sh);
#   4. without OPENAI_BASE_URL/OPENAI_API_KEY or ANTHROPIC_API_KEY, start
#      the scripted test provider (claw/scripted-llm) as a container that
#      tenant gateways reach on the egress network;
#   5. start claw-controlplane (embedded PostgreSQL) with the tenant images,
#      tenant configs (OpenAI endpoint, web chat, the provider) and the
#      provider's key (llm_api_key) as its defaults and the base domain
#      claw.localhost, the edge (Debian's caddy, admin API on an owner-only
#      unix socket, Caddy's internal CA) and one claw-node-agent joined to
#      the control plane and driving the edge (a join token the first time,
#      its own credential afterwards);
#   6. put clawctl on the PATH (/usr/local/bin/clawctl) with a context
#      "local" for this control plane, and print the URLs, the admin token,
#      the two commands of a first chat, and a curl command that reaches a
#      tenant at its public address through the edge.
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
# CLAW_UP_BUILD_DIR (default <source>/build-release), CLAW_UP_BASE_DOMAIN
# (default claw.localhost: curl and browsers send *.localhost to
# 127.0.0.1), CLAW_UP_EDGE_LISTEN (the edge's HTTPS address, default
# 127.0.0.1:443), CLAW_UP_EDGE_PEER (its plain-HTTP peer address, for the
# control plane's chat relay, default 127.0.0.1:8444), and the provider
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
base_domain=${CLAW_UP_BASE_DOMAIN:-claw.localhost}
edge_listen=${CLAW_UP_EDGE_LISTEN:-127.0.0.1:443}
edge_port=${edge_listen##*:}
# The edge's plain-HTTP peer listener (--edge-advertise): how other
# nodes' edges, and the control plane's chat relay, reach this node's
# tenants. Loopback: nothing else on this machine's network reaches it.
edge_peer=${CLAW_UP_EDGE_PEER:-127.0.0.1:8444}
# The edge: Caddy's admin socket in an owner-only directory, its storage
# (the internal CA's keys: kept, so its root stays the same across runs),
# and the root certificate clients trust.
edge_run=$run/edge
edge_sock=$edge_run/admin.sock
edge_data=$dir/edge
edge_root=$dir/edge-root.crt

cmd=${1:-up}
case "$cmd" in
up|down|status) ;;
-h|--help) sed -n '2,38p' "$0"; exit 0 ;;
*) claw_die "unknown command '$cmd' (up, down or status)" ;;
esac
[ "$(id -u)" = 0 ] || claw_die "run as root (packages, dockerd, network setup)"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ":PORT" when the edge is not on 443 (public URLs name no port).
port_suffix() { [ "$edge_port" = 443 ] || echo ":$edge_port"; }

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
	stop_pid "$run/edge.pid" "the edge (Caddy)"
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
	if alive "$run/edge.pid"; then
		echo "edge (Caddy): running (pid $(cat "$run/edge.pid")), https://*.$base_domain$(port_suffix)/ on $edge_listen, CA root $edge_root"
	else echo "edge (Caddy): stopped"; fi
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
# scripted provider can sit on it before any node agent runs. Every gateway
# takes an address of it and of the edge network: on an engine docker-env.sh
# runs (whose pool hands out /26s) both get a /20 of its shared subnet.
shared_args=() egress_args=()
if [ -n "${CLAW_SHARED_SUBNET:-}" ]; then
	shared=${CLAW_SHARED_SUBNET%.0.0/16}
	egress_args=(--subnet "$shared.0.0/20" --gateway "$shared.0.1")
	shared_args=(--edge-subnet "$shared.16.0/20")
fi
if ! docker network inspect "$egress" >/dev/null 2>&1; then
	docker network create -o com.docker.network.bridge.enable_icc=false \
		"${egress_args[@]}" --label claw.managed=1 "$egress" >/dev/null
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
	llm_key_value=$OPENAI_API_KEY
elif [ -n "${ANTHROPIC_API_KEY:-}" ]; then
	provider="Anthropic at https://api.anthropic.com (your ANTHROPIC_API_KEY)"
	llm_kind=anthropic llm_base=https://api.anthropic.com
	llm_model=${ANTHROPIC_MODEL:-claude-sonnet-4-5}
	llm_key_value=$ANTHROPIC_API_KEY
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
	llm_key_file=$keydir/llm_api_key
fi
# The user's own key goes to a root-only file: the control plane reads it
# as the fleet's default llm_api_key (a tenant that sets none gets it).
if [ -z "${llm_key_file:-}" ]; then
	mkdir -p "$dir/provider"
	chmod 0700 "$dir/provider"
	llm_key_file=$dir/provider/llm_api_key
	(umask 077; printf '%s' "$llm_key_value" >"$llm_key_file")
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

# The fleet's default llm_api_key, so a deploy needs no secret typed by
# hand (a control plane without the option: a secret per tenant).
cp_bin=$build/controlplane/claw-controlplane
cp_extra=()
# (Read whole first: with pipefail, grep -q closing the pipe early would
# make the pipeline fail.)
cp_help=$("$cp_bin" --help 2>&1 || true)
case "$cp_help" in
*--default-secret*) cp_extra+=(--default-secret "llm_api_key=$llm_key_file") ;;
*) claw_say "this claw-controlplane has no --default-secret: store llm_api_key per tenant (clawctl secrets)" ;;
esac

claw_say "starting the control plane on $listen (data in $dir/controlplane)"
mkdir -p "$dir/controlplane"
"$cp_bin" --listen "$listen" \
	--data-dir "$dir/controlplane" \
	--migrations-dir "$CLAW_ROOT/migrations" \
	--default-gateway-image "$CLAW_GATEWAY_IMAGE" \
	--default-runtime-image "$CLAW_RUNTIME_IMAGE" \
	--default-gateway-config "$defaults/gateway.json" \
	--default-runtime-config "$defaults/runtime.json" \
	--registry-user "$CLAW_REGISTRY_USER" \
	--registry-password-file "$CLAW_REGISTRY_PASSWORD_FILE" \
	--base-domain "$base_domain" "${cp_extra[@]}" \
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
# The edge: Debian's Caddy with a boot config that holds only its admin
# endpoint (never persisted); the node agent loads everything else through
# the admin API (docs/node-agent.md, "Edge"). Its own port: two Caddys on
# one port would share it silently (SO_REUSEPORT).
for p in "$edge_port:CLAW_UP_EDGE_LISTEN" "${edge_peer##*:}:CLAW_UP_EDGE_PEER"; do
	if [ -n "$(ss -ltnH "sport = :${p%%:*}" 2>/dev/null)" ]; then
		claw_die "something listens on port ${p%%:*} already (ss -ltnp 'sport = :${p%%:*}'); set ${p#*:}=127.0.0.1:PORT"
	fi
done
mkdir -p "$edge_run" "$edge_data"
chmod 0700 "$edge_run" "$edge_data"
printf '{"admin": {"listen": "unix/%s", "config": {"persist": false}}}\n' \
	"$edge_sock" >"$edge_run/boot.json"
claw_say "starting the edge (Caddy) on $edge_listen, admin API on $edge_sock"
HOME=$edge_data XDG_DATA_HOME=$edge_data/data XDG_CONFIG_HOME=$edge_data/config \
	caddy run --config "$edge_run/boot.json" >>"$dir/edge.log" 2>&1 </dev/null &
echo $! >"$run/edge.pid"
for _ in $(seq 1 300); do
	# Caddy takes only an empty Host header on its unix socket.
	curl -fsS -o /dev/null -H 'Host;' --unix-socket "$edge_sock" http://localhost/config/ 2>/dev/null && break
	alive "$run/edge.pid" || { tail -n 20 "$dir/edge.log" >&2; claw_die "Caddy exited (log: $dir/edge.log)"; }
	sleep 0.1
done

claw_say "starting the node agent '$node'"
CLAW_JOIN_TOKEN=$join "$build/node-agent/claw-node-agent" \
	--control-plane "$url" --docker-socket "$CLAW_DOCKER_SOCKET" \
	--state-dir "$agent_dir" --secrets-dir /run/claw-up/secrets \
	--egress-network "$egress" --api-socket "$agent_sock" --node-name "$node" \
	--edge-admin "unix:$edge_sock" --edge-listen "$edge_listen" \
	--edge-tls internal --edge-ask "$url/v1/edge/ask" \
	--edge-advertise "$edge_peer" "${shared_args[@]}" \
	>>"$dir/node-agent.log" 2>&1 </dev/null &
echo $! >"$run/node-agent.pid"
edge_state=
for _ in $(seq 1 600); do
	edge_state=$(curl -fsS --unix-socket "$agent_sock" http://agent/v1/status 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["edge"]["state"])' 2>/dev/null || true)
	[ "$edge_state" = ok ] && break
	alive "$run/node-agent.pid" || { tail -n 20 "$dir/node-agent.log" >&2; claw_die "the node agent exited (log: $dir/node-agent.log)"; }
	sleep 0.1
done
[ "$edge_state" = ok ] || claw_die "the node agent did not bring the edge up (state '${edge_state:-none}'; logs: $dir/node-agent.log, $dir/edge.log)"
# The root of Caddy's internal CA, made when the agent first loaded a
# config (kept in Caddy's storage, so it is the same on every run).
ca=$edge_data/data/caddy/pki/authorities/local/root.crt
for _ in $(seq 1 300); do
	[ -s "$ca" ] && break
	sleep 0.1
done
[ -s "$ca" ] || claw_die "no root certificate from Caddy's internal CA at $ca"
install -m 0644 "$ca" "$edge_root"

# clawctl on the PATH, with a context "local" for this control plane (the
# contexts file of docs/clawctl.md; its token file is the admin token's,
# root only). An existing /usr/local/bin/clawctl that is not a link is
# left alone.
link=/usr/local/bin/clawctl
if [ -L "$link" ] || [ ! -e "$link" ]; then
	ln -sfn "$build/cli/clawctl" "$link"
else
	claw_say "$link exists and is not a link: left alone (ours is $build/cli/clawctl)"
fi
clawctl_config=${XDG_CONFIG_HOME:-$HOME/.config}/clawctl/config
mkdir -p "$(dirname "$clawctl_config")"
CFG=$clawctl_config SERVER=$url TOKEN_FILE=$dir/controlplane/admin.token python3 - <<'PY'
import json, os
path = os.environ["CFG"]
try:
    with open(path) as f:
        cfg = json.load(f)
except (OSError, ValueError):
    cfg = {}
if not isinstance(cfg, dict):
    cfg = {}
ctx = cfg.get("contexts")
ctx = ctx if isinstance(ctx, dict) else {}
ctx["local"] = {"server": os.environ["SERVER"],
                "token-file": os.environ["TOKEN_FILE"]}
cfg["contexts"] = ctx
cfg["current-context"] = "local"
tmp = path + ".new"
fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump(cfg, f, indent=1)
    f.write("\n")
os.chmod(tmp, 0o600)
os.replace(tmp, path)
PY

cat <<EOF

  control plane  $url
  dashboard      $url/
  admin token    $token
  LLM provider   $provider
  tenant images  $CLAW_GATEWAY_IMAGE
                 $CLAW_RUNTIME_IMAGE
  node agent     $node, joined (status: curl --unix-socket $agent_sock http://agent/v1/status)
  edge           Caddy on $edge_listen: every tenant at https://SLUG.$base_domain$(port_suffix)/
                 (Caddy's internal CA; its root certificate: $edge_root)
  clawctl        $link, context "local" in $clawctl_config

  A first tenant and a chat with it:

    clawctl tenants create demo && clawctl deploy demo
    clawctl chat demo hello

  The tenant at its public address, through the edge (curl and browsers
  send *.localhost to 127.0.0.1):

    curl --cacert $edge_root https://demo.$base_domain$(port_suffix)/healthz

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
