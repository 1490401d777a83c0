# common.sh - shared by scripts/test.sh, scripts/up.sh and scripts/docker-env.sh:
# install the Debian packages the project needs, set a node's kernel
# settings, and build it. Sourced, not run.

# Everything the build, the tests, the benchmarks and the local platform use.
CLAW_APT_PACKAGES=(
	ca-certificates git gcc make cmake pkg-config clang python3 procps
	iproute2 libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev
	libevent-dev
	libpq-dev libsodium-dev libgit2-dev libcmocka-dev libwebsockets-dev
	postgresql docker.io docker-registry apache2-utils wrk curl openssl
	util-linux chromium clang-format clang-tidy caddy pebble libssl-dev
	prometheus nftables systemd lintian patroni etcd-server
	docker-compose busybox-static
)

claw_say() { printf '==> %s\n' "$*" >&2; }
claw_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install the packages that are missing (apt-get update only when needed).
claw_install_packages() {
	local missing=() p
	[ "$(id -u)" = 0 ] || claw_die "run as root: packages are installed with apt-get"
	for p in "${CLAW_APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
			|| missing+=("$p")
	done
	# Node.js and npm run the MCP servers the runtime tests use; a machine
	# may have them from elsewhere than Debian.
	command -v node >/dev/null || missing+=(nodejs)
	command -v npm >/dev/null || missing+=(npm)
	if [ ${#missing[@]} -gt 0 ]; then
		claw_say "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# claw_node_sysctls ROOT: the kernel settings of a node (ROOT/deploy/sysctl/
# 90-claw-node.conf: the neighbour table of a dense node, and connections
# moved rather than reset when the edge reloads): each raised when lower,
# never lowered; quietly left when it cannot be set (not root, a kernel
# without it, a network namespace that does not have it).
claw_node_sysctls() {
	local k v want
	while read -r k _ want; do
		case "$k" in net.*) ;; *) continue ;; esac
		v=$(sysctl -n "$k" 2>/dev/null) || continue
		if [ "$v" -lt "$want" ]; then sysctl -q -w "$k=$want" 2>/dev/null || true; fi
	done <"$1/deploy/sysctl/90-claw-node.conf"
}

# What a failed build printed that names its cause: compiler errors, and the
# linker's own lines (an undefined reference, a full disk) that carry no
# "error", with df's figure for the build's disk.
claw_build_failure() {
	grep -E 'error|Error|undefined reference|multiple definition|cannot find|No space left|memory exhausted|ld: |Killed' "$1" \
		| head -60 >&2
	df -h "$(dirname "$1")" >&2 || true
}

# claw_build DIR [cmake args...]: configure and build into DIR.
claw_build() {
	local dir=$1
	shift
	cmake -S "$CLAW_ROOT" -B "$dir" "$@" >"$dir.configure.log" 2>&1 \
		|| { cat "$dir.configure.log" >&2; claw_die "cmake configure of $dir failed"; }
	cmake --build "$dir" -j"$(nproc)" >"$dir.build.log" 2>&1 \
		|| { claw_build_failure "$dir.build.log"; claw_die "build in $dir failed (full log: $dir.build.log)"; }
}
