"""procmem.py - what a process's memory really costs, from /proc (used by
bench/gateway/bench.py and bench/runtime/bench_runtime.py).

RSS counts every resident page, including shared library pages that every
other process mapping the same file shares; PSS divides those among their
users; private (clean + dirty) is what this process alone holds and what
one more tenant adds. The top mappings show where RSS goes."""


def rollup(pid):
    """Fields of /proc/PID/smaps_rollup in KiB."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def by_mapping(pid, top=5):
    """[(rss_kb, pss_kb, private_kb, name)] of the largest mappings."""
    acc, name = {}, "[anon]"
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and not parts[0].endswith(":"):
                name = parts[5].rsplit("/", 1)[-1] if len(parts) > 5 \
                    else "[anon]"
                continue
            key = parts[0].rstrip(":")
            if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                a = acc.setdefault(name, [0, 0, 0])
                a[0 if key == "Rss" else 1 if key == "Pss" else 2] += \
                    int(parts[1])
    rows = sorted(((v[0], v[1], v[2], k) for k, v in acc.items()),
                  reverse=True)
    return rows[:top]


def summary(pid, top=0):
    """One line: RSS, PSS, private, anonymous (MB); with top > 0 a second
    line with the largest mappings."""
    r = rollup(pid)
    priv = r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)
    s = ("RSS %.1f MB, PSS %.1f MB, private %.1f MB (anonymous %.1f MB, "
         "shared library pages %.1f MB)" % (
             r.get("Rss", 0) / 1024, r.get("Pss", 0) / 1024, priv / 1024,
             r.get("Anonymous", 0) / 1024,
             (r.get("Shared_Clean", 0) + r.get("Shared_Dirty", 0)) / 1024))
    if top:
        s += "\n    largest (RSS/PSS/private KiB): " + ", ".join(
            "%s %d/%d/%d" % (n, a, b, c)
            for a, b, c, n in by_mapping(pid, top))
    return s
