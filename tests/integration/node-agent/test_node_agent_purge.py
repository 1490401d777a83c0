"""A purged tenant leaves nothing on its node (node-agent/purge.c;
docs/reliability.md finding 2), against the real Docker engine, the agent
driven from a desired-state file whose "purged" is what the control plane
lists (controlplane/api/agent.c; the control plane's side is
tests/integration/controlplane/test_purge.py).

Proves:
- a tenant deployed, then listed in "purged" (and no longer assigned),
  leaves no container, network, volume (its slot 0 and slot 1 gateway
  volumes, its runtime's), config or secret file, and no claw.uid label
  of its uid on the engine (so no agent counts the uid taken again; the
  in-memory release is tests/unit/node-agent test_na_purge); the agent
  reports it in "purged_done";
- another tenant of the node keeps running, with its volumes;
- a purge of what is already gone (and of a slug never here) is done at
  once; one that cannot finish (a volume held by a container the agent
  does not own) is not reported done, and is tried again until it is;
- a purged slug that is assigned (a new tenant of that name) is never
  touched: reported done, its containers run and its volumes stay;
- through a real control plane (label pg too): a tenant deployed on a
  joined agent, deleted and purged, leaves nothing on the node, and the
  agent's acknowledgement deletes the tombstone.
"""

import json
import os
import secrets
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "controlplane-fleet"))
from clawtest.docker import (HealthsrvCase, agent_for,  # noqa: E402
                             tenant_spec, uniq)
from fleet import FleetSuite  # noqa: E402

SECRET = "sec-" + secrets.token_hex(12)


class Leftovers:
    """What the engine and an agent's directories hold of a tenant."""

    def lines(self, *args):
        out = self.env.docker(*args)
        return [x for x in out.split("\n") if x.strip()]

    def volumes(self, na, name):
        return self.lines("volume", "ls", "-q", "--filter",
                          "label=claw.tenant=" + name, "--filter",
                          "label=claw.node=" + na.name)

    def left_of(self, na, name, uid):
        """What the engine and the agent's directories still hold of
        name: {kind: [...]}, empty kinds left out."""
        left = {
            "container": self.lines("ps", "-aq", "--filter",
                                    "label=claw.tenant=" + name),
            "volume": self.volumes(na, name),
            "network": self.lines("network", "ls", "-q", "--filter",
                                  "label=claw.tenant=" + name),
            "uid label": self.lines("volume", "ls", "-q", "--filter",
                                    "label=claw.uid=%d" % uid) +
            self.lines("ps", "-aq", "--filter", "label=claw.uid=%d" % uid),
            "file": [p for p in (os.path.join(na.secrets, name),
                                 os.path.join(na.dir, "state", "tenants",
                                              name))
                     if os.path.exists(p)],
        }
        return {k: v for k, v in left.items() if v}


