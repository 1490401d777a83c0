"""bench_runtime.py - prints the runtime's figures (never asserts them):
CPU time of claw-runtime per plain turn with a zero-latency fake LLM (the
fake runs in this process, so its CPU is not counted), turns per second,
the MCP stdio tool round trip (a tool turn minus two plain turns), the
MCP tool call direct over stdio and through the sandbox's MCP bridge
(p50/p99) with the bridge's idle memory and, when Docker answers, the
memory of one idle tool-server container (its cgroup's memory.current, as
the node agent runs it: claw/toolserver-node, the bridge in front of
server-everything), the usage counting's cost per
turn (with and without it, on 1 and 2 threads,
and the cost of one GET /v1/usage document), the tool policy's cost per
tool call (bench_policy.c; target <= 5 us), the wall time of a turn that
compacts its context beside one that does not, and RSS idle and after
1,000 conversations.

Usage: CLAW_BUILD_DIR=build-release python3 bench/runtime/bench_runtime.py
       [--turns N] (use a Release build without sanitizers for real
       figures)."""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import benchlib  # noqa: E402
from benchlib import SRC  # noqa: E402
benchlib.harness("tests/integration/runtime", "bench/gateway")
from fake_llm import FakeLLM  # noqa: E402
from rtharness import Runtime  # noqa: E402
from procmem import summary  # noqa: E402
from clawtest.http import free_port  # noqa: E402


