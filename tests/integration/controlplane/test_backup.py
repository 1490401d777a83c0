"""test_backup - claw-controlplane backup / restore (issue 15, item 7;
docs/operations-backup.md) with the embedded PostgreSQL.

- a running control plane with tenants, tokens, secrets, a node and audit
  rows is backed up; the archive holds no plaintext (no secret value, no
  master key, no SQL); it is restored into a new data directory and a
  control plane started on it: the tokens work, every secret decrypts (a
  deploy's assignment carries the values to the node, whose credential
  still works), and GET /v1/audit/verify says the chain and the carried
  checkpoints verify;
- a backup taken while a writer keeps creating tenants restores every
  tenant acknowledged before the backup started;
- a truncated, corrupt, wrong-key or foreign archive, a non-empty target
  and a world-readable secret key each fail with one "error CODE" line and
  the code's exit status, and leave no data directory behind.
"""

import glob
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

from clawtest import cp as cpmod
from clawtest.cp import ControlPlane
from clawtest.http import Client, free_port
from clawtest.proc import wait_for

sys.path.insert(0, os.path.join(os.environ.get("CLAW_SOURCE_DIR", "."),
                                "tests", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402

IMG = {"gateway_image": "registry.test/gw:1",
       "runtime_image": "registry.test/rt:1"}
EXIT = {"backup_usage": 2, "backup_io": 3, "backup_database": 4,
        "backup_key": 5, "backup_wrong_key": 6, "backup_corrupt": 7,
        "backup_truncated": 8, "restore_target_not_empty": 9}
_seq = itertools.count(1)


def run(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([cpmod.binary()] + list(args), capture_output=True,
                       text=True, env=e, timeout=600)
    # ASan/UBSan stay clean in the subcommands too
    assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, \
        r.stderr
    return r


class BackupTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # traversable by the embedded PostgreSQL's user when run as root
        cls.tmp = tempfile.mkdtemp(prefix="clawbk-")
        os.chmod(cls.tmp, 0o711)
        cls.key = os.path.join(cls.tmp, "op.key")
        r = run("backup-keygen", "--out", cls.key)
        assert r.returncode == 0, r.stderr
        cls.cp = ControlPlane(data_dir=os.path.join(cls.tmp, "src")).start()
        cls.admin = cls.cp.client()
        cls.values = {}
        for slug in ("bka", "bkb"):
            r = cls.admin.post("/v1/tenants", {"slug": slug, "name": slug})
            assert r.status == 201, r
            for name in ("API_KEY", "db.pass"):
                v = "v-%s-%s-%s" % (slug, name, os.urandom(8).hex())
                r = cls.admin.put("/v1/tenants/%s/secrets/%s" % (slug, name),
                                  {"value": v})
                assert r.status in (200, 201), r
                cls.values[(slug, name)] = v
        cls.op_token = cls.cp.new_token("operator")[1]
        cls.tenant_token = cls.cp.new_token("tenant", tenant="bka")[1]
        join = cls.admin.post("/v1/nodes/join-tokens", {}).json()["token"]
        cls.node = FakeNode(cls.cp.url, join, "bk-node")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.cp.stop_clean()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers
    def path(self, name):
        return os.path.join(self.tmp, "%s%d" % (name, next(_seq)))

    def backup(self, data_dir=None):
        out = self.path("archive")
        r = run("backup", "--out", out, "--to-key", self.key + ".pub",
                "--data-dir", data_dir or self.cp.data_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        return out

    def restore(self, archive, key=None, target=None):
        target = target or self.path("restored")
        r = run("restore", "--from", archive, "--key", key or self.key,
                "--data-dir", target)
        return r, target

    def restored_cp(self, archive):
        r, target = self.restore(archive)
        self.assertEqual(r.returncode, 0, r.stderr)
        cp = ControlPlane(data_dir=target).start()
        self.addCleanup(shutil.rmtree, target, True)
        self.addCleanup(cp.stop_clean)
        return cp

    def assertFails(self, r, code, target=None):
        self.assertEqual(r.returncode, EXIT[code], r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if " error " in ln]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("error %s: " % code, lines[0])
        if target:
            self.assertFalse(os.path.exists(target))
            self.assertEqual(glob.glob(os.path.join(
                os.path.dirname(target), ".clawrs-*")), [])

    # -- the round trip
    def test_restore_keeps_tenants_tokens_secrets_audit_nodes(self):
        archive = self.backup()
        with open(archive, "rb") as f:
            blob = f.read()
        with open(os.path.join(self.cp.data_dir, "master.key")) as f:
            master = f.read().split(":")[-1].strip()
        for plain in list(self.values.values()) + [master, "CREATE TABLE",
                                                   "audit_log"]:
            self.assertNotIn(plain.encode(), blob)
        self.assertEqual(os.stat(archive).st_mode & 0o077, 0)

        cp = self.restored_cp(archive)
        admin = cp.client()    # the restored admin.token
        slugs = {t["slug"] for t in
                 admin.get("/v1/tenants").json()["items"]}
        self.assertTrue({"bka", "bkb"} <= slugs, slugs)
        self.assertEqual(cp.client(self.op_token).get("/v1/tenants").status,
                         200)
        self.assertEqual(cp.client(self.tenant_token).get(
            "/v1/tenants/bka").status, 200)
        self.assertEqual(cp.client(self.tenant_token).get(
            "/v1/tenants/bkb").status, 404)
        self.assertEqual(cp.client("claw_" + "x" * 40).get(
            "/v1/tenants").status, 401)
        for slug in ("bka", "bkb"):
            names = {s["name"] for s in admin.get(
                "/v1/tenants/%s/secrets" % slug).json()["items"]}
            self.assertEqual(names, {"API_KEY", "db.pass"})

        # the node's credential works on the restored control plane, and
        # a deploy delivers every secret value, decrypted
        node = Client(cp.url, self.node.api.token)
        self.assertIn(node.post("/v1/agent/heartbeat", {
            "cpus_milli": 4000, "memory_mb": 8192,
            "version": "test"}).status, (200, 204))
        for slug in ("bka", "bkb"):
            r = admin.post("/v1/tenants/%s/deploy" % slug,
                           dict(IMG, secrets={"runtime": ["*"]}))
            self.assertEqual(r.status, 202, r)

        def delivered():
            r = node.get("/v1/agent/assignments?generation=0&wait=0")
            if r.status != 200:
                return None
            got = {t["tenant"]: t for t in r.json()["tenants"]}
            return got if {"bka", "bkb"} <= set(got) else None
        got = wait_for(delivered, timeout=120,
                       what="the deploys' assignments")
        for (slug, name), value in self.values.items():
            self.assertEqual(got[slug]["runtime"]["secrets"][name], value)

        v = admin.get("/v1/audit/verify").json()
        self.assertTrue(v["ok"], v)
        self.assertGreater(v["rows_checked"], 5)
        self.assertGreater(v["checkpoints"]["checked"], 0, v)
        for value in self.values.values():
            self.assertNotIn(value, cp.daemon.log_text())

    def test_backup_under_writes_is_consistent(self):
        acked, stop = [], threading.Event()
        admin = self.cp.client()

        def writer():
            n = 0
            while not stop.is_set():
                n += 1
                slug = "wl%d-%d" % (next(_seq), n)
                r = admin.post("/v1/tenants", {"slug": slug, "name": slug})
                if r.status == 201:
                    acked.append(slug)
        t = threading.Thread(target=writer)
        t.start()
        try:
            wait_for(lambda: len(acked) >= 3, timeout=120,
                     what="the first writes")
            before = list(acked)
            archive = self.backup()
        finally:
            stop.set()
            t.join()
        cp = self.restored_cp(archive)
        slugs = set()
        cursor = None
        while True:
            q = "/v1/tenants?limit=200" + ("&cursor=" + cursor
                                           if cursor else "")
            j = cp.client().get(q).json()
            slugs |= {x["slug"] for x in j["items"]}
            cursor = j.get("next_cursor")
            if not cursor:
                break
        missing = [s for s in before if s not in slugs]
        self.assertEqual(missing, [])
        v = cp.client().get("/v1/audit/verify").json()
        self.assertTrue(v["ok"], v)

    def test_offline_backup_starts_the_cluster_for_the_dump(self):
        r, first = self.restore(self.backup())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.addCleanup(shutil.rmtree, first, True)
        cp = ControlPlane(data_dir=first).start()
        cp.client().post("/v1/tenants", {"slug": "offl", "name": "O"})
        cp.stop_clean()
        archive = self.backup(data_dir=first)     # no daemon runs it
        self.assertFalse(os.path.exists(
            os.path.join(first, "pg", "postmaster.pid")))
        cp = self.restored_cp(archive)
        self.assertEqual(cp.client().get("/v1/tenants/offl").status, 200)

    # -- bad archives and bad targets
    def test_bad_archives_fail_cleanly(self):
        archive = self.backup()
        with open(archive, "rb") as f:
            blob = f.read()
        cases = []
        for cut in (4, 60, 130, len(blob) // 2, len(blob) - 1):
            cases.append((blob[:cut], "backup_corrupt" if cut < 8
                          else "backup_truncated"))
        flipped = bytearray(blob)
        flipped[len(blob) // 2] ^= 0x40
        cases.append((bytes(flipped), "backup_corrupt"))
        cases.append((blob + b"\0\0\0\0", "backup_corrupt"))
        cases.append((b"PGDMP" + b"\0" * 200, "backup_corrupt"))
        for data, code in cases:
            bad = self.path("bad")
            with open(bad, "wb") as f:
                f.write(data)
            r, target = self.restore(bad)
            self.assertFails(r, code, target)

        other = self.path("other.key")
        self.assertEqual(run("backup-keygen", "--out", other).returncode, 0)
        r, target = self.restore(archive, key=other)
        self.assertFails(r, "backup_wrong_key", target)

        os.chmod(other, 0o644)
        r, target = self.restore(archive, key=other)
        self.assertFails(r, "backup_key", target)

        full = self.path("full")
        os.makedirs(full)
        with open(os.path.join(full, "x"), "w") as f:
            f.write("x")
        r, _ = self.restore(archive, target=full)
        self.assertFails(r, "restore_target_not_empty")
        self.assertEqual(os.listdir(full), ["x"])

    def test_usage_and_keys(self):
        for args in (["--help"], ["backup", "--help"]):
            r = run(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            for sub in ("backup-keygen --out", "backup --out",
                        "restore --from"):
                self.assertIn(sub, r.stdout)
        self.assertFails(run("backup", "--data-dir", self.cp.data_dir),
                         "backup_usage")
        self.assertFails(run("restore", "--from", "x"), "backup_usage")
        # the default public key is DATA_DIR/backup.pub: absent here
        out = self.path("nokey")
        r = run("backup", "--out", out, "--data-dir", self.cp.data_dir)
        self.assertFails(r, "backup_key")
        self.assertFalse(os.path.exists(out))
        # a master key that is not the database's: no archive
        wrong = "1:" + "ab" * 32
        r = run("backup", "--out", out, "--to-key", self.key + ".pub",
                "--data-dir", self.cp.data_dir,
                env={"CLAW_MASTER_KEY": wrong})
        self.assertFails(r, "backup_key")
        self.assertFalse(os.path.exists(out))
        self.assertEqual(glob.glob(out + "*"), [])
        # an unreachable database: one error, no archive, no password
        r = run("backup", "--out", out, "--to-key", self.key + ".pub",
                "--data-dir", self.cp.data_dir, "--database-url",
                "postgresql://u:hunter2pw@127.0.0.1:%d/x" % free_port())
        self.assertFails(r, "backup_database")
        self.assertNotIn("hunter2pw", r.stderr)
        self.assertEqual(glob.glob(out + "*"), [])
        # keygen never overwrites
        r = run("backup-keygen", "--out", self.key)
        self.assertFails(r, "backup_io")


if __name__ == "__main__":
    unittest.main()