class NodeAgentPurge(Leftovers, HealthsrvCase):
    REPO = "claw-test/healthsrv-purge"

    def spec(self, name, generation=1):
        return tenant_spec(name, self.ok, self.ok, generation=generation,
                           auth=self.env.auth(),
                           secrets={"gateway": {"TOKEN": SECRET}})

    def test_purge_leaves_nothing_and_spares_the_assigned(self):
        gone, keep = uniq("pz"), uniq("pk")
        na = agent_for(self, self.env, [self.spec(gone), self.spec(keep)])
        uid = na.wait_healthy(gone, 90)["uid"]
        na.wait_healthy(keep, 90)
        self.assertTrue(os.path.isdir(os.path.join(na.secrets, gone)))
        # what a blue-green deploy leaves in slot 1 (its gateway's volume
        # and network), made here rather than by a second deploy
        self.env.docker("volume", "create", "--label", "claw.managed=1",
                        "--label", "claw.node=" + na.name, "--label",
                        "claw.tenant=" + gone, "--label",
                        "claw.uid=%d" % uid, "claw-%s-gateway-1-data" % gone)
        self.env.docker("network", "create", "--internal", "--label",
                        "claw.managed=1", "--label", "claw.tenant=" + gone,
                        "claw-t-%s-1" % gone)
        self.assertEqual(len(self.volumes(na, gone)), 3,
                         self.volumes(na, gone))
        kept = sorted(self.volumes(na, keep))

        na.set_desired({"generation": 2, "tenants": [self.spec(keep)],
                        "purged": [gone]})
        s = na.wait(lambda s: s["desired_generation"] == 2 and
                    s.get("purged_done") == [gone], 90)
        self.assertEqual([t["tenant"] for t in s["tenants"]], [keep])
        self.assertEqual(self.left_of(na, gone, uid), {})
        self.assertEqual(na.tenant(keep)["phase"], "healthy")
        self.assertEqual(sorted(self.volumes(na, keep)), kept)

        # already gone, and never here: done at once
        never = uniq("pn")
        na.set_desired({"generation": 3, "tenants": [self.spec(keep)],
                        "purged": [gone, never]})
        na.wait(lambda s: s["desired_generation"] == 3 and
                sorted(s.get("purged_done", [])) == sorted([gone, never]),
                60)

        # a purged slug that is assigned is the assigned tenant's: not
        # touched, reported done
        na.set_desired({"generation": 4,
                        "tenants": [self.spec(keep, 4), self.spec(gone, 4)],
                        "purged": [gone]})
        na.wait_healthy(gone, 90)
        s = na.wait(lambda s: s["desired_generation"] == 4 and
                    s.get("purged_done") == [gone], 60)
        self.assertEqual(len(self.volumes(na, gone)), 2,
                         self.volumes(na, gone))
        self.assertEqual(na.tenant(gone)["phase"], "healthy")
        self.assertIn("nothing of it is removed", na.log_text())
        self.assertNotIn(SECRET, na.log_text())
        json.dumps(s)  # the status stays a JSON document

        # both purged at once; keep's volume held by a container the agent
        # does not own: not reported done until that one is gone (then
        # nothing of this test is left on the engine)
        na.set_desired({"generation": 5, "tenants": [self.spec(keep, 4)]})
        na.wait(lambda s: s["desired_generation"] == 5 and
                not any(t["tenant"] == gone for t in s["tenants"]), 60)
        blocker = uniq("pb")
        self.env.docker("create", "--name", blocker, "-v",
                        "claw-%s-gateway-data:/x" % keep, self.ok)
        try:
            na.set_desired({"generation": 6, "tenants": [],
                            "purged": [gone, keep]})
            na.wait(lambda s: s["desired_generation"] == 6 and
                    s.get("purged_done") == [gone] and
                    "unable to remove what is left of purged tenant '%s'"
                    % keep in na.log_text(), 90)
            self.assertNotIn(keep, na.status().get("purged_done", []))
        finally:
            self.env.docker("rm", "-f", blocker, check=False)
        na.wait(lambda s: sorted(s.get("purged_done", [])) ==
                sorted([gone, keep]), 90)
        self.assertEqual(self.left_of(na, gone, uid), {})
        self.assertEqual(self.volumes(na, keep), [])


class PurgeThroughTheControlPlane(Leftovers, FleetSuite, HealthsrvCase):
    REPO = "claw-test/healthsrv-purge-cp"
    NODE = "purge"

    def tombstones(self):
        db = self.fleet.cp.database_url.split("@/", 1)[1].split("?")[0]
        return int(self.pg.psql("SELECT count(*) FROM purge_tombstones",
                                dbname=db))

    def test_purge_through_the_control_plane(self):
        slug = uniq("pc")
        self.fleet.tenant(slug)
        self.fleet.deploy(slug, {})
        self.fleet.wait_healthy_on(slug, self.node.name)
        uid = self.node.status()
        uid = [t for t in uid["tenants"] if t["tenant"] == slug][0]["uid"]
        self.assertEqual(len(self.volumes(self.node, slug)), 2)
        self.assertEqual(self.admin.delete("/v1/tenants/" + slug).status,
                         200)
        self.assertEqual(self.admin.post(
            "/v1/tenants/%s/purge" % slug).status, 204)
        self.fleet.wait(lambda: not self.left_of(self.node, slug, uid), 90,
                        "nothing left of " + slug)
        self.fleet.wait(lambda: self.tombstones() == 0, 60,
                        "the tombstone acknowledged")


if __name__ == "__main__":
    unittest.main()
