/*
 * test_na_spec.c - the container and network bodies carry the hardening:
 * read-only root, the tenant's own uid (and label), no capabilities,
 * no-new-privileges, the seccomp profile given explicitly (and its label),
 * limits, tmpfs scratch, the data volume mounted without Docker's copy-up
 * and created with the tenant's uid label, no secret anywhere in the body,
 * the gateway alone published on the configured address (or, with the
 * edge, not published and labelled with the edge network), internal
 * tenant network, the edge network internal without ICC. The built-in seccomp profile refuses by default, allows what a
 * tenant needs and not what it must not have.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "claw/json.h"
#include "seccomp.h"
#include "spec.h"
#include "../testutil.h"

static const char *doc =
	"{\"tenants\":[{\"tenant\":\"acme\",\"deployment\":\"d-1\","
	"\"generation\":4,\"plan\":{\"cpus\":0.5,\"memory_mb\":128,"
	"\"pids\":99},\"gateway\":{\"image\":\"r/gw:1\",\"secrets\":{"
	"\"TOKEN\":\"very-secret-value\"}},\"runtime\":{\"image\":\"r/"
	"rt:1\"}}]}";

static json_t *body_edge(struct na_desired *d, enum na_role r,
			 const char *publish, const char *edge, int slot);

static json_t *body_for(struct na_desired *d, enum na_role r)
{
	return body_edge(d, r, "127.0.0.9", NULL, 0);
}

static json_t *body_edge(struct na_desired *d, enum na_role r,
			 const char *publish, const char *edge, int slot)
{
	char msg[256];
	assert_int_equal(
		na_desired_parse(d, doc, strlen(doc), msg, sizeof(msg)),
		CLAW_OK);
	struct na_spec_paths p = {
		.config_file = "/s/acme/gw.json",
		.secrets_dir = "/run/sec/acme/gateway",
		.publish_ip = publish,
		.config_hash = "hash",
		.node = "node-1",
		.uid = 2000000042,
		.seccomp = "seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\"}",
		.seccomp_hash = "0123456789abcdef",
		.volume = r == NA_GATEWAY ? "claw-acme-gateway-data"
					  : "claw-acme-runtime-data",
		/* as the agent does: a gateway that can switch slots */
		.peer_volume = edge && r == NA_GATEWAY
			? (slot ? "claw-acme-gateway-data"
				: "claw-acme-gateway-1-data")
			: NULL,
		.edge_net = edge,
		.slot = slot};
	return na_spec_container(&d->tenants[0], r, "r/gw@sha256:x", &p);
}

static void test_hardening(void **state)
{
	(void)state;
	struct na_desired d;
	for (int r = 0; r < NA_ROLES; r++) {
		json_t *b = body_for(&d, (enum na_role)r);
		json_t *h = json_object_get(b, "HostConfig");
		char *text = claw_json_dumps(b);
		assert_non_null(text);
		assert_lacks(text, "very-secret-value");
		free(text);
		assert_json_str(b, "User", "2000000042:2000000042");
		assert_json_str(json_object_get(b, "Labels"), "claw.uid",
				"2000000042");
		assert_json_str(json_object_get(b, "Labels"), "claw.seccomp",
				"0123456789abcdef");
		assert_string_equal(
			json_string_value(json_array_get(
				json_object_get(h, "SecurityOpt"), 1)),
			"seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\"}");
		json_t *m = json_array_get(json_object_get(h, "Mounts"), 0);
		assert_json_str(m, "Source",
				r == NA_GATEWAY ? "claw-acme-gateway-data"
						: "claw-acme-runtime-data");
		assert_true(json_is_true(json_object_get(
			json_object_get(m, "VolumeOptions"), "NoCopy")));
		assert_true(json_is_true(json_object_get(h, "ReadonlyRootfs")));
		assert_string_equal(json_string_value(json_array_get(
					    json_object_get(h, "CapDrop"), 0)),
				    "ALL");
		assert_string_equal(
			json_string_value(json_array_get(
				json_object_get(h, "SecurityOpt"), 0)),
			"no-new-privileges:true");
		assert_int_equal(
			json_integer_value(json_object_get(h, "PidsLimit")),
			99);
		assert_int_equal(
			json_integer_value(json_object_get(h, "Memory")),
			128 * 1024 * 1024);
		assert_int_equal(
			json_integer_value(json_object_get(h, "NanoCpus")),
			500000000);
		assert_non_null(
			json_object_get(json_object_get(h, "Tmpfs"), "/tmp"));
		assert_json_str(h, "NetworkMode", "claw-t-acme");
		assert_json_str(json_object_get(b, "Labels"), "claw.generation",
				"4");
		assert_json_str(json_object_get(b, "Labels"), "claw.node",
				"node-1");
		json_t *pb = json_object_get(h, "PortBindings");
		if (r == NA_GATEWAY)
			assert_json_str(
				json_array_get(json_object_get(pb, "8080/tcp"),
					       0),
				"HostIp", "127.0.0.9");
		else
			assert_null(pb);
		json_decref(b);
		na_desired_release(&d);
	}
}

