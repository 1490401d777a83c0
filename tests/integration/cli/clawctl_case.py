"""clawctl_case - what the clawctl integration suites share: the binary's
path and a TestCase whose ok(), fails() and json() build on the suite's own
run_cli(*args, **kw) (a subprocess.CompletedProcess with text output)."""

import json
import os
import unittest

from clawtest.cp import build_dir

CLAWCTL = os.path.join(build_dir(), "cli", "clawctl")


class ClawctlCase(unittest.TestCase):

    def run_cli(self, *args, **kw):
        raise NotImplementedError

    def ok(self, *args, **kw):
        """run_cli, which must exit 0 (else the output is shown)."""
        r = self.run_cli(*args, **kw)
        self.assertEqual(r.returncode, 0, "%s: %s%s" % (args, r.stdout,
                                                         r.stderr))
        return r

    def fails(self, code, *args, **kw):
        """run_cli, which must exit code with nothing on stdout and an
        error line on stderr."""
        r = self.run_cli(*args, **kw)
        self.assertEqual(r.returncode, code, "%s: %s%s" % (args, r.stdout,
                                                            r.stderr))
        self.assertEqual(r.stdout, "", args)
        self.assertTrue(r.stderr.startswith("error: "), r.stderr)
        return r

    def json(self, *args, **kw):
        """ok with -o json, its stdout parsed."""
        return json.loads(self.ok(*args, "-o", "json", **kw).stdout)
