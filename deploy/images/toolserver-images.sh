#!/usr/bin/env bash
# toolserver-images.sh - build the tool-server images offline and push them
# (issue 14, docs/runtime.md "Tool servers"): tenants' stdio MCP servers run
# in these, one container each, with claw-mcp-bridge bound in by the node
# agent as the entrypoint.
#
#   claw/toolserver-node    the host's Debian package nodejs (/usr/bin/node)
#                           and its libraries, with pinned npm packages
#                           under /opt/mcp/node_modules:
#                           @modelcontextprotocol/server-everything,
#                           server-filesystem and server-memory
#   claw/toolserver-python  Debian's python3 (/usr/bin/python3.X), its
#                           standard library and the libraries of its
#                           extension modules (PYTHONHOME=/usr)
#
# Each is FROM scratch (mkrootfs.sh: interpreter, libraries, loader, CA
# bundle, uid 65532). claw-mcp-bridge is one static binary in a normal
# build (docs/mcp-bridge.md, "Static linking") and needs nothing in the
# image; a sanitizer build's bridge is dynamic, and then the images also
# hold the shared libraries it needs, taken from the build dir's bridge:
# build the images from the same build as the bridge the node agent binds
# (--mcp-bridge / CLAW_NODE_AGENT_MCP_BRIDGE).
#
#   toolserver-images.sh [--build-dir DIR] [--tag TAG] [--registry HOST:PORT]
#                        [--user U --password-file F] [--no-push]
#
# DIR defaults to ./build-release or $CLAW_IMAGE_BUILD_DIR. The npm packages
# are installed once per version set into DIR/toolserver-npm (npm's
# registry is needed that once; later builds are offline). Prints:
#   CLAW_TOOLSERVER_NODE_IMAGE=HOST:PORT/claw/toolserver-node@sha256:...
#   CLAW_TOOLSERVER_PYTHON_IMAGE=HOST:PORT/claw/toolserver-python@sha256:...
set -euo pipefail

# The preinstalled servers, pinned.
NPM_PACKAGES=(
	@modelcontextprotocol/server-everything@2026.8.31
	@modelcontextprotocol/server-filesystem@2026.8.31
	@modelcontextprotocol/server-memory@2026.8.31
)

here=$(cd "$(dirname "$0")" && pwd)
build=${CLAW_IMAGE_BUILD_DIR:-build-release}
tag=latest push=1
registry=${CLAW_REGISTRY:-}
user=${CLAW_REGISTRY_USER:-}
pwfile=${CLAW_REGISTRY_PASSWORD_FILE:-}
# Options: "--no-push", or "--NAME VALUE" for the variables below.
declare -A var=([build-dir]=build [tag]=tag [registry]=registry
	[user]=user [password-file]=pwfile)
while [ $# -gt 0 ]; do
	opt=${1#--}
	if [ "$1" = --no-push ]; then
		push=0
		shift
	elif [ "$1" = -h ] || [ "$1" = --help ]; then
		sed -n '2,30p' "$0"
		exit 0
	elif [ -n "${var[$opt]:-}" ] && [ $# -ge 2 ]; then
		printf -v "${var[$opt]}" '%s' "$2"
		shift 2
	else
		echo "toolserver-images: unknown argument '$1'" >&2
		exit 2
	fi
done
case "$tag" in
*[!A-Za-z0-9_.-]*|'') echo "toolserver-images: bad tag '$tag'" >&2; exit 2 ;;
esac
bridge=$build/tools/mcp-bridge/claw-mcp-bridge
node=/usr/bin/node
py=$(readlink -f /usr/bin/python3)
[ -x "$bridge" ] || { echo "toolserver-images: no '$bridge' (build the project first)" >&2; exit 2; }
[ -x "$node" ] || { echo "toolserver-images: no $node (apt-get install nodejs)" >&2; exit 2; }
[ -x "$py" ] || { echo "toolserver-images: no /usr/bin/python3 (apt-get install python3)" >&2; exit 2; }
if [ "$push" = 1 ] && [ -z "$registry" ]; then
	echo "toolserver-images: no registry (run scripts/docker-env.sh or pass --registry)" >&2
	exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DOCKER_CONFIG=$work/docker-config

# The npm packages, once per version set.
npm_dir=$build/toolserver-npm/$(printf '%s\n' "${NPM_PACKAGES[@]}" | sha256sum | cut -c1-12)
if [ ! -d "$npm_dir/node_modules" ]; then
	mkdir -p "$npm_dir.tmp"
	echo '{"name":"claw-toolservers","private":true}' >"$npm_dir.tmp/package.json"
	(cd "$npm_dir.tmp" && npm install --omit=dev --no-audit --no-fund \
		--ignore-scripts "${NPM_PACKAGES[@]}" >"$work/npm.log" 2>&1) ||
		{ echo "toolserver-images: npm install failed:" >&2; tail -n 20 "$work/npm.log" >&2; exit 1; }
	rm -rf "$npm_dir"
	mv "$npm_dir.tmp" "$npm_dir"
fi

libs_of() { # copy every shared library of binary $1 into rootfs $2
	local out
	if ! out=$(ldd "$1" 2>&1); then
		# a static binary has none
		case $out in *"not a dynamic executable"*) return 0 ;; esac
		echo "toolserver-images: ldd '$1' failed: $out" >&2
		exit 1
	fi
	case $out in *"statically linked"*) return 0 ;; esac
	printf '%s\n' "$out" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]+ \(/{print $1}' |
		sort -u | while read -r lib; do
			mkdir -p "$2$(dirname "$lib")"
			cp -L "$(readlink -f "$lib")" "$2$lib"
		done
}