/* With the edge: no port published, the gateway labelled with the edge
 * network it joins (the runtime never is). */
static void test_edge_unpublished(void **state)
{
	(void)state;
	for (int r = 0; r < NA_ROLES; r++) {
		struct na_desired d;
		json_t *b =
			body_edge(&d, (enum na_role)r, NULL, "claw-edge", 0);
		json_t *h = json_object_get(b, "HostConfig");
		assert_null(json_object_get(h, "PortBindings"));
		const char *l = json_string_value(json_object_get(
			json_object_get(b, "Labels"), "claw.edge"));
		if (r == NA_GATEWAY)
			assert_string_equal(l, "claw-edge");
		else
			assert_null(l);
		/* Only the tenant network at creation (the agent connects
		 * the gateway to the others). */
		assert_int_equal(json_object_size(json_object_get(
					 json_object_get(b, "NetworkingConfig"),
					 "EndpointsConfig")),
				 1);
		/* the gateway reads the other slot's journal, read only */
		json_t *ms = json_object_get(h, "Mounts");
		assert_int_equal(json_array_size(ms), r == NA_GATEWAY ? 2 : 1);
		if (r == NA_GATEWAY) {
			json_t *m = json_array_get(ms, 1);
			assert_json_str(m, "Source",
					"claw-acme-gateway-1-data");
			assert_json_str(m, "Target", "/var/lib/claw-peer");
			assert_true(
				json_is_true(json_object_get(m, "ReadOnly")));
		}
		json_decref(b);
		na_desired_release(&d);
	}
	/* Without the edge the gateway says so: claw.edge "". */
	struct na_desired d;
	json_t *b = body_for(&d, NA_GATEWAY);
	assert_json_str(json_object_get(b, "Labels"), "claw.edge", "");
	json_decref(b);
	na_desired_release(&d);
}

/* The second slot of a blue/green redeploy: its own names, network and
 * gateway volume; the runtime's data is shared. */
static void test_slots(void **state)
{
	(void)state;
	char b[128];
	na_container_name("acme", NA_GATEWAY, 0, b, sizeof(b));
	assert_string_equal(b, "claw-acme-gateway");
	na_container_name("acme", NA_RUNTIME, 1, b, sizeof(b));
	assert_string_equal(b, "claw-acme-runtime-1");
	na_network_name("acme", 0, b, sizeof(b));
	assert_string_equal(b, "claw-t-acme");
	na_network_name("acme", 1, b, sizeof(b));
	assert_string_equal(b, "claw-t-acme-1");
	na_volume_name("acme", NA_GATEWAY, false, 1, b, sizeof(b));
	assert_string_equal(b, "claw-acme-gateway-1-data");
	na_volume_name("acme", NA_RUNTIME, false, 1, b, sizeof(b));
	assert_string_equal(b, "claw-acme-runtime-data");
	na_volume_name("acme", NA_GATEWAY, true, 1, b, sizeof(b));
	assert_string_equal(b, "claw-acme-gateway-disk");
	struct na_desired d;
	json_t *body = body_edge(&d, NA_GATEWAY, NULL, "claw-edge", 1);
	assert_json_str(json_object_get(body, "Labels"), "claw.slot", "1");
	assert_json_str(json_object_get(body, "HostConfig"), "NetworkMode",
			"claw-t-acme-1");
	assert_non_null(json_object_get(
		json_object_get(json_object_get(body, "NetworkingConfig"),
				"EndpointsConfig"),
		"claw-t-acme-1"));
	json_decref(body);
	na_desired_release(&d);
	json_t *n = na_spec_tenant_network("acme", 1);
	assert_json_str(n, "Name", "claw-t-acme-1");
	json_decref(n);
}

