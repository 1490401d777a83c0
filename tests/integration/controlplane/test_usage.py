"""Integration: usage and quotas on the control plane's side (docs/fleet.md,
"Usage"), against a real PostgreSQL; nodes are played through the agent
API (tests/integration/cli/fakenode.py).

1. A node's reports of its own tenants are accepted and summed per hour
   and per day, per provider; the buckets and totals add up.
2. A report about a tenant not placed on the reporting node (another
   node's, or none) is refused with usage_not_placed, stores nothing and is
   counted in claw_usage_reports_refused_total.
3. A report sent again with the same id is not counted twice; the same id
   from another report body is ignored too.
4. Tenants are kept apart: a tenant token reads its own usage, another
   tenant's is 404, the fleet totals are 403; only node credentials may
   report usage.
5. Bad bodies get 400/422 with stable codes and store nothing, even when
   only a later report of the body is bad; bad query values get 400.
6. Plans carry quotas (turns per day, tokens per month): wrong types and
   negative values are 422 invalid_quota; the tenant's usage shows each
   quota's limit and what was used.
7. The per-tenant series on /metrics and the fleet totals.
"""

import datetime
import itertools
import os
import sys
import unittest

from common import CpTestCase

sys.path.insert(0, os.path.join(os.environ.get("CLAW_SOURCE_DIR", "."),
                                "tests", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402

IMG = {"gateway_image": "registry.test/gw:1",
       "runtime_image": "registry.test/rt:1"}
_names = itertools.count(1)
_ids = itertools.count(1)
DAY = "since=2026-12-06T00:00:00Z&until=2026-12-08T00:00:00Z"


def report(slug, at, turns=0, providers=None, rid=None, **kw):
    r = dict({"tenant": slug, "at": at, "turns": turns}, **kw)
    if providers is not None:
        r["providers"] = providers
    if rid is not None:
        r["id"] = rid
    return r


def metric(text, line_start):
    """The value of the sample whose line starts with line_start, or 0."""
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return int(line.split()[-1])
    return 0


class UsageTest(CpTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for n in cls.admin.get("/v1/nodes").json()["items"]:
            cls.admin.post("/v1/nodes/%s/cordon" % n["id"])

        def join(name):
            r = cls.admin.post("/v1/nodes/join-tokens", {})
            assert r.status == 201, r
            return FakeNode(cls.cp.url, r.json()["token"], name)
        cls.node_a = join("usage-a")
        cls.placed = []
        for _ in range(8):
            slug = "u%d" % next(_names)
            r = cls.admin.post("/v1/tenants", {"slug": slug, "name": slug})
            assert r.status == 201, r
            r = cls.admin.post("/v1/tenants/%s/deploy" % slug, IMG)
            if r.status == 422 and r.error_code() == "missing_secrets":
                # the deploy preflight: set what the configs name
                for m in r.json()["error"]["missing"]:
                    cls.admin.put("/v1/tenants/%s/secrets/%s"
                                  % (slug, m["secret"]), {"value": "x"})
                r = cls.admin.post("/v1/tenants/%s/deploy" % slug, IMG)
            assert r.status == 202, r
            cls.placed.append(slug)
        cls.admin.post("/v1/nodes/%s/cordon" % cls.node_a.id)
        cls.node_b = join("usage-b")

    def tenant(self):
        """A fresh tenant placed on node A."""
        return self.placed.pop()

    def post(self, reports, node=None):
        return (node or self.node_a).api.post("/v1/agent/usage",
                                              {"reports": reports})

    def usage(self, slug, query=DAY, client=None):
        r = (client or self.admin).get("/v1/tenants/%s/usage?%s"
                                       % (slug, query))
        self.assertEqual(r.status, 200, r)
        return r.json()

    def refused_total(self):
        return metric(self.cp.client().get("/metrics").text,
                      "claw_usage_reports_refused_total")

    # 1
    def test_hour_and_day_buckets(self):
        slug = self.tenant()
        oa = {"openai": {"requests": 2, "errors": 1, "input_tokens": 100,
                         "output_tokens": 10}}
        r = self.post([
            report(slug, "2026-12-06T10:05:00Z", 1, oa, messages_in=2,
                   messages_out=1, tool_calls=3, tool_errors=1,
                   turn_ms=900),
            report(slug, "2026-12-06T10:59:59.9Z", 2, {
                "openai": {"input_tokens": 5},
                "anthropic": {"requests": 1, "output_tokens": 7}},
                turn_ms=600),
            # 12:10+01:00 is 11:10Z
            report(slug, "2026-12-06T12:10:00+01:00", 4),
            report(slug, "2026-12-07T01:00:00Z", 8, messages_in=1)])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"accepted": 4})
        u = self.usage(slug, DAY + "&granularity=hour")
        self.assertEqual(u["tenant"], slug)
        self.assertEqual(u["granularity"], "hour")
        self.assertEqual([b["start"] for b in u["buckets"]],
                         ["2026-12-06T10:00:00Z", "2026-12-06T11:00:00Z",
                          "2026-12-07T01:00:00Z"])
        ten = u["buckets"][0]
        self.assertEqual(ten["turns"], 3)
        self.assertEqual(ten["messages_in"], 2)
        self.assertEqual(ten["tool_calls"], 3)
        self.assertEqual(ten["tool_errors"], 1)
        # the turns' time adds up like the other counters: the mean turn
        # of the hour took 1500 / 3 = 500 ms
        self.assertEqual(ten["turn_ms"], 1500)
        self.assertEqual(ten["input_tokens"], 105)
        self.assertEqual(ten["output_tokens"], 17)
        self.assertEqual(ten["providers"], {
            "openai": {"requests": 2, "errors": 1, "input_tokens": 105,
                       "output_tokens": 10},
            "anthropic": {"requests": 1, "errors": 0, "input_tokens": 0,
                          "output_tokens": 7}})
        self.assertEqual(u["totals"]["turns"], 15)
        self.assertEqual(u["totals"]["messages_in"], 3)
        self.assertEqual(u["totals"]["input_tokens"], 105)
        d = self.usage(slug, DAY + "&granularity=day")
        self.assertEqual(d["granularity"], "day")
        self.assertEqual([(b["start"], b["turns"]) for b in d["buckets"]],
                         [("2026-12-06T00:00:00Z", 7),
                          ("2026-12-07T00:00:00Z", 8)])
        self.assertEqual(d["totals"], u["totals"])
        # since/until bound by the hour's start
        h = self.usage(slug, "since=2026-12-06T11:00:00Z"
                       "&until=2026-12-07T01:00:00Z")
        self.assertEqual([b["turns"] for b in h["buckets"]], [4])

    # 2
    def test_report_for_unplaced_tenant_refused_and_counted(self):
        slug = self.tenant()
        before = self.refused_total()
        r = self.post([report(slug, "2026-12-06T10:00:00Z", 5),
                       report("nosuchtenant", "2026-12-06T10:00:00Z", 1)],
                      node=self.node_b)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"accepted": 0, "refused": [
            {"tenant": slug, "code": "usage_not_placed"},
            {"tenant": "nosuchtenant", "code": "usage_not_placed"}]})
        self.assertEqual(self.usage(slug)["buckets"], [])
        self.assertEqual(self.usage(slug, DAY)["totals"]["turns"], 0)
        self.assertEqual(self.refused_total(), before + 2)
        # mixed: the placed tenant's report of node A counts, B's not
        r = self.post([report(slug, "2026-12-06T10:00:00Z", 1)])
        self.assertEqual(r.json(), {"accepted": 1})
        self.assertEqual(self.usage(slug, DAY)["totals"]["turns"], 1)

    # 3
    def test_resent_id_not_double_counted(self):
        slug = self.tenant()
        rid = "a-%d:%d" % (os.getpid(), next(_ids))
        body = [report(slug, "2026-12-06T09:00:00Z", 3, rid=rid)]
        self.assertEqual(self.post(body).json(), {"accepted": 1})
        r = self.post(body)  # the reply was lost: sent again
        self.assertEqual(r.json(), {"accepted": 1, "repeated": 1})
        # the id in a batch with a new report: only the new one counts
        r = self.post(body + [report(slug, "2026-12-06T09:30:00Z", 10,
                                     rid=rid + "b")])
        self.assertEqual(r.json(), {"accepted": 2, "repeated": 1})
        self.assertEqual(self.usage(slug, DAY)["totals"]["turns"], 13)
        # reports without ids are all counted
        self.post([report(slug, "2026-12-06T09:00:00Z", 1)] * 2)
        self.assertEqual(self.usage(slug, DAY)["totals"]["turns"], 15)

    # 4
    def test_tenants_kept_apart(self):
        mine, theirs = self.tenant(), self.tenant()
        self.post([report(mine, "2026-12-06T10:00:00Z", 1),
                   report(theirs, "2026-12-06T10:00:00Z", 2)])
        _, tok = self.cp.new_token("tenant", tenant=mine)
        me = self.cp.client(tok)
        self.assertEqual(self.usage(mine, DAY, me)["totals"]["turns"], 1)
        self.assertError(me.get("/v1/tenants/%s/usage?%s" % (theirs, DAY)),
                         404, "tenant_not_found")
        self.assertError(me.get("/v1/usage"), 403, "forbidden")
        _, aud = self.cp.new_token("auditor")
        self.assertError(self.cp.client(aud).get(
            "/v1/tenants/%s/usage" % mine), 403, "forbidden")
        for c in (me, self.admin):
            self.assertEqual(c.post("/v1/agent/usage", {"reports": [
                report(mine, "2026-12-06T10:00:00Z", 100)]}).status, 403)
        self.assertEqual(self.usage(mine, DAY)["totals"]["turns"], 1)
        _, op = self.cp.new_token("operator")
        f = self.cp.client(op).get("/v1/usage?" + DAY)
        self.assertEqual(f.status, 200, f)

    # 5
    def test_bad_bodies_and_queries(self):
        slug = self.tenant()
        api = self.node_a.api
        r = api.request("POST", "/v1/agent/usage", b"{not json",
                        {"Content-Type": "application/json"})
        self.assertError(r, 400, "bad_json")
        self.assertError(api.post("/v1/agent/usage", {}), 422,
                         "missing_field")
        self.assertError(api.post("/v1/agent/usage", {"reports": {}}), 422,
                         "invalid_field")
        bad = [
            (report(slug, "2026-12-06T10:00:00Z", -1), "invalid_field"),
            (report(slug, "2026-12-06T10:00:00Z", "3"), "invalid_field"),
            (report(slug, "2026-12-06T25:00:00Z"), "invalid_field"),
            (report(slug, "2026-12-06T10:00:00Z", rid="x" * 65),
             "invalid_field"),
            (report(slug, "2026-12-06T10:00:00Z", cost=1), "unknown_field"),
            (report(slug, "2026-12-06T10:00:00Z",
                    providers={"p": {"input_tokens": -1}}), "invalid_field"),
            ({"at": "2026-12-06T10:00:00Z"}, "missing_field"),
        ]
        for rep, code in bad:
            # a good report first: nothing of a refused body is stored
            r = self.post([report(slug, "2026-12-06T10:00:00Z", 1), rep])
            self.assertError(r, 422, code)
            self.assertIn("reports[1]", r.json()["error"]["message"])
        self.assertError(self.post([report(slug, "2026-12-06T10:00:00Z")]
                                   * 501), 422, "invalid_field")
        self.assertEqual(self.usage(slug, DAY)["buckets"], [])
        for q in ("granularity=week", "since=yesterday",
                  "since=2026-12-06T00:00:00Z&until=2026-12-05T00:00:00Z",
                  "since=2026-01-01T00:00:00Z&until=2026-12-01T00:00:00Z",
                  "until=2026-13-01T00:00:00Z"):
            self.assertError(self.admin.get("/v1/tenants/%s/usage?%s"
                                            % (slug, q)), 400,
                             "invalid_parameter")
        self.assertError(self.admin.get(
            "/v1/usage?since=2024-01-01T00:00:00Z"
            "&until=2026-01-01T00:00:00Z"), 400, "invalid_parameter")
        # a year of days is fine
        self.usage(slug, "since=2026-01-01T00:00:00Z"
                   "&until=2026-12-01T00:00:00Z&granularity=day")

    # 6
    def test_plan_quotas(self):
        slug = self.tenant()
        name = "q%d" % next(_names)
        base = {"name": name, "cpus_milli": 1000, "memory_mb": 512,
                "pids": 256}
        for q in ({"turns_per_day": -1}, {"tokens_per_month": "1000"},
                  {"turns_per_day": 1.5}, {"turns_per_day": True},
                  {"runs": 3}, [], "10"):
            self.assertError(self.admin.post("/v1/plans",
                                             dict(base, quota=q)),
                             422, "invalid_quota")
        r = self.admin.post("/v1/plans", dict(base, quota={
            "turns_per_day": 100}))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["quota"], {"turns_per_day": 100,
                                             "tokens_per_month": None})
        self.assertError(self.admin.patch("/v1/plans/" + name, {
            "quota": {"tokens_per_month": -5}}), 422, "invalid_quota")
        r = self.admin.patch("/v1/plans/" + name,
                             {"quota": {"tokens_per_month": 5000}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["quota"], {"turns_per_day": 100,
                                             "tokens_per_month": 5000})
        self.assertEqual(self.admin.get("/v1/plans/default").json()["quota"],
                         {"turns_per_day": None, "tokens_per_month": None})
        # no plan: no quota
        q = self.usage(slug)["quota"]
        self.assertEqual(q["turns_per_day"]["limit"], None)
        r = self.admin.patch("/v1/tenants/" + slug, {"plan": name})
        self.assertEqual(r.status, 200, r)
        for _ in range(3):  # a report now; again if the UTC day turned
            day = datetime.datetime.now(datetime.timezone.utc)
            at = day.strftime("%Y-%m-%dT%H:%M:%SZ")
            self.post([report(slug, at, 7, {"x": {"input_tokens": 40,
                                                  "output_tokens": 2}})])
            q = self.usage(slug)["quota"]
            if datetime.datetime.now(datetime.timezone.utc).date() == \
                    day.date():
                break
        self.assertEqual(q["turns_per_day"], {"limit": 100, "used": 7})
        self.assertEqual(q["tokens_per_month"]["limit"], 5000)
        self.assertGreaterEqual(q["tokens_per_month"]["used"], 42)
        # a quota cleared with null
        r = self.admin.patch("/v1/plans/" + name,
                             {"quota": {"turns_per_day": None}})
        self.assertEqual(r.json()["quota"]["turns_per_day"], None)
        self.assertEqual(self.usage(slug)["quota"]["turns_per_day"]
                         ["limit"], None)

    # 7
    def test_metrics_and_fleet_totals(self):
        slug = self.tenant()
        self.post([report(slug, "2026-12-06T10:00:00Z", 2, {
            "openai": {"input_tokens": 30, "output_tokens": 4}},
            messages_in=5, messages_out=6, tool_calls=7)])
        text = self.cp.client().get("/metrics").text
        t = '{tenant="%s"' % slug
        self.assertEqual(metric(text, "claw_tenant_turns_total" + t + "}"), 2)
        self.assertEqual(metric(text, "claw_tenant_tool_calls_total" + t
                                + "}"), 7)
        self.assertEqual(metric(text, "claw_tenant_messages_total" + t
                                + ',direction="in"}'), 5)
        self.assertEqual(metric(text, "claw_tenant_messages_total" + t
                                + ',direction="out"}'), 6)
        self.assertEqual(metric(text, "claw_tenant_tokens_total" + t +
                                ',provider="openai",direction="input"}'), 30)
        self.assertEqual(metric(text, "claw_tenant_tokens_total" + t +
                                ',provider="openai",direction="output"}'), 4)
        self.assertIn("# TYPE claw_usage_reports_refused_total counter",
                      text)
        f = self.admin.get("/v1/usage?" + DAY).json()
        mine = [x for x in f["tenants"] if x["tenant"] == slug]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["totals"]["turns"], 2)
        self.assertEqual(mine[0]["totals"]["input_tokens"], 30)
        self.assertGreaterEqual(f["totals"]["turns"], 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
