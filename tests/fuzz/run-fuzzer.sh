#!/bin/sh
# Run one libFuzzer harness briefly: seed from the stored corpus, write new
# finds to a work directory (never into the source tree), fail on a crash.
# usage: run-fuzzer.sh FUZZER CORPUS_DIR WORK_DIR [SECONDS]
set -eu
fuzzer=$1 corpus=$2 work=$3 secs=${4:-${CLAW_FUZZ_SECONDS:-15}}
mkdir -p "$work"
exec "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$work/" -print_final_stats=1 "$work" "$corpus"
