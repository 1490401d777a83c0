"""Integration: the Debian packages claw-controlplane, claw-node-agent and
clawctl (cmake/packaging.cmake, deploy/debian/, docs/operations.md).

From the release build in CLAW_BUILD_DIR it builds the packages twice with
cpack: version A (made one migration behind: its newest migration file is
taken out, as if A predated it) and version B. Then:
  - lintian reports no error for B's packages;
  - `apt-get install ./A...deb` installs them: the binaries answer --help
    from /usr/bin, the system user claw and the 0700 state directories
    exist, the units are enabled but not started (no systemd here) and pass
    `systemd-analyze verify` where they are installed;
  - the installed control plane (run as claw, like its unit, on 127.0.0.1:0
    with its own throwaway PostgreSQL database and the package's data
    directory) applies A's migrations, and the installed clawctl creates a
    tenant;
  - installing B over A keeps the data (a marker file in each state
    directory, the admin token, the tenant) and B's daemon applies the
    migration A lacked;
  - removing keeps the data, purging deletes it and the units' enablement.
Nothing of a running scripts/up.sh is touched (its paths are
/var/lib/claw-up and /run/claw-up, its port 7070; the services are never
started). The machine is left as it was: everything is purged at the end,
and the user claw deleted if the test made it. Exit 77 (skipped) when the
build is not a release build (sanitizers, fuzzing), when not root, when a
tool is missing, or when the packages or their data directories are
already on this machine (an operator's install is never touched)."""

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import unittest

from clawtest.pg import PgCluster
from clawtest.proc import Daemon

BUILD = os.environ.get("CLAW_BUILD_DIR", os.path.join(os.getcwd(), "build"))
PACKAGES = ["claw-controlplane", "claw-node-agent", "clawctl"]
STATE_DIRS = {"claw-controlplane": "/var/lib/claw",
              "claw-node-agent": "/var/lib/claw-node-agent"}