def cpu_ms(pid, which=(11, 12)):
    """User+system CPU of pid in ms (which=(11,) for user time only)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in which)
    return ticks * 1000.0 / os.sysconf("SC_CLK_TCK")


def build_bench(name):
    """Build bench/runtime/NAME.c against the build's libraries; its path,
    or None (said) when the build fails."""
    build = os.path.abspath(benchlib.build_dir())
    exe = os.path.join(tempfile.mkdtemp(prefix="rt-bench-"), name)
    libs = subprocess.run(
        ["pkg-config", "--libs", "libmicrohttpd", "libcurl", "jansson",
         "libsodium", "libpq", "libgit2"], capture_output=True,
        text=True).stdout
    cmd = (["cc", "-O2", "-D_GNU_SOURCE", "-I", os.path.join(SRC, "runtime"),
            "-I", os.path.join(SRC, "lib", "include"),
            os.path.join(HERE, name + ".c"),
            os.path.join(build, "runtime", "librt_core.a"),
            os.path.join(build, "lib", "libclaw.a")] + shlex.split(libs)
           + ["-lpthread", "-lm", "-o", exe])
    if subprocess.run(cmd).returncode != 0:
        print("%s: not measured (bench build failed)" % name)
        return None
    return exe


def mcp_rtt():
    """The MCP tool-call round trip (bench_mcp_rtt.c): direct stdio, then
    through the sandbox's MCP bridge (claw-mcp-bridge in front of the same
    server, Streamable HTTP with its bearer token; issue 14's target: at
    most 1 ms added at p50)."""
    exe = build_bench("bench_mcp_rtt")
    if not exe:
        return
    server = [sys.executable, os.path.join(HERE, "echo_mcp_stdio.py")]
    subprocess.run([exe, "2000", "stdio"] + server)
    bridge = os.path.join(os.path.abspath(benchlib.build_dir()), "tools",
                          "mcp-bridge", "claw-mcp-bridge")
    tmp = tempfile.mkdtemp(prefix="rt-bench-bridge-")
    token = "bench-" + os.urandom(8).hex()
    tf = os.path.join(tmp, "token")
    with open(tf, "w") as f:
        f.write(token)
    os.chmod(tf, 0o600)
    port = free_port()
    proc = subprocess.Popen([bridge, "--listen", "127.0.0.1:%d" % port,
                             "--token-file", tf, "--log-level", "warn",
                             "--"] + server)
    try:
        url = "http://127.0.0.1:%d" % port
        for _ in range(100):
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=1):
                    break
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        subprocess.run([exe, "2000", "url", url + "/mcp", token])
        # what the sandbox adds to an idle tool server: the bridge itself
        # (the server's own memory is the server's: node, python, ...)
        print("the MCP bridge idle, in front of one server: " +
              summary(proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    toolserver_memory(bridge)


def cgroup_memory(env, cid):
    """memory.current of container cid's cgroup (v2, read through its
    first process), else the engine's stats API (its memory_stats.usage,
    the same counter); bytes, or None."""
    pid = env.inspect(cid)["State"]["Pid"]
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            path = [ln.split("::", 1)[1].strip() for ln in f
                    if ln.startswith("0::")][0]
        with open("/sys/fs/cgroup%s/memory.current" % path) as f:
            return int(f.read())
    except (OSError, IndexError, ValueError):
        pass
    out = env.docker("container", "stats", "--no-stream", "--format",
                     "{{json .}}", cid, check=False)
    try:  # "12.3MiB / 128MiB": the CLI's figure, less inactive file
        used = json.loads(out)["MemUsage"].split("/")[0].strip()
        unit = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "B": 1}
        for u, k in unit.items():
            if used.endswith(u):
                return int(float(used[:-len(u)]) * k)
    except (ValueError, KeyError):
        return None
    return None


def toolserver_memory(bridge):
    """One idle tool-server container: claw/toolserver-node
    (deploy/images/toolserver-images.sh; a static bridge needs no
    libraries of it, a sanitizer build's gets them) with
    the bridge bound in as its entrypoint in front of server-everything,
    read-only root, the limits the node agent gives by default (128 MB),
    measured once the server has answered the bridge's initialize and
    sat idle for 3 s."""
    try:
        from clawtest.docker import DockerEnv
        env = DockerEnv()
        env.docker("version")
    except Exception as e:  # noqa: BLE001 - no engine: said, not measured
        print("tool-server container memory: not measured (%s)" % e)
        return
    build = os.path.abspath(benchlib.build_dir())
    r = subprocess.run([os.path.join(SRC, "deploy", "images",
                                     "toolserver-images.sh"),
                        "--build-dir", build, "--tag", "bench"],
                       env=env.env(), capture_output=True, text=True)
    m = re.search(r"^CLAW_TOOLSERVER_NODE_IMAGE=(\S+)$", r.stdout, re.M)
    if r.returncode or not m:
        print("tool-server container memory: not measured "
              "(toolserver-images.sh: %s)" % r.stderr.strip()[-300:])
        return
    tmp = tempfile.mkdtemp(prefix="rt-bench-ts-")
    with open(os.path.join(tmp, "claw-mcp-token"), "w") as f:
        f.write("bench-" + os.urandom(8).hex())
    os.chmod(os.path.join(tmp, "claw-mcp-token"), 0o400)
    name = "claw-bench-ts-" + os.urandom(3).hex()
    env.docker("run", "-d", "--name", name, "--read-only", "--cap-drop",
               "ALL", "--security-opt", "no-new-privileges:true",
               "--user", "%d:%d" % (os.getuid(), os.getgid()),
               "--memory", "128m", "--memory-swap", "128m",
               "--pids-limit", "64", "--tmpfs", "/tmp:size=16m",
               "--network", "none", "-e", "HOME=/tmp",
               "-v", bridge + ":/claw/mcp-bridge:ro",
               "-v", tmp + ":/run/claw/secrets:ro",
               "--entrypoint", "/claw/mcp-bridge", m[1],
               "--listen", "0.0.0.0:8080", "--token-file",
               "/run/claw/secrets/claw-mcp-token", "--", "node",
               "/opt/mcp/node_modules/@modelcontextprotocol/"
               "server-everything/dist/index.js", "stdio")
    try:
        deadline = time.monotonic() + 120
        def logs():  # the bridge logs on stderr
            r = subprocess.run(["docker", "logs", name], env=env.env(),
                               capture_output=True, text=True)
            return r.stdout + r.stderr
        while "answered initialize: ready" not in logs():
            if time.monotonic() > deadline:
                print("tool-server container memory: not measured (not "
                      "ready in 120 s)")
                return
            time.sleep(0.5)
        time.sleep(3)  # idle
        used = cgroup_memory(env, name)
        print("one idle tool-server container (bridge + server-everything"
              " on node), cgroup memory.current: " +
              ("%.1f MiB" % (used / 1048576.0) if used else "unknown"))
    finally:
        env.docker("rm", "-f", name, check=False)
        subprocess.run(["rm", "-rf", tmp])


def usage_cost():
    """The usage counting's cost per turn (bench_usage.c)."""
    exe = build_bench("bench_usage")
    if exe:
        subprocess.run([exe, "2000000"])


def compaction_cost(llm, turns=40):
    """Turns of one long conversation on a runtime whose small context
    budget makes it compact often: the wall time of the turns that
    compacted (one more model call, the summary) against those that did
    not, printed beside each other."""
    rt = Runtime({"providers": [{"kind": "openai", "base_url": llm.url,
                                 "model": "bench", "max_tokens": 256}],
                  "limits": {"context_tokens": 2000, "compact_at_percent": 60,
                             "summary_tokens": 64}}).start()
    plain, compacted = [], []
    try:
        def count():
            for line in rt.get("/metrics")[1].splitlines():
                if line.startswith("claw_runtime_compactions_total "):
                    return float(line.split()[1])
            return 0.0
        for i in range(turns):
            before = count()
            t0 = time.monotonic()
            rt.send("message %d: %s" % (i, "words " * 80),
                    conversation="long")
            took = time.monotonic() - t0
            (compacted if count() > before else plain).append(took)
    finally:
        rt.stop()
    if compacted and plain:
        print("context compaction: a turn that compacts %.2f ms wall "
              "(%d of %d turns), one that does not %.2f ms"
              % (1000 * sum(compacted) / len(compacted), len(compacted),
                 turns, 1000 * sum(plain) / len(plain)))
    else:
        print("context compaction: not measured (%d of %d turns compacted)"
              % (len(compacted), turns))


def policy_cost():
    """The tool policy's cost per tool call (bench_policy.c)."""
    exe = build_bench("bench_policy")
    if exe:
        subprocess.run([exe, "1000000"])


def main():
    ap = benchlib.parser(__doc__)
    ap.add_argument("--turns", type=int, default=500)
    ap.add_argument("--sessions", type=int, default=1000)
    args = ap.parse_args()
    llm = FakeLLM()
    cfg = {"providers": [{"kind": "openai", "base_url": llm.url,
                          "model": "bench"}],
           "mcp_servers": [{"name": "b", "command": [
               sys.executable, os.path.join(HERE, "echo_mcp_stdio.py")]}],
           "limits": {"session_cache": 2000}}
    rt = Runtime(cfg).start()
    pid = rt.proc.pid
    try:
        rt.send("warm up", conversation="warm")
        time.sleep(0.5)
        idle = summary(pid, top=6)
        u0, c0, t0 = cpu_ms(pid, (11,)), cpu_ms(pid), time.monotonic()
        for i in range(args.turns):
            rt.send("hello %d" % i, conversation="bench-%d" % (i % 10))
        u1, c1, t1 = cpu_ms(pid, (11,)), cpu_ms(pid), time.monotonic()
        plain_wall = (t1 - t0) / args.turns
        print("plain turn: %.3f ms CPU in the runtime per turn "
              "(%d turns over 10 conversations)" % ((c1 - c0) / args.turns,
                                                   args.turns))
        print("  of which user time: %.3f ms (the rest is the kernel: "
              "sockets, transcript fsync)" % ((u1 - u0) / args.turns))
        print("turns per second (one client, sequential): %.0f"
              % (args.turns / (t1 - t0)))
        n_tool = max(args.turns // 5, 10)
        t0 = time.monotonic()
        for i in range(n_tool):
            llm.push({"tool": "b__echo", "args": {"i": i}},
                     {"text": "done"})
            rt.send("tool %d" % i, conversation="bench-%d" % (i % 10))
        tool_wall = (time.monotonic() - t0) / n_tool
        print("turn with one MCP tool call: %.3f ms wall (a plain turn: "
              "%.3f ms)" % (tool_wall * 1000, plain_wall * 1000))
        mcp_rtt()
        usage_cost()
        policy_cost()
        compaction_cost(llm)
        for i in range(args.sessions):
            rt.send("hi", conversation="s-%d" % i)
        print("memory idle: " + idle)
        print("memory after %d conversations: %s" % (args.sessions,
                                                     summary(pid)))
    finally:
        rt.stop()
        llm.close()


if __name__ == "__main__":
    main()
