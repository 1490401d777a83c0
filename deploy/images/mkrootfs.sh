#!/usr/bin/env bash
# mkrootfs.sh - lay out a minimal root filesystem for a FROM-scratch image:
# one binary, the shared libraries it needs (from ldd), the dynamic loader,
# a CA bundle, /etc/passwd and /etc/group with the unprivileged user 65532,
# and the directories of the tenant container layout (docs/contracts.md).
#
#   mkrootfs.sh BINARY DEST_DIR [NAME]
#
# The binary lands in DEST_DIR/usr/local/bin/NAME (NAME defaults to the
# binary's file name). Used by build.sh (offline) and by the Dockerfiles
# (online, in their build stage).
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: mkrootfs.sh BINARY DEST_DIR [NAME]" >&2
	exit 2
fi
bin=$1
dest=$2
name=${3:-$(basename "$bin")}
[ -x "$bin" ] || { echo "mkrootfs: '$bin' is not an executable file" >&2; exit 2; }

copy_keep_path() { # absolute source path
	local src=$1 real
	real=$(readlink -f "$src")
	mkdir -p "$dest$(dirname "$src")"
	cp -L "$real" "$dest$src"
}

mkdir -p "$dest/usr/local/bin" "$dest/etc/ssl/certs" "$dest/etc/claw" \
	"$dest/run/claw/secrets" "$dest/var/lib/claw" "$dest/tmp"
cp -L "$bin" "$dest/usr/local/bin/$name"
strip --strip-unneeded "$dest/usr/local/bin/$name" 2>/dev/null || true

# Libraries: every "=> /path" and the loader line ("/lib64/ld-linux...").
ldd "$bin" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]+ \(/{print $1}' |
	sort -u | while read -r lib; do
		copy_keep_path "$lib"
	done

ca=/etc/ssl/certs/ca-certificates.crt
if [ -f "$ca" ]; then
	cp -L "$ca" "$dest/etc/ssl/certs/ca-certificates.crt"
else
	echo "mkrootfs: no CA bundle at $ca (install ca-certificates)" >&2
	exit 1
fi

cat >"$dest/etc/passwd" <<PW
root:x:0:0:root:/nonexistent:/sbin/nologin
claw:x:65532:65532:claw:/nonexistent:/sbin/nologin
PW
cat >"$dest/etc/group" <<GR
root:x:0:
claw:x:65532:
GR
cat >"$dest/etc/nsswitch.conf" <<NS
hosts: files dns
NS
chmod 1777 "$dest/tmp"
chown 65532:65532 "$dest/var/lib/claw" "$dest/run/claw/secrets"
