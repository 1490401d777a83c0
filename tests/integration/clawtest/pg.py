"""pg - a throwaway PostgreSQL cluster for tests.

    with PgCluster() as pg:             # initdb + start in a temp dir
        url = pg.url                    # libpq URL (unix socket, superuser)
        pg.psql("SELECT 1")             # -> "1"
        url2 = pg.create_database("x")  # URL of a fresh database
        pg.kill_server(); pg.server_start()   # a crash and a restart

The cluster listens on a unix socket in its temp dir, and also on
127.0.0.1:<free port> when tcp=True (pg.port, pg.tcp_url). The superuser is
"claw" with trust authentication (the socket directory is private to the
test). Under root, PostgreSQL refuses to run, so the cluster is owned by and
run as an unprivileged user ("postgres" by default, via runuser).
Durability against a host crash is switched off (fsync=off,
full_page_writes=off): it is for tests only. A crash of the server itself
(kill_server, the chaos harness's SIGKILL) loses nothing acknowledged: each
commit's WAL is written to the kernel before it returns (synchronous_commit
stays on; with it off, the chaos run saw acknowledged deploys vanish).
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile

from clawtest.http import free_port

BIN_CANDIDATES = [
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
]


def find_bin_dir():
    """Directory holding initdb/pg_ctl/psql (env CLAW_PG_BIN_DIR wins)."""
    env = os.environ.get("CLAW_PG_BIN_DIR")
    if env:
        return env
    for d in BIN_CANDIDATES:
        if os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
    raise RuntimeError("PostgreSQL server binaries not found: "
                       "apt-get install postgresql")


class PgCluster:
    SUPERUSER = "claw"

    def __init__(self, tcp=False, user="postgres", bin_dir=None):
        self.bin_dir = bin_dir or find_bin_dir()
        self.tcp = tcp
        self.dir = tempfile.mkdtemp(prefix="clawpg-")
        self.data = os.path.join(self.dir, "data")
        self.sock = self.dir
        self.port = free_port()
        self.log = os.path.join(self.dir, "pg.log")
        self._as_root = os.geteuid() == 0
        self._user = user
        self.started = False
        if self._as_root:
            pw = pwd.getpwnam(user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o755)

    # -- running commands as the cluster's owner
    def _cmd(self, argv):
        if self._as_root:
            return ["runuser", "-u", self._user, "--"] + argv
        return argv

    def _bin(self, name):
        return os.path.join(self.bin_dir, name)

    def start(self):
        subprocess.run(self._cmd([self._bin("initdb"), "-D", self.data,
                                  "-U", self.SUPERUSER, "--auth=trust",
                                  "-E", "UTF8", "--no-locale", "--no-sync"]),
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
        self.server_start()
        self.started = True
        return self

    def server_stop(self):
        """Stop the server but keep the cluster (server_start again)."""
        subprocess.run(self._cmd([self._bin("pg_ctl"), "-D", self.data,
                                  "-m", "fast", "-w", "stop"]),
                       check=True, stdout=subprocess.DEVNULL)

    def server_start(self):
        """Start the server of a cluster stopped by server_stop."""
        listen = "127.0.0.1" if self.tcp else ""
        opts = ("-c listen_addresses='%s' -c unix_socket_directories='%s' "
                "-c port=%d -c fsync=off "
                "-c full_page_writes=off -c max_connections=200"
                % (listen, self.sock, self.port))
        subprocess.run(self._cmd([self._bin("pg_ctl"), "-D", self.data, "-l",
                                  self.log, "-o", opts, "-w", "-t", "120",
                                  "start"]),
                       check=True, stdout=subprocess.DEVNULL)

    def server_pid(self):
        """The postmaster's pid (postmaster.pid), or None."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def kill_server(self):
        """SIGKILL the postmaster (a crash; its backends follow it);
        server_start() brings the cluster back, as a supervisor would."""
        pid = self.server_pid()
        if pid:
            os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self):
        if self.started:
            subprocess.run(self._cmd([self._bin("pg_ctl"), "-D", self.data,
                                      "-m", "immediate", "-w", "stop"]),
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- addresses
    def url_for(self, dbname="postgres"):
        """libpq URL of dbname over the unix socket, as the superuser."""
        return "postgresql://%s@/%s?host=%s&port=%d" % (
            self.SUPERUSER, dbname, self.sock, self.port)

    @property
    def url(self):
        return self.url_for("postgres")

    @property
    def tcp_url(self):
        if not self.tcp:
            raise RuntimeError("cluster started without tcp=True")
        return "postgresql://%s@127.0.0.1:%d/postgres" % (self.SUPERUSER,
                                                          self.port)

    # -- SQL
    def psql(self, sql, dbname="postgres", check=True):
        """Run sql as the superuser; stdout (unaligned, tuples only)."""
        r = subprocess.run([self._bin("psql"), "-X", "-q", "-A", "-t",
                            "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                            "-p", str(self.port), "-U", self.SUPERUSER,
                            "-d", dbname, "-c", sql],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("psql failed: %s" % r.stderr.strip())
        return r.stdout.strip()

    @staticmethod
    def psql_at(sock_dir, port, sql, dbname="postgres", user="claw",
                bin_dir=None):
        """Run sql on any cluster reachable at sock_dir/port (e.g. the
        control plane's embedded one: DATA_DIR/pg-run, 5432)."""
        r = subprocess.run([os.path.join(bin_dir or find_bin_dir(), "psql"),
                            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", sock_dir, "-p", str(port), "-U", user,
                            "-d", dbname, "-c", sql],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("psql failed: %s" % r.stderr.strip())
        return r.stdout.strip()

    def create_database(self, name):
        """Create database name (a plain identifier) and return its URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError("database name must be alphanumeric")
        self.psql("CREATE DATABASE %s" % name)
        return self.url_for(name)


def exec_as(argv, user="postgres"):
    """argv to run as user when the test runs as root (PostgreSQL and
    Patroni refuse root), else argv unchanged. Unlike PgCluster's runuser,
    setpriv execs in place: the process started is argv[0] itself, so a
    signal sent to its pid (SIGKILL in a failover test) reaches it."""
    if os.geteuid() != 0:
        return list(argv)
    pw = pwd.getpwnam(user)
    return ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
            "--init-groups", "--"] + list(argv)

