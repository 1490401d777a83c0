/*
 * test_na_toolsrv.c - a tenant's tool servers (toolsrv.h): the container
 * body is hardened as the gateway's and runtime's (read-only root, no
 * capabilities, no-new-privileges, seccomp, the tenant's uid, limits, a
 * sized tmpfs), runs the bridge bound read-only with the server's argv
 * after "--", reaches out only through the gateway's proxy, and holds no
 * secret value or token; bad declarations are refused with a message that
 * names the server and never quotes a secret; prepare lays each server
 * into the runtime's mcp_servers (http, its token as a secret sent as the
 * Authorization header) and its egress into the gateway's egress_allow;
 * the token is per deployment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "claw/json.h"
#include "toolsrv.h"
#include "../testutil.h"

#define TENANT_HEAD                                                            \
	"{\"tenants\":[{\"tenant\":\"acme\",\"deployment\":\"d-1\","           \
	"\"generation\":4,\"plan\":{\"cpus\":0.5,\"memory_mb\":256,"           \
	"\"pids\":99},\"gateway\":{\"image\":\"127.0.0.1:5000/gw:1\"},"        \
	"\"runtime\":{\"image\":\"127.0.0.1:5000/rt:1\",\"config\":{"          \
	"\"mcp_servers\":[{\"name\":\"remote\",\"url\":\"http://x/mcp\"}]}},"  \
	"\"tool_servers\":"

static const char *good = TENANT_HEAD
	"[{\"name\":\"everything\",\"image\":\"127.0.0.1:5000/claw/"
	"toolserver-node:1\",\"command\":[\"node\",\"/opt/mcp/e.js\","
	"\"stdio\"],\"env\":{\"MODE\":\"x\"},\"secrets\":{\"API_KEY\":"
	"\"very-secret-value\"},\"egress\":[\"api.example.com:443\"],"
	"\"limits\":{\"cpus\":0.25,\"memory_mb\":64,\"pids\":32},"
	"\"scratch_mb\":8,\"timeout_ms\":5000}]}]}";

static const unsigned char key[32] = {1, 2, 3};

static json_t *spec_of(struct na_desired *d)
{
	char msg[256];
	assert_int_equal(
		na_desired_parse(d, good, strlen(good), msg, sizeof(msg)),
		CLAW_OK);
	const json_t *servers = na_toolsrv_of(d, "acme");
	assert_int_equal(json_array_size(servers), 1);
	struct na_toolsrv_paths p = {
		"/usr/libexec/claw/claw-mcp-bridge",
		"/run/sec/acme/tool-everything",
		"node-1",
		2000000042,
		"seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\"}",
		"0123456789abcdef",
		"hash",
		0};
	json_t *b =
		na_toolsrv_spec(&d->tenants[0], json_array_get(servers, 0),
				"127.0.0.1:5000/claw/toolserver-node@sha256:"
				"00",
				&p);
	assert_non_null(b);
	return b;
}

static bool has_str(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		if (!strcmp(json_string_value(v), s))
			return true;
	return false;
}

static void test_hardened(void **state)
{
	(void)state;
	struct na_desired d;
	json_t *b = spec_of(&d);
	json_t *h = json_object_get(b, "HostConfig");
	assert_true(json_is_true(json_object_get(h, "ReadonlyRootfs")));
	assert_true(has_str(json_object_get(h, "CapDrop"), "ALL"));
	assert_true(has_str(json_object_get(h, "SecurityOpt"),
			    "no-new-privileges:true"));
	assert_true(has_str(json_object_get(h, "SecurityOpt"),
			    "seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\"}"));
	assert_json_str(b, "User", "2000000042:2000000042");
	assert_int_equal(json_integer_value(json_object_get(h, "PidsLimit")),
			 32);
	assert_int_equal(json_integer_value(json_object_get(h, "Memory")),
			 64 << 20);
	assert_int_equal(json_integer_value(json_object_get(h, "MemorySwap")),
			 64 << 20);
	assert_int_equal(json_integer_value(json_object_get(h, "NanoCpus")),
			 250000000);
	assert_json_str(json_object_get(h, "Tmpfs"), "/tmp",
			"rw,noexec,nosuid,nodev,size=8m");
	assert_json_str(json_object_get(h, "RestartPolicy"), "Name", "no");
	assert_json_str(h, "NetworkMode", "claw-t-acme");
	assert_null(json_object_get(h, "PortBindings"));
	assert_true(has_str(json_object_get(h, "Binds"),
			    "/usr/libexec/claw/claw-mcp-bridge:/claw/"
			    "mcp-bridge:ro"));
	assert_true(has_str(json_object_get(h, "Binds"),
			    "/run/sec/acme/tool-everything:/run/claw/"
			    "secrets:ro"));
	/* The bridge is the entrypoint; the server's argv follows "--". */
	assert_true(
		has_str(json_object_get(b, "Entrypoint"), "/claw/mcp-bridge"));
	json_t *cmd = json_object_get(b, "Cmd");
	assert_string_equal(json_string_value(json_array_get(cmd, 3)),
			    "/run/claw/secrets/claw-mcp-token");
	assert_string_equal(json_string_value(json_array_get(cmd, 4)), "--");
	assert_string_equal(json_string_value(json_array_get(cmd, 5)), "node");
	assert_string_equal(json_string_value(json_array_get(cmd, 7)), "stdio");
	/* Out only through the gateway's proxy; its own env, no secret. */
	json_t *env = json_object_get(b, "Env");
	assert_true(has_str(env, "HTTP_PROXY=http://gateway:3128"));
	assert_true(has_str(env, "HTTPS_PROXY=http://gateway:3128"));
	assert_true(has_str(env, "MODE=x"));
	json_t *labels = json_object_get(b, "Labels");
	assert_json_str(labels, "claw.role", "tool");
	assert_json_str(labels, "claw.tool", "everything");
	assert_json_str(labels, "claw.tenant", "acme");
	assert_json_str(labels, "claw.uid", "2000000042");
	assert_true(has_str(
		json_object_get(
			json_object_get(
				json_object_get(
					json_object_get(b, "NetworkingConfig"),
					"EndpointsConfig"),
				"claw-t-acme"),
			"Aliases"),
		"tool-everything"));
	char *all = json_dumps(b, 0);
	assert_lacks(all, "very-secret-value");
	assert_lacks(all, "Bearer");
	assert_contains(all, "\"tool-everything\"");
	free(all);
	json_decref(b);
	na_desired_release(&d);
}

