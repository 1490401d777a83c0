"""The Prometheus alerting rules shipped in deploy/prometheus
(docs/alerts.md): promtool accepts them (check rules) and their unit tests
pass (test rules: each alert fires, waits its "for", and resolves); every
claw_* series they use is one the control plane renders; every alert kind
of controlplane/alert.h has a rule."""

import os
import re
import shutil
import subprocess
import unittest

SRC = os.environ.get("CLAW_SOURCE_DIR", os.getcwd())
DIR = os.path.join(SRC, "deploy", "prometheus")
RULES = os.path.join(DIR, "claw-alerts.yml")


def promtool(*args):
    exe = shutil.which("promtool")
    if not exe:
        raise AssertionError("promtool is missing: install Debian's "
                             "'prometheus' package (scripts/lib/common.sh)")
    return subprocess.run([exe] + list(args), cwd=DIR, capture_output=True,
                          text=True, timeout=120)


class PrometheusRulesTest(unittest.TestCase):

    def test_check_rules(self):
        r = promtool("check", "rules", RULES)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)

    def test_rule_unit_tests(self):
        r = promtool("test", "rules", "claw-alerts.test.yml")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_series_exist_in_the_control_plane(self):
        with open(RULES) as f:
            rules = f.read()
        used = set(re.findall(r"\b(claw_[a-z_]+)", rules))
        self.assertTrue(used)
        code = ""
        cp = os.path.join(SRC, "controlplane")
        for name in os.listdir(cp):
            if name.endswith(".c"):
                with open(os.path.join(cp, name)) as f:
                    code += f.read()
        for series in used:
            self.assertIn('"' + series, code.replace("# HELP ", '"')
                          .replace("# TYPE ", '"'),
                          "%s is not rendered by the control plane" % series)

    def test_every_kind_has_a_rule(self):
        with open(os.path.join(SRC, "controlplane", "alert.h")) as f:
            kinds = re.findall(r'X\([A-Z_]+, "([a-z_]+)"\)', f.read())
        with open(RULES) as f:
            rules = f.read()
        self.assertEqual(len(kinds), 6)
        for k in kinds:
            if k == "node_lost":  # from claw_nodes{status="down"}
                self.assertIn('claw_nodes{status="down"}', rules)
            else:
                self.assertIn('kind="%s"' % k, rules, k)


if __name__ == "__main__":
    unittest.main(verbosity=2)
