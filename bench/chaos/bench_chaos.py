#!/usr/bin/env python3
"""bench_chaos.py - the long chaos run (issue 16, point 4): the harness of
tests/chaos/chaos.py with >= 500 faults by default. Prints the seed, one
line per fault (its kind, its target and the time until the affected
tenants answered again), the message and write counts, the recovery
time per fault kind (count, p50, p99, max) and every invariant with its
count; exit status 1 on a violation. See bench/chaos/README.md.

Usage (root, the e2e suites' engine and registry, a build with the
tenant images' binaries):
  CLAW_BUILD_DIR=/path/to/build python3 bench/chaos/bench_chaos.py \
      [--seed N] [--faults 500] [--kinds cp,pg,...] [--keep-logs DIR]
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
os.environ.setdefault("CLAW_SOURCE_DIR", SRC)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
sys.path.insert(0, os.path.join(SRC, "tests", "chaos"))

import chaos  # noqa: E402

if __name__ == "__main__":
    if "--faults" not in " ".join(sys.argv):
        sys.argv += ["--faults", "500"]
    chaos.main()