static void test_volume(void **state)
{
	(void)state;
	json_t *v = na_spec_volume("acme", NA_RUNTIME, 0, "node-1", 2000000042,
				   NULL);
	json_t *l = json_object_get(v, "Labels");
	assert_json_str(v, "Name", "claw-acme-runtime-data");
	assert_json_str(l, "claw.uid", "2000000042");
	assert_json_str(l, "claw.node", "node-1");
	assert_json_str(l, "claw.tenant", "acme");
	assert_null(json_object_get(v, "DriverOpts"));
	json_decref(v);
	/* Bound to the tenant's disk (plan.disk_mb). */
	v = na_spec_volume("acme", NA_GATEWAY, 0, "node-1", 2000000042,
			   "/state/disks/acme/gateway");
	assert_json_str(v, "Name", "claw-acme-gateway-disk");
	json_t *o = json_object_get(v, "DriverOpts");
	assert_json_str(o, "device", "/state/disks/acme/gateway");
	assert_json_str(o, "o", "bind");
	assert_json_str(json_object_get(v, "Labels"), "claw.disk", "1");
	json_decref(v);
}

/* The rule of the built-in profile for syscall name, or NULL. */
static const json_t *rule_of(const json_t *p, const char *name)
{
	size_t i, k;
	json_t *r, *n;
	json_array_foreach(json_object_get(p, "syscalls"), i, r)
		json_array_foreach(json_object_get(r, "names"), k, n)
			if (!strcmp(json_string_value(n), name))
				return r;
	return NULL;
}

