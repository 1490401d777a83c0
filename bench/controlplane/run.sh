#!/bin/sh
# run.sh - benchmark claw-controlplane with wrk on loopback and print the
# figures: authenticated GET /v1/tenants/{id} and POST /v1/tenants (req/s,
# p50, p99) and the daemon's RSS idle and after load (the embedded
# PostgreSQL not counted). It prints; it never asserts.
#
# usage: bench/controlplane/run.sh [BUILD_DIR] (default: build)
# env:   DURATION (10s), CONNECTIONS (32), THREADS (2),
#        CLAW_DATABASE_URL (use that server instead of the embedded one)
# Build without sanitizers for meaningful figures:
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-rel --target claw-controlplane
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
bin=$build/controlplane/claw-controlplane
duration=${DURATION:-10s}
conns=${CONNECTIONS:-32}
threads=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk"; exit 1; }
[ -x "$bin" ] || { echo "$bin not built"; exit 1; }

work=$(mktemp -d /tmp/clawbench-XXXXXX)
chmod 711 "$work" # the embedded postgres runs as another user under root
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$bin" --data-dir "$work/data" --listen 127.0.0.1:0 --log-level warn \
	--migrations-dir "$src/migrations" ${CP_ARGS:-} >"$work/out" 2>"$work/log" &
pid=$!
i=0
until grep -q 'listening on' "$work/out" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 600 ] && { echo "daemon did not start:"; cat "$work/log"; exit 1; }
	kill -0 "$pid" 2>/dev/null || { echo "daemon exited:"; cat "$work/log"; exit 1; }
	sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/out")
token=$(cat "$work/data/admin.token")
tenant=$(curl -sf -H "Authorization: Bearer $token" \
	-H 'Content-Type: application/json' \
	-d '{"slug":"bench","name":"Bench"}' "$url/v1/tenants" |
	sed 's/.*"id":"\([^"]*\)".*/\1/')

rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$pid/status"; }
summary() {
	# wrk --latency output -> one line of figures
	awk -v what="$1" '
		/Requests\/sec/ { rps = $2 }
		/^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
		/Non-2xx/ { non2xx = $NF }
		/Socket errors/ { errs = $0 }
		END { printf "%-28s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n",
			what, rps, p50, p99, (non2xx == "" ? 0 : non2xx) }'
}

echo "claw-controlplane benchmark: $url, $threads threads, $conns connections, $duration each"
echo "idle RSS:                    $(rss)"
CLAW_TOKEN=$token CLAW_PATH=/v1/tenants/$tenant \
	wrk -t "$threads" -c "$conns" -d "$duration" --latency -s "$here/get.lua" "$url" |
	summary "GET /v1/tenants/{id}"
echo "RSS after GET load:          $(rss)"
server_side() {
	# the daemon's own latency histogram (time in the server, without the
	# client's and the scheduler's share)
	curl -sf "$url/metrics" | awk -v r="$1" '
		index($0, "route=\"" r "\",le=\"0.001\"}") { ms1 = $2 }
		index($0, "route=\"" r "\",le=\"0.01\"}") { ms10 = $2 }
		index($0, "_count{route=\"" r "\"}") { n = $2 }
		END { if (n) printf "%-28s %.2f%% within 1 ms, %.3f%% within 10 ms (server side)\n",
			r, 100 * ms1 / n, 100 * ms10 / n }'
}
server_side tenants.get
CLAW_TOKEN=$token \
	wrk -t "$threads" -c "$conns" -d "$duration" --latency -s "$here/post.lua" "$url" |
	summary "POST /v1/tenants"
echo "RSS after POST load:         $(rss)"
server_side tenants.create