static void test_prepare(void **state)
{
	(void)state;
	struct na_desired d;
	char tok[65], tok2[65];
	json_decref(spec_of(&d));
	assert_int_equal(na_toolsrv_prepare(&d, key), CLAW_OK);
	const struct na_tenant_spec *t = &d.tenants[0];
	json_t *mcp =
		json_object_get(t->role[NA_RUNTIME].config, "mcp_servers");
	assert_int_equal(json_array_size(mcp), 2);
	json_t *m = json_array_get(mcp, 1);
	assert_json_str(m, "name", "everything");
	assert_json_str(m, "url", "http://tool-everything:8080/mcp");
	assert_json_str(json_object_get(m, "header_secrets"), "Authorization",
			"mcp_token_everything");
	assert_int_equal(json_integer_value(json_object_get(m, "timeout_ms")),
			 5000);
	na_toolsrv_token(key, t, "everything", tok);
	const char *bearer = json_string_value(json_object_get(
		t->role[NA_RUNTIME].secrets, "mcp_token_everything"));
	assert_non_null(bearer);
	assert_string_equal(bearer + 7, tok);
	assert_true(has_str(
		json_object_get(t->role[NA_GATEWAY].config, "egress_allow"),
		"api.example.com:443"));
	/* the proxy's way to it by name (its address joins once it runs) */
	assert_true(has_str(
		json_object_get(t->role[NA_GATEWAY].config, "egress_allow"),
		"tool-everything:8080"));
	/* Per deployment: another generation, another token. */
	struct na_tenant_spec other = *t;
	other.generation = 5;
	na_toolsrv_token(key, &other, "everything", tok2);
	assert_string_not_equal(tok, tok2);
	na_toolsrv_token(key, t, "other", tok2);
	assert_string_not_equal(tok, tok2);
	na_desired_release(&d);
}

static void refused(const char *servers, const char *want)
{
	char doc[2048], msg[512] = "";
	struct na_desired d;
	snprintf(doc, sizeof(doc), "%s%s}]}", TENANT_HEAD, servers);
	assert_int_equal(
		na_desired_parse(&d, doc, strlen(doc), msg, sizeof(msg)),
		CLAW_ERR_INVALID);
	assert_contains(msg, want);
	assert_lacks(msg, "very-secret-value");
	na_desired_release(&d);
}

