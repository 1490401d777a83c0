#!/usr/bin/env bash
# docker-env.sh - make a Docker engine and a local image registry answer, for
# the tests, the benchmarks and the platform's "up" command. Idempotent.
#
#   scripts/docker-env.sh [--no-registry] [--stop] [NAME]
#
# NAME (default "claw") names one engine instance. For the default instance a
# Docker socket that already answers ($DOCKER_HOST, then /var/run/docker.sock)
# is used as it is; otherwise, and always for any other NAME, Debian's
# dockerd is started as root with its own data root, exec root, pid file and
# unix socket under $CLAW_DOCKER_ROOT/NAME (default /var/tmp/claw-docker),
# no default bridge, and its own default address pool, so several engines
# (one per simulated node) run side by side. A starting dockerd flushes the
# host's shared isolation chains (see start_dockerd). CLAW_DOCKER_LIVE_RESTORE=1
# starts it with live-restore (its containers outlive a crash or restart of
# dockerd; not the default: docs/reliability.md, finding 21).
#
# The registry (Debian's docker-registry) listens on 127.0.0.1:$CLAW_REGISTRY_PORT
# (default 5000) with htpasswd (bcrypt) auth; user "claw", the password is made
# once and kept in $CLAW_DOCKER_ROOT/registry/password (mode 0600). A registry
# on another port is one of its own, in $CLAW_DOCKER_ROOT/registry-PORT (a
# run that kills its registry, such as the chaos harness, uses one so the
# shared one stays up).
#
# On success it prints shell assignments (eval-able):
#   DOCKER_HOST=unix://...  CLAW_DOCKER_SOCKET=...
#   CLAW_DOCKER_STARTED=1 when this run started dockerd, 0 when one answered
#   CLAW_REGISTRY=127.0.0.1:5000  CLAW_REGISTRY_USER=claw
#   CLAW_REGISTRY_PASSWORD_FILE=...
#   CLAW_SHARED_SUBNET=10.Y.0.0/16 for an engine this script runs: outside
#   its address pool, for the networks every gateway joins (the node
#   agent's --egress-subnet and --edge-subnet take /20s of it)
# --stop stops what this script started for NAME, its running containers
# first (live-restore would keep them), and the registry for the default
# instance, or the registry of its own port; it prints nothing.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$src/scripts/lib/common.sh"
root=${CLAW_DOCKER_ROOT:-/var/tmp/claw-docker}
reg_port=${CLAW_REGISTRY_PORT:-5000}
want_registry=1
stop=0
name=claw
for arg in "$@"; do
	case "$arg" in
	--no-registry) want_registry=0 ;;
	--stop) stop=1 ;;
	-h|--help) sed -n '2,32p' "$0"; exit 0 ;;
	-*) echo "docker-env: unknown option '$arg'" >&2; exit 2 ;;
	*) name=$arg ;;
	esac
done
case "$name" in
*[!a-z0-9-]*|'') echo "docker-env: bad instance name '$name'" >&2; exit 2 ;;
esac
case "$reg_port" in
*[!0-9]*|'') echo "docker-env: CLAW_REGISTRY_PORT '$reg_port' is not a port number" >&2; exit 2 ;;
esac
live_restore=${CLAW_DOCKER_LIVE_RESTORE:-0}
case "$live_restore" in
0) live_restore_flag=() ;;
1) live_restore_flag=(--live-restore) ;;
*) echo "docker-env: CLAW_DOCKER_LIVE_RESTORE '$live_restore' is not 0 or 1" >&2; exit 2 ;;
esac

dir=$root/$name
sock=$dir/docker.sock
regdir=$root/registry
if [ "$reg_port" != 5000 ]; then regdir=$root/registry-$reg_port; fi

answers() { # socket path
	[ -S "$1" ] && curl -fsS --max-time 3 --unix-socket "$1" \
		http://localhost/_ping >/dev/null 2>&1
}

