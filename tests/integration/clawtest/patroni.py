"""patroni - a PostgreSQL primary and synchronous standby under Patroni,
with etcd, on 127.0.0.1 only, for failover tests and bench/ha.

    with PatroniCluster() as pc:        # etcd + 2 members, pc.primary() up
        url = pc.url("claw")            # both hosts, read-write session
        p = pc.primary()                # member index (REST /primary)
        pc.kill(p, patroni=True)        # SIGKILL its patroni, postmaster
        n = pc.wait_primary(exclude=p)  # the promoted standby
        pc.psql(n, "SELECT 1", dbname="claw")

        load = WriteLoad(cp, clients=3).start()  # writes through cp's API
        f = pc.fail_over(load, host_lost=False)  # kill, promotion, outage
        load.stop()
        load.lost(lambda sql: pc.psql(n, sql, dbname="claw"))  # [] or lost

Each member is a clawtest.pg.PgCluster (its temp dir, unix socket, free
port, owner and psql) that Patroni initialises and runs instead of
pg_ctl: member 0 bootstraps (initdb), member 1 is cloned from it with
pg_basebackup. Patroni runs as the cluster's owner (exec_as), etcd as the
test. synchronous_mode is on and synchronous_commit stays on (fsync is
off: the machine does not crash in these tests, only processes do), so a
COMMIT is acknowledged only once the standby has it: a promoted standby
holds every acknowledged write. primary_start_timeout 0 makes a Patroni
whose postmaster died fail over at once instead of restarting it; a dead
Patroni is noticed when its leader key expires (ttl seconds).
The superuser "claw" is trusted on 127.0.0.1 (pg_hba): tests only.

WriteLoad is the stream of writes a failover is judged by: clients, each
on its own thread, create tenants, put secrets (a new name each time) and
deploy, through the control plane's API, and record every answer with its
start and end. An acknowledged write is a 2xx; lost() lists those the
database does not hold, outage() the time from the first write that failed
or stalled after the kill to the first one acknowledged after the outage.
"""

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

from clawtest.http import free_port, http_get
from clawtest.pg import PgCluster, exec_as
from clawtest.proc import Daemon, wait_for

PATRONI = "/usr/bin/patroni"
ETCD = "/usr/bin/etcd"


def available():
    """'' when patroni and etcd are installed, else what is missing."""
    missing = [b for b in (PATRONI, ETCD) if not os.access(b, os.X_OK)]
    return ", ".join(missing)


