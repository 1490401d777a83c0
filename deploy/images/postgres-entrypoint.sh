#!/bin/sh
# postgres-entrypoint.sh - the ENTRYPOINT of the claw/postgres image
# (platform-images.sh): Debian's PostgreSQL 15 server binaries in a
# FROM-scratch image, run by Debian's busybox-static as /bin/sh (initdb
# runs the server through /bin/sh; nothing else in the image is a shell).
#
# First start (no PG_VERSION in $PGDATA): initdb as the image's user
# (65532), superuser $CLAW_PG_USER (claw) with the password of the libpq
# password file $CLAW_PG_PASSFILE (the Compose secret pgpass: one line
# HOST:PORT:DB:USER:PASSWORD, the password its fifth field, no ':' or '\'
# in it), scram-sha-256 for every connection, the database
# $CLAW_PG_DATABASE (claw) made in single-user mode. Then, every start:
# exec the server listening on every address of its container (the
# Compose file keeps it on an internal network, unpublished), its unix
# socket in /tmp, JIT off (the LLVM JIT is not in the image).
set -eu
bin=/usr/lib/postgresql/15/bin
PGDATA=${PGDATA:-/var/lib/claw/pg}
passfile=${CLAW_PG_PASSFILE:-/run/secrets/pgpass}
user=${CLAW_PG_USER:-claw}
db=${CLAW_PG_DATABASE:-claw}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ ! -r "$passfile" ]; then
		echo "postgres-entrypoint: cannot read the password file '$passfile'" >&2
		exit 1
	fi
	IFS= read -r line <"$passfile" || [ -n "$line" ]
	pw=${line#*:*:*:*:}
	if [ -z "$pw" ] || [ "$pw" = "$line" ]; then
		echo "postgres-entrypoint: '$passfile' is not HOST:PORT:DB:USER:PASSWORD" >&2
		exit 1
	fi
	umask 077
	pwfile=/tmp/.initdb-pw
	printf '%s\n' "$pw" >"$pwfile"
	rc=0
	"$bin/initdb" -D "$PGDATA" -U "$user" --pwfile="$pwfile" \
		-A scram-sha-256 -E UTF8 --no-locale >/tmp/.initdb.log 2>&1 || rc=$?
	rm -f "$pwfile"
	if [ "$rc" != 0 ]; then
		cat /tmp/.initdb.log >&2
		echo "postgres-entrypoint: initdb failed (exit $rc)" >&2
		exit 1
	fi
	printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' \
		>>"$PGDATA/pg_hba.conf"
	echo "CREATE DATABASE \"$db\" OWNER \"$user\"" |
		"$bin/postgres" --single -D "$PGDATA" -c jit=off postgres >/dev/null
	echo "postgres-entrypoint: initialised $PGDATA (database '$db', user '$user')" >&2
fi
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' \
	-c unix_socket_directories=/tmp -c jit=off "$@"
