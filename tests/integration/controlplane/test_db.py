"""Integration: libclaw's PostgreSQL pool (claw/db.h) against a real
server, through the C program db_check (threads over few connections,
prepared statements, serialization retries, rollback, SQLSTATEs, a killed
connection)."""

import os
import subprocess
import unittest

from clawtest.pg import PgCluster


class DbPoolTest(unittest.TestCase):

    def test_pool(self):
        with PgCluster() as pg:
            url = pg.create_database("pool")
            exe = os.path.join(os.environ["CLAW_BUILD_DIR"], "tests",
                               "integration", "controlplane", "db_check")
            r = subprocess.run([exe, url], capture_output=True, text=True,
                               timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("1 passed, 0 failed", r.stdout)
            self.assertNotIn("Sanitizer", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
