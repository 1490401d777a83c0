"""suite - the set-up both end-to-end suites share (test_tenant_e2e.py,
below the control plane, and test_platform_e2e.py, through it): one stack
per class, built in setUpClass and torn down in reverse, and the checks
that two tenants are apart.

    class T(suite.E2ESuite):
        @classmethod
        def _start(cls):
            cls.start_outside()        # env, images, out, api, mcp(_blocked)
            ...                        # a node agent, its egress network
            cls.start_llm(egress)      # llm_key, llm
            # or: egress = cls.start_egress_llm("claw-egress-x-")
            cls.cleanups.append(...)   # run by tearDownClass, in order

A failing setUpClass tears down what it had built. A cleanup that fails
fails the class when cleanup_errors_fail is set (the platform suite: the
control plane's exit is checked there), else it is printed and the others
still run.
"""

import os
import secrets
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.docker import DockerEnv  # noqa: E402
import outside  # noqa: E402
import stack  # noqa: E402
from stack import reach  # noqa: E402

ROLES = ("gateway", "runtime")


class E2ESuite(unittest.TestCase):
    cleanup_errors_fail = True

    @classmethod
    def setUpClass(cls):
        cls.cleanups = []
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls):
        raise NotImplementedError

    @classmethod
    def tearDownClass(cls):
        errors = []
        for fn in cls.cleanups:
            try:
                fn()
            except Exception as e:  # keep cleaning up
                if cls.cleanup_errors_fail:
                    errors.append(e)
                else:
                    print("cleanup: %r" % e, file=sys.stderr)
        cls.cleanups = []
        if errors:
            raise errors[0]

    # ------------------------------------------------------------ set-up
    @classmethod
    def start_outside(cls):
        """The engine, the tenant images, "the internet" (closed last)
        with the channel APIs and an MCP server, and the same server on
        the namespace's second address, which is not allowed."""
        cls.env = DockerEnv()
        cls.images = stack.tenant_images(cls.env)
        cls.out = outside.Outside()
        cls.cleanups.append(cls.out.close)
        cls.api = outside.ChannelAPI(cls.out, cls.out.ip)
        cls.mcp = outside.MCPServer(cls.out, cls.out.ip, stack.MCP_PORT)
        cls.mcp_blocked = outside.MCPServer(cls.out, cls.out.ip2,
                                            stack.MCP_PORT)

    @classmethod
    def start_egress_llm(cls, prefix):
        """The node's egress network, made first (the agent takes it as it
        is; removed at the end), and the scripted LLM on it, so that the
        LLM, and the default configs naming its address, exist before a
        control plane starts; the network's name."""
        egress = prefix + secrets.token_hex(3)
        cls.env.docker("network", "create", "--driver", "bridge", "--opt",
                       "com.docker.network.bridge.enable_icc=false",
                       "--label", "claw.managed=1", egress)
        cls.cleanups.append(lambda: cls.env.docker("network", "rm", egress,
                                                   check=False))
        cls.start_llm(egress)
        return egress

    @classmethod
    def start_llm(cls, egress):
        """The scripted LLM on the node's egress network, with a key of
        its own (removed first)."""
        cls.llm_key = "sk-llm-" + secrets.token_hex(12)
        cls.llm = stack.ScriptedLLM(cls.env, cls.images["scripted-llm"],
                                    egress, cls.llm_key)
        cls.cleanups.insert(0, cls.llm.close)

    # ------------------------------------------------- tenants are apart
    def addresses(self, slug):
        """Every address of slug's containers, and where each one is
        ("ROLE on NETWORK")."""
        ips, where = [], {}
        for role in ROLES:
            c = self.env.inspect("claw-%s-%s" % (slug, role))
            for net, n in c["NetworkSettings"]["Networks"].items():
                ips.append(n["IPAddress"])
                where[n["IPAddress"]] = "%s on %s" % (role, net)
        return ips, where

    def assert_isolation_rules(self, a, b):
        missing = stack.isolation_rules_missing(
            self.env, ["claw-t-" + a, "claw-t-" + b])
        self.assertEqual(missing, [], "Docker's isolation rules of these "
                         "tenant networks are gone from iptables (another "
                         "dockerd started on this host flushes them)")

    def assert_unreachable(self, pid, role, ips, where):
        """From pid's network namespace (A's role), no port of B's at
        ips answers."""
        for ip in ips:
            for p in (8080, 8081, 3128):
                self.assertEqual(reach(pid, ip, p), "unreachable",
                                 "A's %s reached B's %s at %s:%d%s" % (
                                     role, where[ip], ip, p,
                                     self.a_networks_note()))

    def a_networks_note(self):
        """More to say when A reached B (none here)."""
        return ""

    def assert_own_mounts(self, a, b, own_secrets=False):
        """a's containers mount nothing of b's (secrets, data); with
        own_secrets, their secrets directory is their own tenant's and
        role's."""
        for role in ROLES:
            c = self.env.inspect("claw-%s-%s" % (a, role))
            for m in c["Mounts"]:
                self.assertNotIn(b, m.get("Source", ""), m)
                self.assertNotIn(b, m.get("Name", "") or "", m)
                if own_secrets and m["Destination"] == "/run/claw/secrets":
                    self.assertIn("/%s/%s" % (a, role), m["Source"])
