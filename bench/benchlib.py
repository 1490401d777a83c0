"""benchlib - the header every bench script shares: where the source and
build trees are (and with them the integration-test harness), the command
line, and how figures are printed. Benchmarks print; they never assert.

    sys.path.insert(0, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))         # bench/, where this lives
    import benchlib  # noqa: E402
    benchlib.harness("tests/integration/controlplane-fleet")
    from clawtest.docker import DockerEnv  # noqa: E402
    a = benchlib.parser(__doc__, count=20).parse_args()   # a.n
    benchlib.show("deploy to healthy", seconds)   # n, p50, p99, mean

harness() sets CLAW_SOURCE_DIR and CLAW_BUILD_DIR (unless set; the build
defaults to build/ of this tree) before clawtest reads them, and puts
tests/integration (clawtest) and the given directories of the source tree
on sys.path. Scripts are run from the source tree:
CLAW_BUILD_DIR=build-release python3 bench/<what>/<script>.py [options].
"""

import argparse
import os
import secrets
import statistics
import sys
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_dir():
    """The build tree to measure: $CLAW_BUILD_DIR, else build/ here."""
    return os.environ.get("CLAW_BUILD_DIR", os.path.join(SRC, "build"))


def harness(*dirs):
    """Make clawtest and the given directories (relative to the source
    tree, e.g. "tests/integration/e2e") importable."""
    os.environ.setdefault("CLAW_SOURCE_DIR", SRC)
    os.environ.setdefault("CLAW_BUILD_DIR", os.path.join(SRC, "build"))
    for d in ("tests/integration",) + dirs:
        path = os.path.join(SRC, *d.split("/"))
        if path not in sys.path:
            sys.path.insert(0, path)


def parser(doc, count=None):
    """An ArgumentParser described by the first paragraph of doc; with
    count, an optional positional N (default count): how many runs."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if count is not None:
        ap.add_argument("n", nargs="?", type=int, default=count,
                        help="how many runs (default %(default)s)")
    return ap


def pct(xs, p):
    """The p-th percentile of xs (nearest rank)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def show(label, xs, width=44):
    """One line: label, then n, p50, p99 and mean of xs (seconds)."""
    print("%-*s n=%-3d p50=%6.3f s  p99=%6.3f s  mean=%6.3f s" %
          (width, label, len(xs), pct(xs, 50), pct(xs, 99),
           statistics.mean(xs)), flush=True)


def spread(xs):
    """"p50 X s  p99 Y s  mean Z s" of xs (seconds)."""
    return "p50 %.3f s  p99 %.3f s  mean %.3f s" % (
        pct(xs, 50), pct(xs, 99), statistics.mean(xs))


def plain_docker_run(env, image, n, prefix="claw-bench"):
    """The floor of a deploy: n times `docker run` of image (on a network
    of its own, named PREFIX-...) until its /healthz on port 8081 answers;
    the seconds each took."""
    from clawtest.http import http_get
    out = []
    net = "%s-%s" % (prefix, secrets.token_hex(3))
    env.docker("network", "create", net)
    try:
        for i in range(n):
            name = "%s-plain-%d-%s" % (prefix, i, secrets.token_hex(2))
            t0 = time.time()
            env.docker("run", "-d", "--name", name, "--network", net, image)
            ip = env.inspect(name)["NetworkSettings"]["Networks"][net][
                "IPAddress"]
            url = "http://%s:8081/healthz" % ip
            deadline = time.time() + 30
            while http_get(url, 1)[0] != 200:
                if time.time() > deadline:
                    raise RuntimeError("no answer from " + url)
                time.sleep(0.005)
            out.append(time.time() - t0)
            env.docker("rm", "-f", name)
    finally:
        env.docker("network", "rm", net, check=False)
    return out
