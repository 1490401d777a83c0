"""Node agent against the real Docker engine and the local registry:
deploy to healthy, digest pinning, hardening, secrets only as tmpfs files
(never in docker inspect), docker kill healed, agent restart adopts without
restarting, suspend, wrong credentials and missing image with clear reasons
and no credential in any log, registry credentials withheld from any other
registry, the local API on an owner-only unix socket (no TCP), the explicit
seccomp profile and a host uid per tenant (files and volume its own, kept
across restarts and a leave-and-return), crash loop backoff and report,
cross-tenant isolation, a dockerd restart mid-run."""

import http.server
import json
import os
import random
import secrets
import socket
import stat
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.docker import (BUILD, SRC, DockerEnv,  # noqa: E402
                             HealthsrvCase, agent_for, http_get, tenant_spec,
                             uniq)

NOBODY = 65534
UID_BASE, UID_COUNT = 2000000000, 1000000  # the agent's defaults


def as_user(uid, fn, *args):
    """fn(*args) in a child process running as uid:uid (no groups): its
    return value, or the name of the exception it raised."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            out = repr(fn(*args))
        except Exception as e:  # noqa: BLE001 (reported to the parent)
            out = type(e).__name__
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out


def unix_connect(path):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
    return "connected"


def read_file(path):
    with open(path) as f:
        return f.read()


class FakeRegistry:
    """A registry on 127.0.0.1 that asks for Basic credentials and records
    every Authorization header sent to it (it never accepts any)."""

    def __init__(self):
        seen = self.seen = []
        self.requests = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                if self.headers.get("Authorization"):
                    seen.append(self.headers.get("Authorization"))
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="fake"')
                self.send_header("Docker-Distribution-Api-Version",
                                 "registry/2.0")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_GET

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class NodeAgentDocker(HealthsrvCase):
    CRASH = ["--crash-after-ms", "300", "--exit-code", "3"]

    def agent(self, tenants, env=None, extra=(), remove=True):
        return agent_for(self, env or self.env, tenants,
                         ["--backoff-ms", "300", "--crash-loop-after", "3"] +
                         list(extra), remove)

    def test_deploy_pin_harden_secrets_heal_adopt(self):
        name = uniq("acme")
        sec = {"gateway": {"TG_TOKEN": "tg-" + secrets.token_hex(12)},
               "runtime": {"LLM_KEY": "sk-" + secrets.token_hex(12)}}
        spec = tenant_spec(name, self.ok_tag, self.ok_tag,
                           auth=self.env.auth(), secrets=sec)
        na = self.agent([spec])
        t = na.wait_healthy(name)
        # Pinned by digest: the tag was resolved, the containers run it.
        self.assertIn("@sha256:", t["images"]["runtime"])
        self.assertEqual(t["images"]["runtime"], self.ok)
        gw = self.env.inspect("claw-%s-gateway" % name)
        rt = self.env.inspect("claw-%s-runtime" % name)
        for c in (gw, rt):
            self.assertEqual(c["Config"]["Image"], self.ok)
            hc = c["HostConfig"]
            self.assertTrue(hc["ReadonlyRootfs"])
            uid = int(c["Config"]["Labels"]["claw.uid"])
            self.assertTrue(UID_BASE <= uid < UID_BASE + UID_COUNT)
            self.assertEqual(c["Config"]["User"], "%d:%d" % (uid, uid))
            self.assertEqual(hc["CapDrop"], ["ALL"])
            self.assertIn("no-new-privileges:true", hc["SecurityOpt"])
            self.assertEqual(hc["PidsLimit"], 64)
            self.assertEqual(hc["Memory"], 64 << 20)
            self.assertIn("/tmp", hc["Tmpfs"])
            self.assertEqual(c["Config"]["Labels"]["claw.tenant"], name)
        # No secret value anywhere in docker inspect, nor in the env.
        raw = self.env.docker("inspect", gw["Id"], rt["Id"])
        for role in sec.values():
            for v in role.values():
                self.assertNotIn(v, raw)
        rt_ip = t["roles"]["runtime"]["ip"]
        code, body = http_get("http://%s:8081/file?path=/run/claw/secrets/"
                              "LLM_KEY" % rt_ip)
        self.assertEqual((code, body), (200, sec["runtime"]["LLM_KEY"]))
        code, body = http_get("http://%s:8081/env" % rt_ip)
        self.assertNotIn(sec["runtime"]["LLM_KEY"], body)
        # The runtime does not get the gateway's secrets.
        code, _ = http_get("http://%s:8081/file?path=/run/claw/secrets/"
                           "TG_TOKEN" % rt_ip)
        self.assertEqual(code, 404)
        code, body = http_get("http://%s:8081/file?path=/etc/claw/"
                              "runtime.json" % rt_ip)
        self.assertEqual(json.loads(body), {"role": "rt"})
        # The gateway alone is published, on 127.0.0.1.
        port = t["roles"]["gateway"]["port"]
        self.assertEqual(http_get("http://127.0.0.1:%d/healthz" % port)[0],
                         200)
        self.assertFalse(rt["HostConfig"].get("PortBindings"))
        # docker kill is healed.
        before = t["roles"]["runtime"]["restarts"]
        self.env.docker("kill", "claw-%s-runtime" % name)
        na.wait_tenant(name, lambda t: t["roles"]["runtime"]["restarts"] >
                       before and t["phase"] == "healthy", 30)
        # A restarted agent adopts without restarting.
        ids = {c: self.env.inspect("claw-%s-%s" % (name, c))["State"]
               ["StartedAt"] for c in ("gateway", "runtime")}
        self.assertEqual(na.stop(), 0)
        na.start()
        na.wait_healthy(name)
        for c in ("gateway", "runtime"):
            self.assertEqual(self.env.inspect("claw-%s-%s" % (name, c))
                             ["State"]["StartedAt"], ids[c])
        # Suspend: the runtime stops, the gateway stays.
        spec["state"] = "suspended"
        na.set_desired({"generation": 2, "tenants": [spec]})
        na.wait_tenant(name, lambda t: t["phase"] == "suspended", 30)
        self.assertFalse(self.env.inspect("claw-%s-runtime" % name)
                         ["State"]["Running"])
        self.assertEqual(self.env.inspect("claw-%s-gateway" % name)
                         ["State"]["StartedAt"], ids["gateway"])
        spec["state"] = "running"
        na.set_desired({"generation": 3, "tenants": [spec]})
        na.wait_healthy(name)
        # Secret values never reached the agent's log.
        log = na.log_text()
        for role in sec.values():
            for v in role.values():
                self.assertNotIn(v, log)
        self.assertNotIn(self.env.password, log)

    def test_wrong_credentials_and_missing_image(self):
        bad = uniq("badauth")
        missing = uniq("missing")
        wrong = dict(self.env.auth(), password="wrong-" + secrets.token_hex(8))
        na = self.agent([
            tenant_spec(bad, self.ok_tag, self.ok_tag, auth=wrong),
            tenant_spec(missing, self.ok_tag + "-nope", self.ok_tag + "-nope",
                        auth=self.env.auth()),
        ])
        t = na.wait_tenant(bad, lambda t: t["phase"] == "failed", 60)
        self.assertRegex(t["reason"], "(?i)unauthori[sz]ed|authentication")
        t = na.wait_tenant(missing, lambda t: t["phase"] == "failed", 60)
        self.assertRegex(t["reason"], "(?i)not found|manifest unknown")
        status = json.dumps(na.status())
        log = na.log_text()
        for text in (status, log):
            self.assertNotIn(wrong["password"], text)
            self.assertNotIn(self.env.password, text)

    def test_registry_credentials_only_for_their_registry(self):
        """The fleet's registry credentials (for 127.0.0.1:5000) are not
        sent when a tenant names an image on another registry; the same
        registry spelled another way still gets them."""
        fake = FakeRegistry()
        self.addCleanup(fake.close)
        evil, good = uniq("evilreg"), uniq("goodreg")
        auth = self.env.auth()
        respelled = dict(auth, serveraddress="HTTP://%s/v2/" %
                         self.env.registry.upper())
        evil_img = "127.0.0.1:%d/claw-test/x:1" % fake.port
        na = self.agent([
            tenant_spec(evil, evil_img, evil_img, auth=auth),
            tenant_spec(good, self.ok_tag, self.ok_tag, auth=respelled),
        ])
        t = na.wait_tenant(evil, lambda t: t["phase"] == "failed", 60)
        na.wait_healthy(good)
        # The pull reached the other registry, without any credential.
        self.assertGreater(fake.requests, 0, t["reason"])
        self.assertEqual(fake.seen, [])
        log = na.log_text()
        self.assertIn("registry credentials withheld from the pull of '%s'"
                      % evil_img, log)
        for text in (log, json.dumps(na.status())):
            self.assertNotIn(self.env.password, text)

    def test_local_api_is_owner_only(self):
        na = self.agent([])
        st = os.lstat(na.api)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, os.geteuid())
        # Another local user cannot connect (its directory is open to all:
        # the socket's mode alone keeps it out).
        os.chmod(na.dir, 0o755)
        self.assertEqual(as_user(NOBODY, unix_connect, na.api),
                         "PermissionError")
        self.assertEqual(as_user(0, unix_connect, na.api), "'connected'")
        # No TCP listener at all.
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % na.proc.pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (na.proc.pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if cols[3] == "0A":  # LISTEN
                        self.assertNotIn(cols[9], inodes, table)
        # The old TCP option is gone (refused, not ignored), and a second
        # agent on the same socket is refused while the first runs.
        binary = os.path.join(BUILD, "node-agent", "claw-node-agent")
        r = subprocess.run([binary, "--listen", "127.0.0.1:7071",
                            "--desired-file", "/nonexistent"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = subprocess.run([binary, "--api-socket", na.api,
                            "--desired-file", na.desired_path,
                            "--docker-socket", self.env.socket,
                            "--state-dir", os.path.join(na.dir, "state2"),
                            "--secrets-dir", na.secrets,
                            "--node-name", uniq("second")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("another node agent serves", r.stdout + r.stderr)
        self.assertEqual(na.get("/healthz")[0], 200)

    def test_egress_subnet(self):
        """--egress-subnet sizes the network every gateway joins (the
        engine's pool gives each network the same size, which caps the
        gateways of a dense node); a bad one is refused before anything
        is made. A /30 holds one gateway: the second tenant's gateway
        cannot start, and that tenant stays crash_loop: its log says so
        a few lines per backed-off start, not a "failed"/"crash_loop" pair
        on every pass of the loop (90 MB in 15 minutes for 50 such
        tenants)."""
        binary = os.path.join(BUILD, "node-agent", "claw-node-agent")
        for bad in ("10.251.0.1/24", "10.251.0.0", "10.251.0.0/7",
                    "10.251.0.0/31", "fe80::/64", "10.251.0.0/2x"):
            r = subprocess.run([binary, "--egress-subnet", bad,
                                "--desired-file", "/nonexistent"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("--egress-subnet must be an IPv4 network",
                          r.stderr)
        subnet = "10.251.%d.%d/30" % (random.randrange(256),
                                      4 * random.randrange(64))
        one, two = uniq("sub1"), uniq("sub2")
        # The subnet taken by another network first: the agent's network
        # fails, and is tried again after a backoff, not on every pass
        # of its loop (70,000 log lines in minutes), until it can be made.
        blocker = uniq("blocker")
        self.env.docker("network", "create", "--subnet", subnet, blocker)
        self.addCleanup(self.env.docker, "network", "rm", blocker,
                        check=False)
        na = self.agent([], extra=["--egress-subnet", subnet,
                                   "--gateway-wait-ms", "1000"])
        time.sleep(3)
        tries = na.log_text().count("unable to create network")
        self.assertGreaterEqual(tries, 1)
        self.assertLessEqual(tries, 6)
        self.env.docker("network", "rm", blocker)
        na.set_desired({"generation": 2, "tenants": [
            tenant_spec(one, self.ok, self.ok)]})
        na.wait_healthy(one)
        got = self.env.docker("network", "inspect", na.egress, "-f",
                              "{{(index .IPAM.Config 0).Subnet}} "
                              "{{(index .IPAM.Config 0).Gateway}}").split()
        first = subnet.split("/")[0].rsplit(".", 1)
        self.assertEqual(got, [subnet, "%s.%d" % (first[0],
                                                  int(first[1]) + 1)])
        na.set_desired({"generation": 3, "tenants": [
            tenant_spec(one, self.ok, self.ok),
            tenant_spec(two, self.ok, self.ok)]})
        t = na.wait_tenant(two, lambda t: t["phase"] == "crash_loop", 90)
        self.assertIn("gateway is crash looping", t["reason"])
        time.sleep(3)  # past --gateway-wait-ms: the phase stays
        self.assertEqual(na.tenant(two)["phase"], "crash_loop")
        self.assertEqual(na.tenant(one)["phase"], "healthy")
        lines = [ln for ln in na.log_text().splitlines()
                 if "tenant '%s' phase" % two in ln]
        # a few lines per backed-off start (about 40 in this window when
        # every pass of the loop flipped the phase)
        self.assertLessEqual(len(lines), 15, "\n".join(lines[-16:]))

    def test_sandbox_seccomp_and_a_uid_per_tenant(self):
        a, b = uniq("sbx-a"), uniq("sbx-b")
        sec = {"gateway": {"TG_TOKEN": "tg-" + secrets.token_hex(8)}}
        spec_a = tenant_spec(a, self.ok, self.ok, secrets=sec)
        na = self.agent([spec_a, tenant_spec(b, self.ok, self.ok)])
        ta, tb = na.wait_healthy(a), na.wait_healthy(b)
        with open(os.path.join(SRC, "deploy", "seccomp",
                               "claw-tenant.json")) as f:
            profile = json.load(f)
        uids = {}
        for name, t in ((a, ta), (b, tb)):
            for role, port in (("gateway", 8080), ("runtime", 8081)):
                c = self.env.inspect("claw-%s-%s" % (name, role))
                opts = c["HostConfig"]["SecurityOpt"]
                # The shipped profile, given explicitly.
                given = [o for o in opts if o.startswith("seccomp=")]
                self.assertEqual(len(given), 1, opts)
                self.assertEqual(json.loads(given[0][8:]), profile)
                self.assertIn("no-new-privileges:true", opts)
                ip = t["roles"][role]["ip"]
                # In force: calls Docker's default profile lets through
                # are refused (EPERM) in the container.
                for call in ("ptrace", "io_uring_setup", "unshare"):
                    self.assertEqual(
                        http_get("http://%s:%d/syscall?name=%s" %
                                 (ip, port, call))[1], "errno 1", call)
                # Its own uid, the same for both roles of a tenant.
                code, ids = http_get("http://%s:%d/id" % (ip, port))
                uid, gid = map(int, ids.split())
                self.assertEqual(uid, gid)
                self.assertEqual(uid, t["uid"])
                self.assertEqual(c["Config"]["Labels"]["claw.uid"], str(uid))
                uids.setdefault(name, set()).add(uid)
                # Its data volume is its own.
                self.assertEqual(
                    http_get("http://%s:%d/write?path=/var/lib/claw/probe"
                             "&bytes=10" % (ip, port))[1], "wrote 10")
        self.assertEqual(len(uids[a]), 1)
        self.assertEqual(len(uids[b]), 1)
        ua, ub = uids[a].pop(), uids[b].pop()
        self.assertNotEqual(ua, ub)
        for u in (ua, ub):
            self.assertTrue(UID_BASE <= u < UID_BASE + UID_COUNT)
        # The files the agent wrote for a are a's alone: b's uid (a
        # process that escaped b's container) cannot read them.
        secret = os.path.join(na.secrets, a, "gateway", "TG_TOKEN")
        config = os.path.join(na.dir, "state", "tenants", a, "gateway.json")
        for path in (secret, config):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid), (ua, ua), path)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o400, path)
            self.assertEqual(as_user(ub, read_file, path), "PermissionError")
        st = os.stat(os.path.dirname(secret))
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (ua, 0o500))
        vol = json.loads(self.env.docker("volume", "inspect",
                                         "claw-%s-runtime-data" % a))[0]
        self.assertEqual(vol["Labels"]["claw.uid"], str(ua))
        # A restarted agent keeps every uid, restarting nothing.
        started = self.env.inspect("claw-%s-runtime" % a)["State"]["StartedAt"]
        self.assertEqual(na.stop(), 0)
        na.start()
        self.assertEqual(na.wait_healthy(a)["uid"], ua)
        self.assertEqual(na.wait_healthy(b)["uid"], ub)
        self.assertEqual(self.env.inspect("claw-%s-runtime" % a)["State"]
                         ["StartedAt"], started)
        # a leaves (its volume stays) and comes back to a restarted agent
        # (which knows a's uid only from the volume's label): the same
        # uid, and its data.
        na.set_desired({"generation": 2, "tenants": [
            tenant_spec(b, self.ok, self.ok)]})
        na.wait(lambda s: [t["tenant"] for t in s["tenants"]] == [b], 60)
        self.assertEqual(na.stop(), 0)
        na.start()
        na.set_desired({"generation": 3, "tenants": [
            spec_a, tenant_spec(b, self.ok, self.ok)]})
        ta = na.wait_healthy(a)
        self.assertEqual(ta["uid"], ua)
        ip = ta["roles"]["runtime"]["ip"]
        self.assertEqual(http_get("http://%s:8081/file?path=/var/lib/claw/"
                                  "probe" % ip), (200, "\0" * 10))

    def test_disk_limit_from_the_plan(self):
        name = uniq("disk")
        spec = tenant_spec(name, self.ok, self.ok)
        # First without a disk: data in its plain volume ...
        na = self.agent([spec])
        t = na.wait_healthy(name)
        self.assertNotIn("disk_mb", t)
        ip = t["roles"]["runtime"]["ip"]
        self.assertEqual(http_get("http://%s:8081/write?path=/var/lib/claw/"
                                  "before&bytes=5" % ip)[1], "wrote 5")
        # ... then its plan gets one: the data moves onto it.
        spec["plan"]["disk_mb"] = 32
        na.set_desired({"generation": 2, "tenants": [spec]})
        t = na.wait_tenant(name, lambda t: t["phase"] == "healthy" and
                           t.get("disk_mb") == 32, 60)
        ip = t["roles"]["runtime"]["ip"]
        self.assertEqual(http_get("http://%s:8081/file?path=/var/lib/claw/"
                                  "before" % ip), (200, "\0" * 5))
        mnt = os.path.join(na.dir, "state", "disks", name)
        self.assertTrue(os.path.ismount(mnt))
        for role in ("gateway", "runtime"):
            vol = json.loads(self.env.docker(
                "volume", "inspect", "claw-%s-%s-disk" % (name, role)))[0]
            self.assertEqual(vol["Options"]["device"],
                             os.path.join(mnt, role))
            self.assertEqual(vol["Labels"]["claw.uid"], str(t["uid"]))
        # Filling the volume fills the tenant's disk, not the host's.
        out = http_get("http://%s:8081/write?path=/var/lib/claw/big&"
                       "bytes=%d" % (ip, 64 << 20), 60)[1]
        self.assertRegex(out, r"^errno 28 after \d+$")  # ENOSPC
        self.assertLess(int(out.split()[-1]), 32 << 20)
        # The gateway shares the tenant's disk: it is full for it too,
        # and the tenant still runs.
        gw = t["roles"]["gateway"]["ip"]
        self.assertRegex(http_get("http://%s:8080/write?path=/var/lib/"
                                  "claw/more&bytes=%d" % (gw, 8 << 20))[1],
                         r"^errno 28")
        self.assertEqual(na.tenant(name)["phase"], "healthy")
        http_get("http://%s:8081/write?path=/var/lib/claw/big&bytes=10" %
                 ip)
        # A bigger plan; the tenant leaves and comes back: its disk is
        # mounted again, at the new size, with its data.
        spec["plan"]["disk_mb"] = 64
        na.set_desired({"generation": 3, "tenants": [spec]})
        na.wait_tenant(name, lambda t: t.get("disk_mb") == 64, 60)
        na.set_desired({"generation": 4, "tenants": []})
        na.wait(lambda s: not s["tenants"], 60)
        self.assertFalse(os.path.ismount(mnt))
        na.set_desired({"generation": 5, "tenants": [spec]})
        t = na.wait_healthy(name)
        ip = t["roles"]["runtime"]["ip"]
        self.assertEqual(http_get("http://%s:8081/file?path=/var/lib/claw/"
                                  "big" % ip), (200, "\0" * 10))
        self.assertEqual(http_get("http://%s:8081/write?path=/var/lib/claw/"
                                  "big2&bytes=%d" % (ip, 40 << 20), 60)[1],
                         "wrote %d" % (40 << 20))

    def test_crash_loop_backs_off_and_is_reported(self):
        name = uniq("crashy")
        na = self.agent([tenant_spec(name, self.ok, self.crash)])
        t = na.wait_tenant(name, lambda t: t["phase"] == "crash_loop", 90)
        rt = t["roles"]["runtime"]
        self.assertEqual(rt["last_exit_code"], 3)
        self.assertTrue(rt["crash_loop"])
        self.assertIn("crashing with 3", rt["log_tail"])
        self.assertIn("exit code 3", t["reason"])
        # Backoff: restarts grow slower than the crashes would allow.
        n = rt["restarts"]
        time.sleep(2)
        self.assertLessEqual(na.tenant(name)["roles"]["runtime"]["restarts"],
                             n + 2)
        # The agent's log API decodes Docker's multiplexed stream.
        code, body = na.get("/v1/tenants/%s/logs?role=runtime&tail=5" %
                            name)
        self.assertEqual(code, 200)
        self.assertIn("crashing with 3", body)

    def test_cross_tenant_isolation(self):
        a, b = uniq("iso-a"), uniq("iso-b")
        na = self.agent([tenant_spec(a, self.ok, self.ok),
                         tenant_spec(b, self.ok, self.ok)])
        ta = na.wait_healthy(a)
        tb = na.wait_healthy(b)
        a_rt = ta["roles"]["runtime"]["ip"]

        def reach(src, to):
            return http_get("http://%s:8081/connect?to=%s" % (src, to))[1]
        # A's runtime reaches A's gateway on their network ...
        self.assertEqual(reach(a_rt, ta["roles"]["gateway"]["ip"] + ":8080"),
                         "reachable")
        # ... and nothing of B's, on any of B's networks.
        b_ips = []
        for role in ("gateway", "runtime"):
            c = self.env.inspect("claw-%s-%s" % (b, role))
            b_ips += [n["IPAddress"] for n in
                      c["NetworkSettings"]["Networks"].values()]
        for ip in b_ips:
            self.assertEqual(reach(a_rt, ip + ":8080"), "unreachable", ip)
            self.assertEqual(reach(a_rt, ip + ":8081"), "unreachable", ip)
        # Gateways share the egress network but not a path to each other.
        a_gw = self.env.inspect("claw-%s-gateway" % a)
        egress = [n["IPAddress"] for k, n in
                  a_gw["NetworkSettings"]["Networks"].items()
                  if k.startswith("claw-egress")][0]
        self.assertEqual(reach(tb["roles"]["gateway"]["ip"],
                               egress + ":8080"), "unreachable")

    def test_dockerd_restart_mid_run(self):
        env2 = DockerEnv("na-restart")
        self.addCleanup(env2.stop_engine)  # runs after the agent's cleanup
        name = uniq("survivor")
        # The engine is thrown away after the test: its containers are not
        # removed one by one (after an unclean engine restart Docker may
        # refuse with "device or resource busy" on the old rootfs, and the
        # agent would retry until the engine goes).
        na = self.agent([tenant_spec(name, self.ok, self.ok,
                                     auth=self.env.auth())], env=env2,
                        remove=False)
        na.wait_healthy(name, 120)
        env2.stop_engine()
        env2.start()
        # Healthy again after a restart (right after the engine is back
        # the status may still be the one from before it went away).
        t = na.wait_tenant(name, lambda t: t["phase"] == "healthy" and
                           t["roles"]["runtime"]["restarts"] >= 1, 120)
        self.assertTrue(env2.inspect("claw-%s-runtime" % name)["State"]
                        ["Running"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
