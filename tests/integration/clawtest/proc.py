"""proc - start and stop daemons in tests.

    d = Daemon([binary, "--listen", "127.0.0.1:0"], name="cp", env={...})
    d.start()
    line = d.wait_stdout(r"listening on (\\S+)")   # a re.Match
    d.stop()          # SIGTERM, wait; returns the exit status
    d.kill()          # SIGKILL, wait

stdout is read by a thread and kept (d.stdout_lines()); stderr goes to a
log file (d.log_path) that d.log_text() reads. Daemons never outlive the
test process: stop() is registered with atexit.

stop_process(proc) is the one way to end any subprocess.Popen of a test
(SIGTERM, a deadline, then SIGKILL); wait_for(pred) the one polling loop.
"""

import atexit
import os
import re
import signal
import subprocess
import tempfile
import threading
import time


def wait_for(pred, timeout=30.0, interval=0.05, what="condition"):
    """Poll pred() until it returns something truthy; return it, or raise
    TimeoutError naming what."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for %s" % what)
        time.sleep(interval)


def stop_process(proc, sig=signal.SIGTERM, timeout=30.0):
    """Send sig (SIGTERM) to proc if it still runs and wait up to timeout
    seconds for it; SIGKILL if it has not exited by then. Returns its exit
    status (negative: a signal)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Daemon:
    def __init__(self, argv, name="daemon", env=None, log_dir=None,
                 cwd=None):
        self.argv = [str(a) for a in argv]
        self.name = name
        self.env = dict(os.environ)
        if env:
            self.env.update({k: str(v) for k, v in env.items()})
        log_dir = log_dir or tempfile.mkdtemp(prefix="clawlog-")
        self.log_path = os.path.join(log_dir, name + ".log")
        self.cwd = cwd
        self.proc = None
        self._lines = []
        self._cond = threading.Condition()
        self._reader = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=log,
                                     env=self.env, cwd=self.cwd)
        log.close()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        atexit.register(self.stop)
        return self

    def _read(self):
        for raw in self.proc.stdout:
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stdout_lines(self):
        with self._cond:
            return list(self._lines)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_stdout(self, pattern, timeout=60.0):
        """First stdout line matching the regex; raises if the daemon exits
        or the time runs out first (with its log in the message)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines:
                    m = rx.search(line)
                    if m:
                        return m
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError("%s exited (%s) before printing %r; "
                                       "log:\n%s" % (self.name,
                                                     self.proc.returncode,
                                                     pattern,
                                                     self.log_text()[-4000:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("%s did not print %r; log:\n%s" % (
                        self.name, pattern, self.log_text()[-4000:]))
                self._cond.wait(min(left, 0.2))

    def send_signal(self, sig):
        if self.running():
            self.proc.send_signal(sig)

    def wait(self, timeout=60.0):
        """Wait for exit; returns the exit status (negative: signal)."""
        return self.proc.wait(timeout)

    def stop(self, sig=signal.SIGTERM, timeout=60.0):
        """Send sig (SIGTERM) and wait; SIGKILL if it does not exit."""
        if self.proc is None:
            return None
        rc = stop_process(self.proc, sig, timeout)
        if self._reader:
            self._reader.join(5)
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)
