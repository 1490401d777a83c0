"""The chaos harness's schedule (tests/chaos/chaos.py): a seed alone
decides it, so a failed seed replays the same faults; another seed draws
another; 20 faults cover every kind. No stack is started."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402


class Schedule(unittest.TestCase):
    def test_a_seed_replays_its_schedule(self):
        self.assertEqual(chaos.schedule(16, 20), chaos.schedule(16, 20))
        self.assertNotEqual(chaos.schedule(16, 20), chaos.schedule(17, 20))
        kinds = {k for k, _, _ in chaos.schedule(16, 20)}
        self.assertEqual(kinds, set(chaos.KINDS))


if __name__ == "__main__":
    unittest.main(verbosity=2)