# image REPO ROOTFS ENTRYPOINT [ENV]: build, push, print the reference.
image() {
	local repo=$1 root=$2 entry=$3 env=${4:-} ref ctx=$work/ctx-${1##*/}
	ref=$repo:$tag
	[ -n "$registry" ] && ref=$registry/$ref
	mkdir "$ctx"
	tar -C "$root" --numeric-owner -cf "$ctx/rootfs.tar" .
	{
		echo "FROM scratch"
		echo "ADD rootfs.tar /"
		echo "USER 65532:65532"
		echo "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt HOME=/tmp $env"
		echo "ENTRYPOINT [\"$entry\"]"
	} >"$ctx/Dockerfile"
	# Once more after a failure: a FROM scratch ADD fails only on the
	# engine's side (seen once under a loaded test run); both are shown.
	local try
	for try in 1 2; do
		DOCKER_BUILDKIT=0 docker build -q -t "$ref" "$ctx" >"$work/build.log" 2>&1 && break
		echo "toolserver-images: docker build of $ref failed (try $try of 2):" >&2
		tail -n 20 "$work/build.log" >&2
		[ "$try" = 2 ] && exit 1
	done
	if [ "$push" = 0 ]; then
		echo "$ref"
		return
	fi
	docker push "$ref" >"$work/push.log" 2>&1 ||
		{ echo "toolserver-images: push of $ref failed:" >&2; tail -n 5 "$work/push.log" >&2; exit 1; }
	local digest
	digest=$(sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' "$work/push.log" | tail -n 1)
	[ -n "$digest" ] || { echo "toolserver-images: push of $ref printed no digest" >&2; exit 1; }
	echo "${ref%:*}@$digest"
}

if [ "$push" = 1 ] && [ -n "$user" ]; then
	[ -r "$pwfile" ] || { echo "toolserver-images: cannot read password file '$pwfile'" >&2; exit 2; }
	docker login -u "$user" --password-stdin "$registry" <"$pwfile" >/dev/null 2>&1 ||
		{ echo "toolserver-images: login to $registry failed" >&2; exit 1; }
fi

# Node.js: node in /usr/bin (its own path), the servers in /opt/mcp.
nroot=$work/node
"$here/mkrootfs.sh" "$node" "$nroot" node >/dev/null
mkdir -p "$nroot/usr/bin" "$nroot/opt/mcp" "$nroot/claw"
ln -sf /usr/local/bin/node "$nroot/usr/bin/node"
cp -a "$npm_dir/node_modules" "$npm_dir/package.json" "$nroot/opt/mcp/"
libs_of "$bridge" "$nroot"
echo "CLAW_TOOLSERVER_NODE_IMAGE=$(image claw/toolserver-node "$nroot" /usr/bin/node)"

# Python: the interpreter where PYTHONHOME=/usr finds its library.
proot=$work/python
pyver=$(basename "$py")
"$here/mkrootfs.sh" "$py" "$proot" "$pyver" >/dev/null
mkdir -p "$proot/usr/bin" "$proot/usr/lib" "$proot/claw"
mv "$proot/usr/local/bin/$pyver" "$proot/usr/bin/$pyver"
ln -sf "$pyver" "$proot/usr/bin/python3"
tar -C /usr/lib --exclude=__pycache__ --exclude="$pyver/test" \
	--exclude="$pyver/idlelib" --exclude="$pyver/tkinter" \
	--exclude="$pyver/ensurepip" -cf - "$pyver" | tar -C "$proot/usr/lib" -xf -
for so in "$proot/usr/lib/$pyver"/lib-dynload/*.so; do
	libs_of "$so" "$proot"
done
libs_of "$bridge" "$proot"
echo "CLAW_TOOLSERVER_PYTHON_IMAGE=$(image claw/toolserver-python "$proot" /usr/bin/python3 PYTHONHOME=/usr)"