static void test_seccomp_profile(void **state)
{
	(void)state;
	char *opt, hash[NA_SECCOMP_HASH_LEN + 1], msg[256];
	assert_int_equal(na_seccomp_load(NULL, &opt, hash, msg, sizeof(msg)),
			 CLAW_OK);
	assert_int_equal(strncmp(opt, "seccomp={", 9), 0);
	assert_int_equal(strlen(hash), NA_SECCOMP_HASH_LEN);
	json_t *p = json_loads(opt + 8, 0, NULL);
	assert_non_null(p);
	/* Refused unless allowed, with EPERM. */
	assert_json_str(p, "defaultAction", "SCMP_ACT_ERRNO");
	assert_int_equal(
		json_integer_value(json_object_get(p, "defaultErrnoRet")), 1);
	/* What the gateway, the runtime and MCP servers need. */
	const char *need[] = {"read",     "write",     "openat",     "mmap",
			      "mprotect", "futex",     "epoll_wait", "accept4",
			      "connect",  "getrandom", "execve",     "mlock",
			      "rseq",     "clone",     "socket",     "wait4",
			      "pipe2",    NULL};
	for (const char **n = need; *n; n++) {
		const json_t *r = rule_of(p, *n);
		if (!r ||
		    strcmp(json_string_value(json_object_get(r, "action")),
			   "SCMP_ACT_ALLOW"))
			fail_msg("'%s' is not allowed", *n);
	}
	/* What a tenant must not have (allowed by Docker's default profile
	 * or needing no capability). */
	const char *deny[] = {"ptrace",
			      "process_vm_readv",
			      "io_uring_setup",
			      "userfaultfd",
			      "keyctl",
			      "add_key",
			      "bpf",
			      "perf_event_open",
			      "unshare",
			      "setns",
			      "mount",
			      "fsopen",
			      "kexec_load",
			      "init_module",
			      "modify_ldt",
			      "socketcall",
			      NULL};
	for (const char **n = deny; *n; n++)
		if (rule_of(p, *n))
			fail_msg("'%s' has a rule", *n);
	/* clone only without new namespaces; clone3 falls back to it. */
	const json_t *c =
		json_array_get(json_object_get(rule_of(p, "clone"), "args"), 0);
	assert_json_str(c, "op", "SCMP_CMP_MASKED_EQ");
	assert_int_equal(json_integer_value(json_object_get(c, "value")),
			 0x7E020000);
	assert_int_equal(json_integer_value(json_object_get(
				 rule_of(p, "clone3"), "errnoRet")),
			 38);
	json_decref(p);
	free(opt);
	/* A profile that lets everything through is no profile. */
	const char *allow = "{\"defaultAction\":\"SCMP_ACT_ALLOW\","
			    "\"syscalls\":[{\"names\":[\"read\"],"
			    "\"action\":\"SCMP_ACT_ALLOW\"}]}";
	assert_int_equal(na_seccomp_prepare(allow, strlen(allow), &opt, hash,
					    msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
	assert_null(opt);
	assert_int_not_equal(
		na_seccomp_prepare("{", 1, &opt, hash, msg, sizeof(msg)),
		CLAW_OK);
	assert_int_equal(na_seccomp_load("/nonexistent/profile.json", &opt,
					 hash, msg, sizeof(msg)),
			 CLAW_ERR_IO);
}

static void test_networks(void **state)
{
	(void)state;
	json_t *n = na_spec_tenant_network("acme", 0);
	assert_true(json_is_true(json_object_get(n, "Internal")));
	assert_json_str(n, "Name", "claw-t-acme");
	json_decref(n);
	n = na_spec_egress_network("claw-egress", NULL);
	assert_json_str(json_object_get(n, "Options"),
			"com.docker.network.bridge.enable_icc", "false");
	assert_null(json_object_get(n, "IPAM")); /* the engine's pool */
	json_decref(n);
	/* a subnet given: every gateway of a dense node gets an address */
	n = na_spec_egress_network("claw-egress", "10.200.0.0/21");
	json_t *cfg = json_array_get(
		json_object_get(json_object_get(n, "IPAM"), "Config"), 0);
	assert_json_str(cfg, "Subnet", "10.200.0.0/21");
	assert_json_str(cfg, "Gateway", "10.200.0.1");
	json_decref(n);
	n = na_spec_edge_network("claw-edge", "10.200.8.0/21");
	cfg = json_array_get(
		json_object_get(json_object_get(n, "IPAM"), "Config"), 0);
	assert_json_str(cfg, "Subnet", "10.200.8.0/21");
	assert_json_str(cfg, "Gateway", "10.200.8.1");
	json_decref(n);
	n = na_spec_edge_network("claw-edge", NULL);
	assert_true(json_is_true(json_object_get(n, "Internal")));
	assert_json_str(json_object_get(n, "Options"),
			"com.docker.network.bridge.enable_icc", "false");
	assert_json_str(n, "Name", "claw-edge");
	json_decref(n);
}

static void test_cidr(void **state)
{
	(void)state;
	uint32_t net = 0;
	assert_true(na_cidr_parse("10.200.0.0/21", &net));
	assert_int_equal(net, 0x0ac80000u);
	assert_true(na_cidr_parse("10.0.0.0/8", NULL));
	assert_true(na_cidr_parse("192.168.1.4/30", NULL));
	/* refused: host bits, prefixes out of 8..30, not a network */
	const char *bad[] = {"10.200.0.1/21", "10.0.0.0/7",   "10.0.0.0/31",
			     "10.0.0.0",      "10.0.0.0/",    "10.0.0.0/2x",
			     "10.0.0/16",     "::1/64",       "/16",
			     "10.0.0.0/-8",   "10.0.0.0/+16", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(na_cidr_parse(bad[i], &net));
	/* a refused subnet leaves the network to the engine's pool */
	json_t *n = na_spec_egress_network("claw-egress", "10.200.0.1/21");
	assert_null(json_object_get(n, "IPAM"));
	json_decref(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hardening),
		cmocka_unit_test(test_edge_unpublished),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_volume),
		cmocka_unit_test(test_seccomp_profile),
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_cidr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
