#!/usr/bin/env bash
# mkrootfs.sh - lay out a minimal root filesystem for a FROM-scratch image:
# one binary, the shared libraries it needs (from ldd), the dynamic loader,
# a CA bundle, /etc/passwd and /etc/group with the unprivileged user 65532,
# and the directories of the tenant container layout (docs/contracts.md).
#
#   mkrootfs.sh BINARY DEST_DIR [NAME [SRC=DEST]...]
#
# The binary lands in DEST_DIR/usr/local/bin/NAME (NAME defaults to the
# binary's file name). Each SRC=DEST after NAME (the platform images of
# platform-images.sh) copies the file or directory SRC to DEST_DIR/DEST,
# with the shared libraries of every ELF file in it. Used by build.sh
# (offline) and by the Dockerfiles (online, in their build stage).
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: mkrootfs.sh BINARY DEST_DIR [NAME [SRC=DEST]...]" >&2
	exit 2
fi
bin=$1
dest=$2
name=${3:-$(basename "$bin")}
shift $(($# < 3 ? $# : 3))
for add in "$@"; do
	case "$add" in
	/*=/*) ;;
	*) echo "mkrootfs: '$add' is not SRC=DEST (absolute paths)" >&2; exit 2 ;;
	esac
done
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

# SRC=DEST additions, and the libraries of their ELF files (a static one
# has none: ldd fails on it, and that is fine).
for add in "$@"; do
	src=${add%%=*} to=${add#*=}
	mkdir -p "$dest$(dirname "$to")"
	cp -a "$src" "$dest$to"
	find "$src" -type f -print | while read -r f; do
		[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
		{ ldd "$f" 2>/dev/null || true; } |
			awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]+ \(/{print $1}'
	done | sort -u | while read -r lib; do
		[ -e "$dest$lib" ] || copy_keep_path "$lib"
	done
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