#define IMG "\"image\":\"127.0.0.1:5000/claw/toolserver-node:1\""
#define CMD "\"command\":[\"node\"]"

static void test_refused(void **state)
{
	(void)state;
	refused("[{\"name\":\"a\",\"image\":\"docker.io/evil/x:1\"," CMD "}]",
		"outside the fleet's image policy");
	refused("[{\"name\":\"a\",\"image\":\"evil/x:1\"," CMD "}]",
		"outside the fleet's image policy");
	refused("[{\"name\":\"a\"," IMG "}]", "'command' must be");
	refused("[{\"name\":\"a\"," IMG "," CMD ",\"port\":1}]",
		"unknown field 'tool_servers[0].port'");
	refused("[{\"name\":\"a__b\"," IMG "," CMD "}]",
		"tool_servers[0].name");
	refused("[{\"name\":\"remote\"," IMG "," CMD "}]",
		"already has an MCP server of that name");
	refused("[{\"name\":\"a\"," IMG "," CMD "},{\"name\":\"a\"," IMG "," CMD
		"}]",
		"declared twice");
	refused("[{\"name\":\"a\"," IMG "," CMD
		",\"limits\":{\"memory_mb\":4096}}]",
		"within the tenant's plan");
	refused("[{\"name\":\"a\"," IMG "," CMD ",\"limits\":{\"pids\":1000}}]",
		"within the tenant's plan");
	refused("[{\"name\":\"a\"," IMG "," CMD ",\"scratch_mb\":0}]",
		"'scratch_mb'");
	/* each within the plan, together not: counted together */
	refused("[{\"name\":\"a\"," IMG "," CMD
		",\"limits\":{\"memory_mb\":200}},{\"name\":\"b\"," IMG "," CMD
		",\"limits\":{\"memory_mb\":200}}]",
		"the tool servers' limits together");
	refused("[{\"name\":\"a\"," IMG "," CMD
		",\"secrets\":{\"1BAD\":\"very-secret-value\"}}]",
		"'secrets' must map");
	refused("[{\"name\":\"a\"," IMG "," CMD ",\"env\":{\"A\":\"x\\ny\"}}]",
		"'env' must map");
	refused("{}", "'tool_servers' must be an array");
	/* The runtime's own secret of the token's name; a config that is
	 * not an array where the servers go. */
	char doc[1024], msg[512];
	struct na_desired d;
	const char *tail =
		",\"tool_servers\":[{\"name\":\"a\"," IMG "," CMD "}]}]}";
	snprintf(doc, sizeof(doc), "%s%s",
		 "{\"tenants\":[{\"tenant\":\"acme\",\"deployment\":"
		 "\"d\",\"generation\":1,\"gateway\":{\"image\":"
		 "\"127.0.0.1:5000/gw:1\",\"config\":{\"egress_allow\":"
		 "{}}},\"runtime\":{\"image\":\"127.0.0.1:5000/rt:1\","
		 "\"secrets\":{\"x\":\"y\"}}",
		 tail);
	assert_int_equal(
		na_desired_parse(&d, doc, strlen(doc), msg, sizeof(msg)),
		CLAW_ERR_INVALID);
	assert_contains(msg, "must be arrays");
	na_desired_release(&d);
	snprintf(doc, sizeof(doc), "%s%s",
		 "{\"tenants\":[{\"tenant\":\"acme\",\"deployment\":"
		 "\"d\",\"generation\":1,\"gateway\":{\"image\":"
		 "\"127.0.0.1:5000/gw:1\"},\"runtime\":{\"image\":"
		 "\"127.0.0.1:5000/rt:1\",\"secrets\":{\"mcp_token_a\":"
		 "\"very-secret-value\"}}",
		 tail);
	assert_int_equal(
		na_desired_parse(&d, doc, strlen(doc), msg, sizeof(msg)),
		CLAW_ERR_INVALID);
	assert_contains(msg, "the runtime's secret 'mcp_token_a'");
	assert_lacks(msg, "very-secret-value");
	na_desired_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hardened),
		cmocka_unit_test(test_prepare),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