VERSION_A = "0.0.1~pkgtest"
VERSION_B = "0.0.2~pkgtest"
ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def run(argv, check=True, timeout=300, env=None, **kw):
    r = subprocess.run(argv, capture_output=True, text=True,
                       env=env or ENV, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (
            " ".join(argv), r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    return r


def cache_value(name):
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def installed(pkg):
    r = run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
    return r.stdout.strip()


def why_skip():
    if os.geteuid() != 0:
        return "not root (packages are installed with apt-get)"
    if cache_value("CLAW_SANITIZE") == "ON" or cache_value("CLAW_FUZZ") == "ON":
        return "packages are built from the release build only"
    if cache_value("CMAKE_BUILD_TYPE") is None:
        return "no CMakeCache.txt in %s" % BUILD
    for tool in ("cpack", "lintian", "apt-get", "dpkg-deb",
                 "systemd-analyze", "setpriv"):
        if not shutil.which(tool):
            return "%s missing (scripts/lib/common.sh installs it)" % tool
    for pkg in PACKAGES:
        if installed(pkg):
            return "%s is already known to dpkg (%s)" % (pkg, installed(pkg))
    for d in STATE_DIRS.values():
        if os.path.exists(d):
            return "%s exists: not touching it" % d
    return None


def make_behind(deb, outdir):
    """Rebuild deb without its newest migration (and that file's md5sums
    line): the previous version, before the migration was written."""
    root = tempfile.mkdtemp(prefix="claw-deb-", dir=outdir)
    run(["dpkg-deb", "-R", deb, root])
    migs = sorted(glob.glob(os.path.join(root, "usr/share/claw/migrations",
                                         "*.sql")))
    newest = migs[-1]
    os.unlink(newest)
    rel = os.path.relpath(newest, root)
    md5 = os.path.join(root, "DEBIAN", "md5sums")
    with open(md5) as f:
        lines = [ln for ln in f if not ln.rstrip().endswith(rel)]
    with open(md5, "w") as f:
        f.writelines(lines)
    os.unlink(deb)
    run(["dpkg-deb", "--root-owner-group", "-Zxz", "-b", root, deb])
    shutil.rmtree(root)
    return len(migs) - 1


class DebTest(unittest.TestCase):
    """The steps depend on each other: one test, in order."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="claw-pkgtest-")
        cls.user_existed = user_exists("claw")

    @classmethod
    def tearDownClass(cls):
        present = [p for p in PACKAGES if installed(p)]
        if present:
            run(["dpkg", "--purge"] + present, check=False)
        if not cls.user_existed and user_exists("claw"):
            run(["userdel", "claw"], check=False)
            run(["groupdel", "claw"], check=False)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def build(self, version):
        out = os.path.join(self.tmp, version)
        run(["cmake", "--build", BUILD, "--target", "claw-controlplane",
             "claw-node-agent", "clawctl"], timeout=900)
        run(["cpack", "-G", "DEB", "-B", out, "-D",
             "CPACK_PACKAGE_VERSION=" + version], cwd=BUILD, timeout=900)
        debs = {}
        for pkg in PACKAGES:
            path = glob.glob(os.path.join(out, "%s_%s_*.deb" %
                                          (pkg, version)))
            self.assertEqual(len(path), 1, (pkg, os.listdir(out)))
            debs[pkg] = path[0]
        return debs

    def apt_install(self, debs):
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] +
            ["./" + os.path.relpath(d, self.tmp) for d in debs.values()],
            cwd=self.tmp)
        for pkg in PACKAGES:
            self.assertEqual(installed(pkg), "install ok installed", pkg)

    def start_cp(self, dburl):
        """The installed daemon as its unit runs it (user claw, the
        package's data directory and paths), but on 127.0.0.1:0 with this
        test's database."""
        d = Daemon(["setpriv", "--reuid=claw", "--regid=claw", "--init-groups",
                    "/usr/bin/claw-controlplane",
                    "--listen", "127.0.0.1:0", "--data-dir", "/var/lib/claw",
                    "--migrations-dir", "/usr/share/claw/migrations",
                    "--web-dir", "/usr/share/claw/web",
                    "--database-url", dburl], name="cp-installed",
                   log_dir=self.tmp)
        d.start()
        url = d.wait_stdout(r"listening on (https?://\S+)", 120).group(1)
        return d, url

    def clawctl(self, url, *args):
        env = {"CLAW_URL": url, "CLAW_TOKEN_FILE": "/var/lib/claw/admin.token"}
        return run(["/usr/bin/clawctl"] + list(args), env=dict(ENV, **env),
                   timeout=60)

    def migrations(self, dbname):
        return int(self.pg.psql("SELECT count(*) FROM schema_migrations",
                                dbname=dbname))

    def test_packages(self):
        debs_b = self.build(VERSION_B)
        debs_a = self.build(VERSION_A)
        n_a = make_behind(debs_a["claw-controlplane"], self.tmp)

        # lintian: no errors (warnings such as no-manual-page are allowed).
        r = run(["lintian", "--tag-display-limit", "0"] +
                list(debs_b.values()), check=False, timeout=600)
        errors = [ln for ln in r.stdout.splitlines() if ln.startswith("E:")]
        self.assertEqual(errors, [], r.stdout)

        # Install A.
        self.apt_install(debs_a)
        for cmd in ("claw-controlplane", "claw-node-agent", "clawctl"):
            r = run(["/usr/bin/" + cmd, "--help"])
            self.assertIn("sage", r.stdout + r.stderr, cmd)
        pw = pwd.getpwnam("claw")
        st = os.stat("/var/lib/claw")
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (pw.pw_uid, 0o700))
        st = os.stat("/var/lib/claw-node-agent")
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o700))
        units = ["/lib/systemd/system/claw-controlplane.service",
                 "/lib/systemd/system/claw-node-agent.service"]
        run(["systemd-analyze", "verify", "--man=no"] + units)
        for u in units:
            self.assertTrue(os.path.islink(
                "/etc/systemd/system/multi-user.target.wants/" +
                os.path.basename(u)), u)

        # A's daemon: A's migrations, a tenant, data in the state dir.
        self.pg = PgCluster().start()
        self.addCleanup(self.pg.stop)
        dburl = self.pg.create_database("pkgtest")
        cp, url = self.start_cp(dburl)
        self.assertEqual(self.migrations("pkgtest"), n_a)
        self.clawctl(url, "tenants", "create", "pkgtest", "--name", "Pkg")
        self.assertEqual(cp.stop(), 0, cp.log_text()[-3000:])
        with open("/var/lib/claw/admin.token") as f:
            token_a = f.read()
        for d in STATE_DIRS.values():
            with open(os.path.join(d, "marker"), "w") as f:
                f.write("kept\n")

        # Upgrade to B: data kept, B's daemon applies the missing migration.
        self.apt_install(debs_b)
        r = run(["dpkg-query", "-W", "-f=${Version}", "claw-controlplane"])
        self.assertEqual(r.stdout, VERSION_B)
        for d in STATE_DIRS.values():
            with open(os.path.join(d, "marker")) as f:
                self.assertEqual(f.read(), "kept\n", d)
        with open("/var/lib/claw/admin.token") as f:
            self.assertEqual(f.read(), token_a)
        self.assertEqual(os.stat("/var/lib/claw").st_uid, pw.pw_uid)
        cp, url = self.start_cp(dburl)
        self.assertEqual(self.migrations("pkgtest"), n_a + 1)
        r = self.clawctl(url, "tenants", "list")
        self.assertIn("pkgtest", r.stdout)
        self.assertEqual(cp.stop(), 0, cp.log_text()[-3000:])

        # Remove: binaries gone, data kept.
        run(["apt-get", "remove", "-y", "-q"] + PACKAGES)
        for cmd in ("claw-controlplane", "claw-node-agent", "clawctl"):
            self.assertFalse(os.path.exists("/usr/bin/" + cmd))
        for d in STATE_DIRS.values():
            self.assertTrue(os.path.exists(os.path.join(d, "marker")), d)

        # Purge: data and enablement gone.
        run(["dpkg", "--purge"] + PACKAGES)
        for d in STATE_DIRS.values():
            self.assertFalse(os.path.exists(d), d)
        left = run(["find", "/etc/systemd", "/var/lib/systemd", "-name",
                    "claw-controlplane*", "-o", "-name",
                    "claw-node-agent*"]).stdout
        self.assertEqual(left, "")


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


if __name__ == "__main__":
    reason = why_skip()
    if reason:
        print("skipped: " + reason)
        sys.exit(77)
    unittest.main(verbosity=2)
