"""Integration: deploy preflight, fleet default secrets, tenant labels and
rollouts, without Docker. Node agents are played through the agent API
(tests/integration/cli/fakenode.py): a deployment whose runtime image
names "bad" is reported failed, any other healthy. (The same flows on real
Docker are in tests/integration/controlplane-fleet/test_rollout_docker.py.)

1. Preflight: a deploy whose configs name secrets the tenant has not set
   is 422 missing_secrets naming each secret and role; each container's
   secrets list is what its own config names; "*" only for admins.
2. A fleet default secret (--default-secret) counts as set.
3. Tenant labels: set on create/patch, shown, filtered with ?label=.
4. Rollouts: batches of max_unavailable, each healthy before the next;
   a bad image halts at the first batch and rolls it back; overlap 409;
   empty selector 422; pause/resume/abort and their 409s; events and
   audit.
"""

import itertools
import json
import os
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

from clawtest.cp import ControlPlane
from clawtest.proc import wait_for
from common import CpTestCase

sys.path.insert(0, os.path.join(os.environ.get("CLAW_SOURCE_DIR", "."),
                                "tests", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402

# a small plan: the fake node (4 CPUs) takes every tenant of the module
GOOD = {"gateway_image": "registry.test/gw:1",
        "runtime_image": "registry.test/rt:1",
        "plan": {"cpus_milli": 10, "memory_mb": 16}}
RT = {"providers": [{"name": "main", "kind": "openai",
                     "base_url": "https://llm.test/v1", "model": "m",
                     "api_key_secret": "llm_api_key"}]}
GW = {"channels": {"telegram": {"mode": "polling"}}}
_names = itertools.count(1)


def autopilot(node, stop, interval=0.1):
    """Heartbeat; report each new assignment healthy, or failed when its
    runtime image names "bad"."""
    done = set()

    def run():
        while not stop.is_set():
            try:
                node.heartbeat()
                for t in node.assignments()["tenants"]:
                    key = (t["tenant"], t["deployment"], t["generation"])
                    if key in done:
                        continue
                    if "bad" in t["runtime"]["image"]:
                        node.report(t["tenant"], "failed", "exited at once")
                    else:
                        node.report(t["tenant"], "healthy")
                    done.add(key)  # reported (a failed call is retried)
            except (OSError, AssertionError, KeyError, TypeError):
                pass
            time.sleep(interval)

    threading.Thread(target=run, daemon=True).start()


class RolloutTest(CpTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        key = os.path.join(cls.tmp.name, "llm")
        with open(key, "w") as f:
            f.write("sk-default-value-123\n")
        os.chmod(key, 0o600)
        cls.dcp = ControlPlane(
            database_url=cls.pg.create_database(cls.db + "ro"),
            extra_args=["--sweep-ms", "100",
                        "--default-secret", "llm_api_key=" + key],
            name="controlplane-rollouts").start()
        cls.a = cls.dcp.client()
        cls.stop = threading.Event()
        r = cls.a.post("/v1/nodes/join-tokens", {})
        assert r.status == 201, r
        cls.node = FakeNode(cls.dcp.url, r.json()["token"], "ro-node")
        autopilot(cls.node, cls.stop)

    @classmethod
    def tearDownClass(cls):
        cls.stop.set()
        time.sleep(0.3)
        try:
            cls.dcp.stop_clean()
        finally:
            cls.tmp.cleanup()
            super().tearDownClass()

    # ---- helpers

    def tenant(self, labels=None):
        slug = "ro%d" % next(_names)
        body = {"slug": slug, "name": slug}
        if labels is not None:
            body["labels"] = labels
        r = self.a.post("/v1/tenants", body)
        self.assertEqual(r.status, 201, r)
        return slug

    def deployed(self, labels=None, body=None):
        slug = self.tenant(labels)
        r = self.a.post("/v1/tenants/%s/deploy" % slug,
                        body or dict(GOOD, runtime_config=RT))
        self.assertEqual(r.status, 202, r)
        dep = r.json()["id"]
        wait_for(lambda: self.a.get("/v1/tenants/%s/deployments/%s" %
                                    (slug, dep)).json()["phase"] ==
                 "healthy", 30, what=slug + " healthy")
        return slug, dep

    def rollout(self, body, status=201):
        r = self.a.post("/v1/rollouts", body)
        self.assertEqual(r.status, status, r)
        return r.json()

    def wait_state(self, rid, state, timeout=60):
        last = {}

        def check():
            last["r"] = self.a.get("/v1/rollouts/" + rid).json()
            return last["r"] if last["r"]["state"] == state else None
        try:
            return wait_for(check, timeout, what="rollout " + state)
        except TimeoutError:
            raise AssertionError("rollout not %s: %s\n%s" % (
                state, last.get("r"), self.dcp.daemon.log_text()[-3000:]))

    def events_until(self, rid, kind, timeout=30):
        """The rollout's events from the stream's start (?since=0) up to
        the first of kind."""
        req = urllib.request.Request(
            self.dcp.url + "/v1/events?since=0",
            headers={"Authorization": "Bearer " + self.dcp.admin_token})
        got = []
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            for line in resp:
                line = line.decode().strip()
                if not line.startswith("data: "):
                    continue
                e = json.loads(line[6:])
                if e["type"].startswith("rollout.") and \
                        e["data"].get("rollout") == rid:
                    got.append(e)
                    if e["type"] == kind:
                        return got
        raise AssertionError("stream ended before " + kind)

    def code(self, r):
        return (r.status, r.json()["error"]["code"])

    # ---- 1, 2: preflight and default secrets

    def test_preflight_names_each_missing_secret_and_role(self):
        slug = self.tenant()
        rt = dict(RT, mcp_servers=[{"name": "fs", "url": "https://m.test/",
                                    "header_secrets":
                                    {"Authorization": "fs_auth"}}])
        r = self.a.post("/v1/tenants/%s/deploy" % slug,
                        dict(GOOD, gateway_config=GW, runtime_config=rt))
        self.assertEqual(self.code(r), (422, "missing_secrets"))
        missing = r.json()["error"]["missing"]
        # llm_api_key has a fleet default: not missing
        self.assertEqual(sorted((m["secret"], m["role"]) for m in missing),
                         [("fs_auth", "runtime"),
                          ("telegram_bot_token", "gateway")])
        self.assertIn("telegram_bot_token (gateway)",
                      r.json()["error"]["message"])
        # nothing was made
        self.assertEqual(self.a.get("/v1/tenants/%s/deployments" % slug)
                         .json()["items"], [])
        # set them: accepted, and each role gets only its own names
        for n in ("fs_auth", "telegram_bot_token"):
            self.assertEqual(self.a.put("/v1/tenants/%s/secrets/%s" %
                                        (slug, n), {"value": "v-" + n})
                             .status, 201)
        r = self.a.post("/v1/tenants/%s/deploy" % slug,
                        dict(GOOD, gateway_config=GW, runtime_config=rt))
        self.assertEqual(r.status, 202, r)
        spec = r.json()["spec"]
        self.assertEqual(sorted(spec["secrets"]["gateway"]),
                         ["admin_token", "telegram_bot_token",
                          "telegram_webhook_secret"])
        self.assertEqual(sorted(spec["secrets"]["runtime"]),
                         ["admin_token", "fs_auth", "llm_api_key"])

    def test_platform_tokens_made_up_once_never_shown(self):
        """openai_api_token and telegram_webhook_secret are the platform's
        own bearer tokens: a deploy that needs them makes them up (sealed,
        audited with the source "generated"); outside credentials never."""
        slug = self.tenant()
        gw = {"channels": {"openai": {"enabled": True},
                           "telegram": {"mode": "webhook"}}}
        r = self.a.post("/v1/tenants/%s/deploy" % slug,
                        dict(GOOD, gateway_config=gw, runtime_config=RT))
        self.assertEqual(self.code(r), (422, "missing_secrets"))
        self.assertEqual([(m["secret"], m["role"])
                          for m in r.json()["error"]["missing"]],
                         [("telegram_bot_token", "gateway")])
        # refused: nothing was made up either
        names = [s["name"] for s in self.a.get(
            "/v1/tenants/%s/secrets" % slug).json()["items"]]
        self.assertNotIn("openai_api_token", names)
        self.assertEqual(self.a.put("/v1/tenants/%s/secrets/"
                                    "telegram_bot_token" % slug,
                                    {"value": "123456:" + "A" * 35})
                         .status, 201)
        for _ in range(2):
            r = self.a.post("/v1/tenants/%s/deploy" % slug,
                            dict(GOOD, gateway_config=gw, runtime_config=RT))
            self.assertEqual(r.status, 202, r)
        names = [s["name"] for s in self.a.get(
            "/v1/tenants/%s/secrets" % slug).json()["items"]]
        for n in ("openai_api_token", "telegram_webhook_secret"):
            self.assertIn(n, names)
        audit = self.a.get("/v1/audit?limit=500").json()["items"]
        for n in ("openai_api_token", "telegram_webhook_secret"):
            puts = [e for e in audit if e["action"] == "secret.put" and
                    e["target"] == "tenants/%s/secrets/%s" % (slug, n)]
            self.assertEqual(len(puts), 1, puts)  # once, not per deploy
        made = [d for e in audit
                if e["action"] == "deploy" and e["target"].endswith(slug)
                for d in (e.get("details") or {}).get("default_secrets")
                or []]
        self.assertIn({"secret": "openai_api_token", "role": "generated"},
                      made)

    def test_default_secret_is_sealed_for_the_tenant_never_shown(self):
        slug = self.tenant()
        r = self.a.post("/v1/tenants/%s/deploy" % slug,
                        dict(GOOD, runtime_config=RT))
        self.assertEqual(r.status, 202, r)
        names = [s["name"] for s in self.a.get(
            "/v1/tenants/%s/secrets" % slug).json()["items"]]
        self.assertIn("llm_api_key", names)
        audit = self.a.get("/v1/audit?limit=500").json()["items"]
        puts = [e for e in audit if e["action"] == "secret.put" and
                e["target"] == "tenants/%s/secrets/llm_api_key" % slug]
        self.assertEqual(len(puts), 1, puts)
        self.assertNotIn("sk-default-value-123", str(audit))
        self.assertNotIn("sk-default-value-123",
                         self.dcp.daemon.log_text())

    def test_star_is_for_admins_only(self):
        slug = self.tenant()
        _, op = self.dcp.new_token("operator")
        body = dict(GOOD, secrets={"runtime": ["*"]})
        r = self.dcp.client(op).post("/v1/tenants/%s/deploy" % slug, body)
        self.assertEqual(self.code(r), (403, "forbidden"))
        r = self.a.post("/v1/tenants/%s/deploy" % slug, body)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["spec"]["secrets"]["runtime"], ["*"])
        # an empty body gives no "*" any more
        r = self.a.post("/v1/tenants/%s/deploy" % slug,
                        dict(GOOD, runtime_config=RT))
        self.assertNotIn("*", r.json()["spec"]["secrets"]["runtime"])

    # ---- 3: labels

    def test_labels_set_shown_filtered_and_checked(self):
        s1 = self.tenant({"tier": "gold", "example.com/zone": "eu"})
        s2 = self.tenant({"tier": "free"})
        self.assertEqual(self.a.get("/v1/tenants/" + s1).json()["labels"],
                         {"tier": "gold", "example.com/zone": "eu"})
        slugs = [t["slug"] for t in self.a.get(
            "/v1/tenants?label=tier=gold&limit=200").json()["items"]]
        self.assertIn(s1, slugs)
        self.assertNotIn(s2, slugs)
        r = self.a.patch("/v1/tenants/" + s2, {"labels": {"tier": "gold"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["labels"], {"tier": "gold"})
        # with the version it must still be (optimistic concurrency)
        v = r.json()["version"]
        r = self.a.patch("/v1/tenants/" + s2, {"labels": {"tier": "x"},
                                               "version": v - 1})
        self.assertEqual(r.status, 409, r)
        r = self.a.patch("/v1/tenants/" + s2, {"labels": {"tier": "gold",
                                                          "z": ""},
                                               "version": v})
        self.assertEqual((r.status, r.json()["labels"]),
                         (200, {"tier": "gold", "z": ""}))
        for bad in ({"-x": "1"}, {"k": "v" * 64}, {"k": 1},
                    {"k%d" % i: "v" for i in range(33)}):
            r = self.a.patch("/v1/tenants/" + s2, {"labels": bad})
            self.assertEqual(self.code(r), (422, "invalid_field"), bad)
        self.assertEqual(self.code(self.a.get("/v1/tenants?label=nope")),
                         (400, "invalid_parameter"))
        # tenant tokens set no labels (operators do)
        r = self.a.post("/v1/tokens", {"role": "tenant", "tenant": s2})
        tok = r.json()["token"]
        self.assertEqual(self.dcp.client(tok).patch(
            "/v1/tenants/" + s2, {"labels": {}}).status, 403)

    # ---- 4: rollouts

    def test_rollout_moves_batches_and_completes(self):
        label = "batch%d" % next(_names)
        slugs = [self.deployed({"group": label})[0] for _ in range(6)]
        ro = self.rollout({"selector": {"labels": {"group": label}},
                           "images": {"runtime": "registry.test/rt:2"},
                           "max_unavailable": 2})
        self.assertEqual((ro["state"], ro["total"], ro["batch"]),
                         ("running", 6, 0))
        self.assertTrue(ro["id"].startswith("ro_"))
        done = self.wait_state(ro["id"], "completed")
        self.assertEqual((done["succeeded"], done["failed"], done["batch"]),
                         (6, 0, 3))
        self.assertEqual(sorted(t["batch"] for t in done["tenants"]),
                         [1, 1, 2, 2, 3, 3])
        for s in slugs:
            p = self.a.get("/v1/tenants/%s/placement" % s).json()
            dep = self.a.get("/v1/tenants/%s/deployments/%s" %
                             (s, p["deployment_id"])).json()
            self.assertEqual(dep["spec"]["runtime_image"],
                             "registry.test/rt:2")
        actions = [e["action"] for e in self.a.get(
            "/v1/audit?limit=1000").json()["items"]
            if e["target"] == "rollouts/" + ro["id"]]
        for a in ("rollout.create", "rollout.batch", "rollout.complete"):
            self.assertIn(a, actions)
        # the event stream, from its start: a batch began only after every
        # tenant of the one before was healthy
        evs = self.events_until(ro["id"], "rollout.completed")
        healthy, batches = set(), []
        for e in evs:
            if e["type"] == "rollout.tenant" and \
                    e["data"]["state"] == "healthy":
                healthy.add(e["data"]["tenant"])
            if e["type"] == "rollout.batch":
                for earlier in batches:
                    self.assertTrue(set(earlier) <= healthy, (earlier, e))
                batches.append(e["data"]["tenants"])
        self.assertEqual(len(batches), 3)
        self.assertEqual(evs[0]["type"], "rollout.started")
        self.assertEqual(evs[-1]["data"]["succeeded"], 6)
        listed = self.a.get("/v1/rollouts?state=completed").json()["items"]
        self.assertIn(ro["id"], [x["id"] for x in listed])
        self.assertNotIn("tenants", listed[0])

    def test_bad_image_halts_first_batch_and_rolls_back(self):
        label = "bad%d" % next(_names)
        olds = dict(self.deployed({"group": label}) for _ in range(5))
        ro = self.rollout({"selector": {"labels": {"group": label}},
                           "images": {"runtime": "registry.test/bad:2"},
                           "max_unavailable": 2, "failure_threshold": 1})
        h = self.wait_state(ro["id"], "halted")
        self.assertIn("failure_threshold 1", h["reason"])
        states = sorted(t["state"] for t in h["tenants"])
        self.assertEqual(states.count("skipped"), 3, h)
        self.assertEqual(states.count("rolled_back"), 2, h)
        for t in h["tenants"]:
            if t["state"] == "rolled_back":
                self.assertEqual(t["previous_deployment"], olds[t["tenant"]])
                p = self.a.get("/v1/tenants/%s/placement" %
                               t["tenant"]).json()
                dep = self.a.get("/v1/tenants/%s/deployments/%s" % (
                    t["tenant"], p["deployment_id"])).json()
                self.assertEqual(dep["rollback_of"], olds[t["tenant"]])
        actions = [e["action"] for e in self.a.get(
            "/v1/audit?limit=1000").json()["items"]]
        for a in ("rollout.halt", "rollout.tenant.rollback",
                  "rollout.tenant.fail"):
            self.assertIn(a, actions)

    def test_bad_requests_overlap_and_controls(self):
        label = "ctl%d" % next(_names)
        for _ in range(3):
            self.deployed({"group": label})
        sel = {"labels": {"group": label}}
        img = {"runtime": "registry.test/rt:3"}
        self.assertEqual(self.code(self.a.post("/v1/rollouts", {
            "selector": {}, "images": img})), (422, "empty_selector"))
        self.assertEqual(self.code(self.a.post("/v1/rollouts", {
            "selector": {"labels": {"group": "nobody"}}, "images": img})),
            (422, "empty_selector"))
        self.assertEqual(self.code(self.a.post("/v1/rollouts", {
            "selector": sel, "images": img, "max_unavailable": 0})),
            (422, "invalid_field"))
        self.assertEqual(self.code(self.a.post("/v1/rollouts", {
            "selector": sel, "images": {"runtime": "-bad ref"}})),
            (422, "invalid_field"))
        self.assertEqual(self.code(self.a.post("/v1/rollouts", {
            "selector": sel})), (422, "missing_field"))
        # tenant tokens and auditors: 403
        _, aud = self.dcp.new_token("auditor")
        self.assertEqual(self.dcp.client(aud).post("/v1/rollouts", {
            "selector": sel, "images": img}).status, 403)
        ro = self.rollout({"selector": sel, "images": img,
                           "max_unavailable": 1})
        r = self.a.post("/v1/rollouts/%s/pause" % ro["id"])
        self.assertEqual((r.status, r.json()["state"]), (200, "paused"))
        self.assertEqual(self.code(self.a.post(
            "/v1/rollouts/%s/pause" % ro["id"])), (409, "rollout_state"))
        # a paused rollout still holds its tenants
        self.assertEqual(self.code(self.a.post("/v1/rollouts", {
            "selector": sel, "images": img})), (409, "rollout_overlap"))
        r = self.a.post("/v1/rollouts/%s/resume" % ro["id"])
        self.assertEqual((r.status, r.json()["state"]), (200, "running"))
        r = self.a.post("/v1/rollouts/%s/abort" % ro["id"])
        self.assertEqual((r.status, r.json()["state"]), (200, "aborted"))
        self.assertEqual(self.code(self.a.post(
            "/v1/rollouts/%s/resume" % ro["id"])), (409, "rollout_state"))
        self.assertEqual(self.code(self.a.get("/v1/rollouts/ro_" + "0" * 32)),
                         (404, "rollout_not_found"))
        # once aborted, the tenants are free again
        ro2 = self.rollout({"selector": sel, "images": img})
        self.wait_state(ro2["id"], "completed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
