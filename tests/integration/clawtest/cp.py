"""cp - run claw-controlplane in a test.

    with PgCluster() as pg:
        cp = ControlPlane(database_url=pg.create_database("t1")).start()
        cp.url            # "http://127.0.0.1:PORT"
        cp.admin_token    # the bootstrap admin token (from DATA_DIR)
        cp.client()       # clawtest.http.Client with the admin token
        cp.new_token("tenant", tenant="acme")  # -> (id, token)
        cp.stop()         # or cp.stop_clean(): asserts a clean exit
        cp.kill(); cp.restart()   # a crash and a supervisor's restart

    pg, cp = with_pg("db1", default_image_args(gw, rt))  # both started

Without database_url the daemon runs its embedded PostgreSQL under
data_dir. The binary is $CLAW_BUILD_DIR/controlplane/claw-controlplane.
extra_args/env are added to the command line/environment. Logs:
cp.daemon.log_text().
"""

import json
import os
import shutil
import tempfile
import time
import urllib.request

from clawtest.http import Client
from clawtest.pg import PgCluster
from clawtest.proc import Daemon


def build_dir():
    return os.environ.get("CLAW_BUILD_DIR",
                          os.path.join(os.getcwd(), "build"))


def source_dir():
    return os.environ.get("CLAW_SOURCE_DIR", os.getcwd())


def binary():
    return os.path.join(build_dir(), "controlplane", "claw-controlplane")


def default_image_args(gateway_image, runtime_image):
    """The options naming the fleet's default tenant images."""
    return ["--default-gateway-image", gateway_image,
            "--default-runtime-image", runtime_image]


def with_pg(dbname, extra_args=(), **kw):
    """A started PgCluster and a started ControlPlane on its fresh
    database dbname (extra_args and kw as ControlPlane takes them):
    (pg, cp). Stop both: cp.stop(), then pg.stop()."""
    pg = PgCluster().start()
    try:
        cp = ControlPlane(database_url=pg.create_database(dbname),
                          extra_args=extra_args, **kw).start()
    except BaseException:
        pg.stop()
        raise
    return pg, cp


class ControlPlane:
    def __init__(self, database_url=None, data_dir=None, extra_args=(),
                 env=None, name="controlplane"):
        self.owns_data_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="clawcp-")
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        self.database_url = database_url
        argv = [binary(), "--listen", "127.0.0.1:0", "--data-dir",
                self.data_dir, "--migrations-dir",
                os.path.join(source_dir(), "migrations")]
        if database_url:
            argv += ["--database-url", database_url]
        argv += list(extra_args)
        e = {"CLAW_LOG_LEVEL": "debug"}
        e.update(env or {})
        # the log lives outside data_dir, so it can be read after stop()
        self.daemon = Daemon(argv, name=name, env=e)
        self.url = None

    def start(self, timeout=120.0):
        self.daemon.start()
        m = self.daemon.wait_stdout(r"listening on (https?://\S+)", timeout)
        self.url = m.group(1)
        self.listen_url = self.url  # where it listens (url may be moved)
        return self

    def restart(self, timeout=120.0):
        """After kill(): start again on the same data directory, database
        and port, as an operator's supervisor would (its log appended)."""
        port = self.listen_url.rsplit(":", 1)[1]
        argv = ["127.0.0.1:" + port if a == "127.0.0.1:0" else a
                for a in self.daemon.argv]
        self.daemon = Daemon(argv, name=self.daemon.name,
                             env=self.daemon.env,
                             log_dir=os.path.dirname(self.daemon.log_path))
        self.daemon.start()
        self.daemon.wait_stdout(r"listening on (https?://\S+)", timeout)
        return self

    @property
    def admin_token(self):
        with open(os.path.join(self.data_dir, "admin.token")) as f:
            return f.read().strip()

    def client(self, token=None):
        return Client(self.url, token if token is not None
                      else self.admin_token)

    def new_token(self, role, tenant=None, name=None):
        body = {"role": role}
        if tenant is not None:
            body["tenant"] = tenant
        if name is not None:
            body["name"] = name
        r = self.client().post("/v1/tokens", body)
        if r.status != 201:
            raise RuntimeError("token create failed: %r" % r)
        j = r.json()
        return j["id"], j["token"]

    def events_so_far(self, tenant, seconds=1.0):
        """The tenant's fleet events so far, parsed (GET /v1/events
        replayed from the start with the admin token, read for seconds:
        the stream stays open)."""
        req = urllib.request.Request(
            self.url + "/v1/events?tenant=%s&since=0" % tenant,
            headers={"Authorization": "Bearer " + self.admin_token})
        out = []
        until = time.monotonic() + seconds
        try:
            with urllib.request.urlopen(req, timeout=seconds + 0.5) as f:
                while time.monotonic() < until:
                    line = f.readline()
                    if not line:
                        break
                    if line.startswith(b"data: "):
                        out.append(json.loads(line[6:]))
        except OSError:
            pass  # read until the timeout
        return out

    def stop(self):
        """SIGTERM and wait; returns the exit status. A data directory the
        ControlPlane made itself is removed then (pass data_dir to keep
        it, e.g. to restart on it)."""
        rc = self.daemon.stop()
        if self.owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return rc

    def stop_clean(self):
        """stop(), then raise AssertionError (with the log's tail) unless
        the daemon exited 0 with no sanitizer report in its log."""
        rc = self.stop()
        log = self.daemon.log_text()
        if rc != 0 or "Sanitizer" in log or "runtime error:" in log:
            raise AssertionError("%s exit %s; log tail:\n%s" %
                                 (self.daemon.name, rc, log[-4000:]))
        return rc

    def kill(self):
        """SIGKILL and wait (the data directory is kept)."""
        return self.daemon.kill()