pid_alive() { # pid file
	[ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

stop_pidfile() { # pid file
	local pid i
	pid_alive "$1" || { rm -f "$1"; return 0; }
	pid=$(cat "$1")
	kill "$pid"
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	rm -f "$1"
}

# An engine with live-restore leaves its containers running when it stops:
# stop them first, as dockerd without it does on its way out.
stop_containers() {
	local ids info
	answers "$sock" || return 0
	info=$(curl -fsS --max-time 10 --unix-socket "$sock" \
		http://localhost/info) || return 0
	case "$info" in *'"LiveRestoreEnabled":true'*) ;; *) return 0 ;; esac
	ids=$(DOCKER_HOST=unix://$sock docker ps -q) || return 0
	[ -n "$ids" ] || return 0
	# shellcheck disable=SC2086 # one id a word
	printf '%s\n' $ids | DOCKER_HOST=unix://$sock xargs -r -P 8 -n 16 \
		docker stop -t 10 >/dev/null 2>&1 || true
}

if [ "$stop" = 1 ]; then
	stop_containers
	stop_pidfile "$dir/docker.pid"
	if [ "$name" = claw ] || [ "$reg_port" != 5000 ]; then
		stop_pidfile "$regdir/registry.pid"
	fi
	exit 0
fi

# A /16 out of 10.100.0.0-10.163.0.0 chosen by the name, so two instances
# hand out disjoint subnets; CLAW_DOCKER_POOL overrides it. The /16 64
# above it (10.164-227) is the instance's shared subnet. Each network
# gets a /26 of it (61 addresses: a tenant's gateway, runtime and tool
# servers), so one engine holds 1,024 tenant networks; with Docker's /24
# it would hold 256, fewer tenants than the node's memory does.
pool_for() {
	local n
	n=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
	echo "10.$((100 + n % 64 + ${2:-0})).0.0/16"
}

start_dockerd() {
	mkdir -p "$dir"
	chmod 0711 "$root" "$dir"
	if answers "$sock"; then return 0; fi
	if pid_alive "$dir/docker.pid"; then
		stop_pidfile "$dir/docker.pid"
	fi
	rm -f "$dir/docker.pid" "$sock"
	local pool=${CLAW_DOCKER_POOL:-$(pool_for "$name")}
	# Every dockerd flushes the host's shared DOCKER-ISOLATION chains when
	# it starts: an extra engine (a simulated node) started while another
	# engine's tenant networks exist drops their isolation rules until
	# those networks are made again. Tests that start extra engines run
	# one at a time (ctest resource lock "docker") and make their tenant
	# networks afresh. Running extra engines without iptables avoids the
	# flush but breaks removing their containers after an engine restart.
	started=1
	# A dockerd that exits before it answers (seen after a SIGKILL: "timeout
	# waiting for containerd to start") is started again, as a supervisor
	# (systemd's Restart=) would; one alive but silent for 30 s is not.
	# One that panics in libnetwork's reservePools will panic at every
	# start: Debian 12's dockerd (20.10.24) lacks the fix of moby#45057
	# (moby#45310), and a SIGKILL in the middle of a network's removal
	# leaves that network half deleted in the network store. Its store is
	# moved aside (kept, named in the log), as an operator would; the
	# node agent makes its networks again (docs/operations.md).
	local i attempt pid logsize kv
	for attempt in 1 2 3; do
		logsize=$(stat -c %s "$dir/dockerd.log" 2>/dev/null || echo 0)
		setsid /usr/sbin/dockerd \
			--data-root "$dir/data" --exec-root "$dir/exec" \
			--pidfile "$dir/docker.pid" --host "unix://$sock" \
			--bridge none --iptables=true --ip-masq=true \
			--default-address-pool "base=$pool,size=26" \
			"${live_restore_flag[@]}" \
			--log-level warn \
			>>"$dir/dockerd.log" 2>&1 </dev/null &
		pid=$!
		for i in $(seq 1 150); do
			if answers "$sock"; then return 0; fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then break; fi
		echo "docker-env: dockerd exited before it answered (attempt" \
			"$attempt of 3); starting it again" >&2
		kv=$dir/data/network/files/local-kv.db
		if tail -c +"$((logsize + 1))" "$dir/dockerd.log" |
			grep -q 'libnetwork.*reservePools' && [ -f "$kv" ]; then
			mv "$kv" "$kv.broken-$(date +%s)"
			echo "docker-env: dockerd panicked restoring a half-deleted" \
				"network (moby#45057); its network store moved aside to" \
				"$kv.broken-*" >&2
		fi
		rm -f "$dir/docker.pid" "$sock"
	done
	echo "docker-env: dockerd did not answer on $sock; see $dir/dockerd.log" >&2
	tail -n 20 "$dir/dockerd.log" >&2 || true
	exit 1
}

start_registry() {
	mkdir -p "$regdir/data"
	chmod 0700 "$regdir"
	if [ ! -s "$regdir/password" ]; then
		(umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' \
			>"$regdir/password")
	fi
	if [ ! -s "$regdir/htpasswd" ]; then
		(umask 077; htpasswd -B -b -n claw "$(cat "$regdir/password")" |
			sed '/^$/d' >"$regdir/htpasswd")
	fi
	cat >"$regdir/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $regdir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$reg_port
auth:
  htpasswd:
    realm: claw-registry
    path: $regdir/htpasswd
YML
	if curl -sS --max-time 3 -o /dev/null "http://127.0.0.1:$reg_port/v2/" 2>/dev/null; then
		return 0
	fi
	setsid /usr/bin/docker-registry serve "$regdir/config.yml" \
		>>"$regdir/registry.log" 2>&1 </dev/null &
	echo $! >"$regdir/registry.pid"
	local i
	for i in $(seq 1 100); do
		if curl -sS --max-time 3 -o /dev/null "http://127.0.0.1:$reg_port/v2/" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "docker-env: registry did not answer on 127.0.0.1:$reg_port; see $regdir/registry.log" >&2
	exit 1
}

started=0
claw_node_sysctls "$src"
if [ "$name" = claw ]; then
	existing=
	if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" != "$DOCKER_HOST" ] &&
		answers "${DOCKER_HOST#unix://}"; then
		existing=${DOCKER_HOST#unix://}
	elif answers /var/run/docker.sock; then
		existing=/var/run/docker.sock
	fi
	if [ -n "$existing" ]; then
		sock=$existing
	else
		start_dockerd
	fi
else
	start_dockerd
fi
if [ "$want_registry" = 1 ]; then start_registry; fi

echo "DOCKER_HOST=unix://$sock"
echo "CLAW_DOCKER_SOCKET=$sock"
echo "CLAW_DOCKER_STARTED=$started"
if [ "$sock" = "$dir/docker.sock" ] && [ -z "${CLAW_DOCKER_POOL:-}" ]; then
	echo "CLAW_SHARED_SUBNET=$(pool_for "$name" 64)"
fi
if [ "$want_registry" = 1 ]; then
	echo "CLAW_REGISTRY=127.0.0.1:$reg_port"
	echo "CLAW_REGISTRY_USER=claw"
	echo "CLAW_REGISTRY_PASSWORD_FILE=$regdir/password"
fi