class PatroniCluster:
    USER = PgCluster.SUPERUSER

    def __init__(self, members=2, ttl=10, loop_wait=1, retry_timeout=3,
                 scope=None):
        self.n = members
        self.ttl, self.loop_wait, self.retry_timeout = (ttl, loop_wait,
                                                        retry_timeout)
        self.dir = tempfile.mkdtemp(prefix="clawpatroni-")
        self.scope = scope or "claw" + os.urandom(4).hex()
        self.etcd = None
        self.etcd_port = free_port()
        self.members = []   # PgCluster per member (dir, port, psql)
        self.rest = []      # Patroni REST port per member
        self.daemons = []   # the Patroni Daemon per member (None: killed)

    # -- start and stop
    def _start_etcd(self):
        peer = free_port()
        self.etcd = Daemon(
            [ETCD, "--name", "e0", "--data-dir",
             os.path.join(self.dir, "etcd"),
             "--listen-client-urls", "http://127.0.0.1:%d" % self.etcd_port,
             "--advertise-client-urls",
             "http://127.0.0.1:%d" % self.etcd_port,
             "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-cluster", "e0=http://127.0.0.1:%d" % peer,
             "--initial-cluster-token", self.scope,
             "--log-level", "warn"],
            name="etcd", log_dir=self.dir).start()
        wait_for(lambda: http_get("http://127.0.0.1:%d/health"
                                  % self.etcd_port, timeout=2)[0] == 200,
                 timeout=60, what="etcd health")

    def _config(self, i):
        pg = self.members[i]
        name = "pg%d" % i
        return {
            "scope": self.scope, "namespace": "/claw/", "name": name,
            "log": {"level": "INFO", "dir": pg.dir},
            "restapi": {"listen": "127.0.0.1:%d" % self.rest[i],
                        "connect_address": "127.0.0.1:%d" % self.rest[i]},
            "etcd3": {"hosts": "127.0.0.1:%d" % self.etcd_port},
            "bootstrap": {
                "dcs": {
                    "ttl": self.ttl, "loop_wait": self.loop_wait,
                    "retry_timeout": self.retry_timeout,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    "primary_start_timeout": 0,
                    "postgresql": {
                        "use_pg_rewind": True, "use_slots": True,
                        "parameters": {
                            "wal_level": "replica", "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_connections": 200,
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_keep_size": "128MB",
                            "synchronous_commit": "on",
                            "fsync": "off", "full_page_writes": "on"}}},
                "initdb": [{"encoding": "UTF8"}, "no-locale",
                           {"auth-local": "trust"}, {"auth-host": "trust"}],
                "pg_hba": ["local all all trust",
                           "host all all 127.0.0.1/32 trust",
                           "host replication all 127.0.0.1/32 trust"]},
            "postgresql": {
                "listen": "127.0.0.1:%d" % pg.port,
                "connect_address": "127.0.0.1:%d" % pg.port,
                "data_dir": pg.data, "bin_dir": pg.bin_dir,
                "pgpass": os.path.join(pg.dir, "pgpass"),
                "authentication": {
                    "superuser": {"username": self.USER,
                                  "password": "unused-trust"},
                    "replication": {"username": "replicator",
                                    "password": "unused-trust"},
                    "rewind": {"username": self.USER,
                               "password": "unused-trust"}},
                "parameters": {"unix_socket_directories": pg.sock}},
            "tags": {"nofailover": False, "noloadbalance": False,
                     "clonefrom": False, "nosync": False},
        }

    def start_member(self, i):
        """(Re)start member i's Patroni (it starts PostgreSQL)."""
        pg = self.members[i]
        cfg = os.path.join(pg.dir, "patroni.yml")
        with open(cfg, "w") as f:
            json.dump(self._config(i), f, indent=1)  # JSON is YAML
        d = Daemon(exec_as([PATRONI, cfg], pg._user), name="patroni%d" % i,
                   env={"HOME": pg.dir}, log_dir=pg.dir, cwd=pg.dir).start()
        self.daemons[i] = d
        pg.started = True   # pg.stop() then stops a postmaster left over
        return d

    def start(self, timeout=180.0):
        try:
            self._start_etcd()
            for i in range(self.n):
                self.members.append(PgCluster(tcp=True))
                self.rest.append(free_port())
                self.daemons.append(None)
            self.start_member(0)
            wait_for(lambda: self.role(0) == "primary", timeout=timeout,
                     interval=0.2, what="patroni member 0 primary")
            for i in range(1, self.n):
                self.start_member(i)
            self.wait_sync(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop every Patroni (each stops its PostgreSQL), then whatever
        PostgreSQL is left, then etcd; remove every directory, whatever
        failed on the way."""
        try:
            for d in self.daemons:
                if d:
                    d.stop(timeout=60)
        finally:
            try:
                for pg in self.members:
                    pg.stop()
            finally:
                if self.etcd:
                    self.etcd.stop()
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- state
    def role(self, i):
        """"primary" when member i's REST API says it leads with PostgreSQL
        running (GET /primary is 200), "replica" when it runs as a standby,
        else None."""
        if http_get("http://127.0.0.1:%d/primary" % self.rest[i],
                    timeout=2)[0] == 200:
            return "primary"
        if http_get("http://127.0.0.1:%d/replica" % self.rest[i],
                    timeout=2)[0] == 200:
            return "replica"
        return None

    def primary(self):
        """Index of the member that is primary now, or None."""
        for i in range(self.n):
            if self.daemons[i] and self.role(i) == "primary":
                return i
        return None

    def wait_primary(self, exclude=None, timeout=120.0):
        """Wait until a member other than exclude is primary and takes
        writes (Patroni says primary once it holds the leader key, a
        moment before its PostgreSQL leaves recovery); its index."""
        def find():
            for i in range(self.n):
                if i != exclude and self.daemons[i] and \
                        self.role(i) == "primary" and self.psql(
                            i, "SELECT pg_is_in_recovery()",
                            check=False) == "f":
                    return i + 1
            return None
        return wait_for(find, timeout=timeout, interval=0.1,
                        what="a patroni primary") - 1

    def wait_sync(self, timeout=180.0):
        """Wait until the primary has a synchronous standby streaming
        (pg_stat_replication says sync: from then on a COMMIT waits for
        it) and the DCS knows it (its GET /sync is 200: Patroni may
        promote it). Returns the standby's index."""
        def ok():
            p = self.primary()
            if p is None:
                return None
            r = self.psql(p, "SELECT count(*) FROM pg_stat_replication "
                          "WHERE sync_state = 'sync' AND state = "
                          "'streaming'", check=False)
            if r != "1":
                return None
            for i in range(self.n):
                if i != p and self.daemons[i] and http_get(
                        "http://127.0.0.1:%d/sync" % self.rest[i],
                        timeout=2)[0] == 200:
                    return i + 1
            return None
        return wait_for(ok, timeout=timeout, interval=0.2,
                        what="a synchronous standby") - 1

    # -- addresses and SQL
    def hosts(self):
        return ",".join("127.0.0.1:%d" % pg.port for pg in self.members)

    def url(self, dbname="postgres", user=None):
        """libpq URL naming every member, for a read-write session: libpq
        tries them in turn and keeps the one that is primary."""
        return ("postgresql://%s@%s/%s?target_session_attrs=read-write"
                "&connect_timeout=3" % (user or self.USER, self.hosts(),
                                        dbname))

    def psql(self, i, sql, dbname="postgres", check=True):
        """Run sql on member i (its unix socket) as the superuser."""
        pg = self.members[i]
        try:
            return pg.psql(sql, dbname=dbname)
        except RuntimeError:
            if check:
                raise
            return None

    # -- failures
    def postmaster_pid(self, i):
        return self.members[i].server_pid()

    def kill(self, i, patroni=True):
        """SIGKILL member i's postmaster, and before it its Patroni when
        patroni is true (the host is lost: nothing restarts it, its leader
        key expires after ttl). Returns the postmaster's pid."""
        d = self.daemons[i] if patroni else None
        pid = self.postmaster_pid(i)
        if d:
            d.send_signal(signal.SIGKILL)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if d:
            # reaped only now: its stdout reader waits for the postmaster,
            # which inherited the pipe, to be gone
            d.stop(signal.SIGKILL)
            self.daemons[i] = None
        return pid

    def patroni_log(self, i, lines=40):
        """The last lines of member i's Patroni log (its reasons: "Member
        pg1 exceeds maximum replication lag", "Request failed to ..."),
        without the pg_controldata dumps between them."""
        path = os.path.join(self.members[i].dir, "patroni.log")
        try:
            with open(path, errors="replace") as f:
                return "".join([ln for ln in f if ln[:2] == "20"][-lines:])
        except OSError as e:
            return "(no log: %s)\n" % e

    def _promoted(self, old, old_pid):
        """After old's postmaster (old_pid) was killed: ("new", i) once
        another member is primary and takes writes, ("restarted", old)
        once old's Patroni started PostgreSQL again as the primary (it does
        when it finds no member to fail over to, ha.py recover()), else
        None."""
        i = self.primary()
        if i is None or self.psql(i, "SELECT pg_is_in_recovery()",
                                  check=False) != "f":
            return None
        if i != old:
            return ("new", i)
        pid = self.postmaster_pid(old)
        return ("restarted", old) if pid and pid != old_pid else None

    def fail_over(self, load, host_lost, settle=10, after=40,
                  timeout=90.0, attempts=3):
        """Kill the primary (kill(..., patroni=host_lost)) once load has
        settle writes acknowledged, wait for another member to be primary
        and for after writes acknowledged since (the writers reach it;
        more than the control plane's pool holds, 16, so that every pooled
        connection is used again). Returns a dict: old, standby (the
        synchronous one before the kill), new, promoted_s (last kill to
        promotion seen), outage_s (load.outage), failed_after (the writes
        that started after the promotion was seen and failed), kills.

        A Patroni whose postmaster died fails over only when it finds a
        synchronous standby that answers its REST call within 2 s and is
        not lagging; otherwise it restarts PostgreSQL as the primary. On a
        loaded machine that happens: the postmaster is killed again, up
        to attempts times, each time with Patroni's reasons printed. On a
        timeout every member's Patroni log is printed."""
        old = self.primary()
        standby = self.wait_sync(timeout)
        since = time.monotonic()
        wait_for(lambda: len(load.acked_since(since)) >= settle,
                 timeout=timeout, interval=0.1, what="writes before a kill")
        t_first = time.monotonic()
        try:
            for kills in range(1, attempts + 1):
                t_kill = time.monotonic()
                pid = self.kill(old, patroni=host_lost)
                what, new = wait_for(lambda: self._promoted(old, pid),
                                     timeout=timeout, interval=0.1,
                                     what="a patroni primary")
                if what == "new":
                    break
                print("patroni restarted the crashed primary pg%d instead "
                      "of failing over (kill %d of %d); its log:\n%s" % (
                          old, kills, attempts, self.patroni_log(old)),
                      file=sys.stderr)
                self.wait_sync(timeout)
            else:
                raise AssertionError("patroni never failed over in %d "
                                     "kills" % attempts)
        except BaseException:
            for i in range(self.n):
                print("patroni pg%d log:\n%s" % (i, self.patroni_log(i)),
                      file=sys.stderr)
            raise
        t_promoted = time.monotonic()
        wait_for(lambda: len(load.acked_since(t_promoted)) >= after,
                 timeout=timeout, interval=0.1,
                 what="writes after the promotion")
        return {"old": old, "standby": standby, "new": new,
                "promoted_s": t_promoted - t_kill,
                "outage_s": load.outage(t_first, t_promoted),
                "failed_after": [w for w in load.snapshot() if not w.ok and
                                 w.start > t_promoted],
                "kills": kills}


class Write:
    """One request of a WriteLoad: kind "tenant" (key: slug), "secret"
    (key: "slug/NAME") or "deploy" (key: the deployment id, known once
    acknowledged), on tenant (its slug); status 0 when no answer came."""

    def __init__(self, kind, key, start, tenant=None):
        self.kind, self.key, self.start = kind, key, start
        self.tenant = tenant or key
        self.end = None
        self.status = 0

    @property
    def ok(self):
        return 200 <= self.status < 300

    def __repr__(self):
        return "<%s %s %d %.3f..%.3f>" % (self.kind, self.key, self.status,
                                          self.start, self.end or 0)


class WriteLoad:
    # tenant create, two secret puts, a deploy, over and over per client
    CYCLE = ("tenant", "secret", "secret", "deploy")

    def __init__(self, cp, clients=3, prefix="fo", timeout=20.0,
                 deploy_body=None):
        self.cp = cp
        self.clients = clients
        self.prefix = prefix + os.urandom(2).hex()
        self.timeout = timeout
        self.deploy_body = deploy_body or {}
        self.writes = []
        self._mu = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def _client(self, k):
        c = self.cp.client()
        c.timeout = self.timeout
        slug, n = None, 0
        while not self._stop.is_set():
            kind = self.CYCLE[n % len(self.CYCLE)]
            if kind != "tenant" and slug is None:
                kind = "tenant"
            n += 1
            if kind == "tenant":
                key = "%s-%d-%d" % (self.prefix, k, n)
                method, path, body = "POST", "/v1/tenants", {
                    "slug": key, "name": key}
            elif kind == "secret":
                key = "%s/K%d" % (slug, n)
                method, path, body = ("PUT", "/v1/tenants/%s/secrets/K%d"
                                      % (slug, n), {"value": "v%d" % n})
            else:
                key = None
                method, path, body = ("POST", "/v1/tenants/%s/deploy" % slug,
                                      self.deploy_body)
            w = Write(kind, key, time.monotonic(),
                      tenant=key if kind == "tenant" else slug)
            try:
                r = c.request(method, path, body)
                w.status = r.status
                if w.ok and kind == "deploy":
                    w.key = r.json()["id"]
            except Exception:  # noqa: BLE001 - no answer: not acknowledged
                w.status = 0
            w.end = time.monotonic()
            with self._mu:
                self.writes.append(w)
            if kind == "tenant":
                # a tenant whose create was not acknowledged may or may not
                # exist: the next cycle makes another
                slug = key if w.ok else None
            if not w.ok:
                time.sleep(0.05)

    def start(self):
        for k in range(self.clients):
            t = threading.Thread(target=self._client, args=(k,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 10)
        return self

    def snapshot(self):
        with self._mu:
            return list(self.writes)

    def acked_since(self, t):
        """Acknowledged writes that started at or after t (monotonic)."""
        return [w for w in self.snapshot() if w.ok and w.start >= t]

    def outage(self, t_kill, t_promoted, slow=1.0):
        """The write outage of a failover: from the first write that failed
        or took longer than slow, ended after t_kill and started before
        t_promoted (from its start, but not before t_kill) to the end of
        the first acknowledged write that started after the last such
        write started. (A COMMIT already sent may still be acknowledged
        just after the kill, once the standby has it: that is not the
        end of the outage.) 0.0 when no write was hurt, None when none
        succeeded since."""
        ws = self.snapshot()
        hurt = [w.start for w in ws if w.end >= t_kill and
                w.start <= t_promoted and (not w.ok or w.end - w.start > slow)]
        if not hurt:
            return 0.0
        t0 = max(t_kill, min(hurt))
        ok = [w.end for w in ws if w.ok and w.start > max(hurt)]
        return (min(ok) - t0) if ok else None

    def counts(self):
        """{status: count} over every write so far."""
        out = {}
        for w in self.snapshot():
            out[w.status] = out.get(w.status, 0) + 1
        return out

    def lost(self, query):
        """Acknowledged writes the database does not hold. query(sql) runs
        SQL on the database (the control plane's) and returns psql's
        unaligned output."""
        have = {
            "tenant": set(query("SELECT slug FROM tenants").split()),
            "secret": set(query(
                "SELECT t.slug || '/' || s.name FROM secrets s JOIN tenants "
                "t ON t.id = s.tenant_id WHERE s.deleted_at IS NULL").split()),
            "deploy": set(query("SELECT id FROM deployments").split()),
        }
        return [w for w in self.snapshot() if w.ok and
                w.key not in have[w.kind]]
