"""Integration: the systemd units in deploy/systemd/ (docs/operations.md,
"systemd"). Each unit, and the control plane's credentials drop-in, passes
`systemd-analyze verify` with no warning about it (with ExecStart pointed at
this build's binaries, which verify requires to exist); each unit's
offline `systemd-analyze security` exposure stays under its bound, and the
same unit stripped of its hardening goes over it (so the bound is what
holds the hardening in place); the settings the brief requires are there
(dedicated user or DynamicUser, StateDirectory, NoNewPrivileges, a
capability bounding set, address families, a system call filter), and the
daemons read secrets only from files the credentials drop-in hands them."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

SRC = os.environ.get("CLAW_SOURCE_DIR", os.getcwd())
BUILD = os.environ.get("CLAW_BUILD_DIR", os.path.join(SRC, "build"))
UNITS = os.path.join(SRC, "deploy", "systemd")
BINARIES = {
    "/usr/bin/claw-controlplane": os.path.join(BUILD, "controlplane",
                                               "claw-controlplane"),
    "/usr/bin/claw-node-agent": os.path.join(BUILD, "node-agent",
                                             "claw-node-agent"),
}
# Offline exposure bounds (0 = locked down, 10 = none): the node agent has
# no mount namespace (its mounts must reach dockerd).
EXPOSURE = {"claw-controlplane.service": 2.5, "claw-edge.service": 2.5,
            "claw-node-agent.service": 5.5}
# Settings stripped to prove the bound bites.
HARDENING = re.compile(
    r"^(NoNewPrivileges|CapabilityBoundingSet|AmbientCapabilities|Protect\w+"
    r"|Private\w+|Restrict\w+|LockPersonality|MemoryDenyWriteExecute"
    r"|SystemCall\w+|DynamicUser|User|Group)=.*\n", re.M)


def service_section(path):
    """The [Service] section as {key: [values]} (keys repeat)."""
    out = {}
    section = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


class UnitsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not shutil.which("systemd-analyze"):
            raise unittest.SkipTest("systemd-analyze missing: apt-get "
                                    "install systemd")
        cls.dir = tempfile.mkdtemp(prefix="claw-units-")
        cls.units = sorted(u for u in os.listdir(UNITS)
                           if u.endswith(".service"))
        for u in cls.units:
            with open(os.path.join(UNITS, u)) as f:
                text = f.read()
            for installed, built in BINARIES.items():
                # verify needs an executable; a build without the daemon
                # checks the rest of the unit against /bin/true.
                text = text.replace(installed, built if os.access(
                    built, os.X_OK) else "/bin/true")
            if not shutil.which("caddy"):
                text = text.replace("/usr/bin/caddy", "/bin/true")
            with open(os.path.join(cls.dir, u), "w") as f:
                f.write(text)
        dropin = os.path.join(cls.dir, "claw-controlplane.service.d")
        os.mkdir(dropin)
        shutil.copy(os.path.join(UNITS, "claw-controlplane-credentials.conf"),
                    os.path.join(dropin, "credentials.conf"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def analyze(self, *args):
        return subprocess.run(["systemd-analyze"] + list(args),
                              cwd=self.dir, capture_output=True, text=True,
                              timeout=120)

    def test_units_exist(self):
        self.assertEqual(self.units, ["claw-controlplane.service",
                                      "claw-edge.service",
                                      "claw-node-agent.service"])

    def test_verify(self):
        for u in self.units:
            with self.subTest(unit=u):
                r = self.analyze("verify", "--man=no", "./" + u)
                self.assertEqual(r.returncode, 0, r.stderr)
                mine = [ln for ln in (r.stdout + r.stderr).splitlines()
                        if "claw" in ln or self.dir in ln]
                self.assertEqual(mine, [])

    def test_verify_sees_the_dropin(self):
        # A wrong key in the drop-in is reported: verify reads it.
        d = os.path.join(self.dir, "claw-controlplane.service.d")
        bad = os.path.join(d, "zz-bad.conf")
        with open(bad, "w") as f:
            f.write("[Service]\nNoSuchSetting=1\n")
        try:
            r = self.analyze("verify", "--man=no",
                             "./claw-controlplane.service")
            self.assertIn("NoSuchSetting", r.stderr)
        finally:
            os.unlink(bad)

    def test_exposure_bound(self):
        for u in self.units:
            with self.subTest(unit=u):
                r = self.analyze("security", "--offline=yes",
                                 "--threshold=%s" % int(EXPOSURE[u] * 10),
                                 "./" + u)
                self.assertEqual(r.returncode, 0, r.stdout[-2000:])

    def test_exposure_bound_fails_without_hardening(self):
        for u in self.units:
            with self.subTest(unit=u):
                with open(os.path.join(self.dir, u)) as f:
                    text = HARDENING.sub("", f.read())
                bare = "bare-" + u
                with open(os.path.join(self.dir, bare), "w") as f:
                    f.write(text)
                try:
                    r = self.analyze("security", "--offline=yes",
                                     "--threshold=%s" %
                                     int(EXPOSURE[u] * 10), "./" + bare)
                    self.assertNotEqual(r.returncode, 0)
                finally:
                    os.unlink(os.path.join(self.dir, bare))

    def test_required_settings(self):
        for u in self.units:
            with self.subTest(unit=u):
                s = service_section(os.path.join(UNITS, u))
                self.assertEqual(s.get("Type"), ["exec"])  # no sd_notify
                self.assertTrue(s.get("User") or
                                s.get("DynamicUser") == ["true"])
                self.assertTrue(s.get("StateDirectory"))
                self.assertEqual(s.get("NoNewPrivileges"), ["true"])
                self.assertIn("CapabilityBoundingSet", s)
                self.assertNotIn("CAP_SYS_PTRACE",
                                 " ".join(s["CapabilityBoundingSet"]))
                self.assertTrue(s.get("RestrictAddressFamilies"))
                self.assertIn("@system-service",
                              " ".join(s.get("SystemCallFilter", [])))
                if u != "claw-node-agent.service":
                    self.assertEqual(s.get("ProtectSystem"), ["strict"])
                    self.assertEqual(s.get("ProtectHome"), ["true"])
                    self.assertEqual(s.get("PrivateTmp"), ["true"])
                else:
                    # Its mounts must reach dockerd: no mount namespace.
                    for k in ("ProtectSystem", "ProtectHome", "PrivateTmp",
                              "PrivateDevices"):
                        self.assertNotIn(k, s)
        cp = service_section(os.path.join(UNITS,
                                          "claw-controlplane.service"))
        self.assertEqual(cp["User"], ["claw"])
        self.assertEqual(cp["CapabilityBoundingSet"], [""])

    def test_credentials_dropin_points_at_credentials_dir(self):
        """Every secret the drop-in loads reaches the daemon only as a
        path under $CREDENTIALS_DIRECTORY (%d), through an option the
        daemon has (its --help lists it)."""
        s = service_section(os.path.join(
            UNITS, "claw-controlplane-credentials.conf"))
        ids = [v.split(":", 1)[0] for v in s["LoadCredential"]]
        env = dict(v.split("=", 1) for v in s["Environment"])
        for cid in ids:
            users = [k for k, v in env.items() if v == "%d/" + cid]
            self.assertEqual(len(users), 1, cid)
        cp = BINARIES["/usr/bin/claw-controlplane"]
        if not os.access(cp, os.X_OK):
            return
        helptext = subprocess.run([cp, "--help"], capture_output=True,
                                  text=True, timeout=30).stdout
        for k, v in env.items():
            if k.startswith("CLAW_"):
                self.assertIn("env %s" % k, helptext)
            else:
                self.assertEqual(k, "PGPASSFILE")  # libpq's own


if __name__ == "__main__":
    unittest.main(verbosity=2)
