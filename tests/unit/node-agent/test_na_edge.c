/*
 * test_na_edge.c - the edge's Caddy config, byte for byte, for a given
 * state (local tenants with and without a healthy gateway, a tenant on
 * another node, every listener), the TLS modes (internal, ACME, files;
 * every routed host on demand, with an ask URL or without), the admin endpoint's
 * spellings and the listen ports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edge.h"
#include "edge_limit.h"

static const struct na_edge_opts base = {
	.admin_listen = "127.0.0.1:2019",
	.listen = ":443",
	.http_listen = ":80",
	.peer_listen = "10.0.0.1:8444",
	.tls = NA_EDGE_TLS_INTERNAL,
	.max_body_kb = 1024,
	.max_header_kb = 64,
	.header_timeout_ms = 10000,
	.read_timeout_ms = 60000,
	.idle_timeout_ms = 120000,
};

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

static void expect_json(const json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, 0, NULL);
	assert_non_null(want);
	char *a = dump(got), *b = dump(want);
	if (strcmp(a, b))
		fail_msg("got  %s\nwant %s", a, b);
	free(a);
	free(b);
	json_decref(want);
}

/* A route's handlers in Caddy's config: the body limit (413 when the
 * Content-Length says so, request_body for the rest), then the proxy to
 * dial; what the config writes for every routed tenant. */
/* clang-format off */
#define LIMITED_PROXY(dial) \
	"{\"handle\":[{\"handler\":\"subroute\",\"routes\":[{\"handle\":[{\"body" \
	"\":\"request body too large\\n\",\"close\":true,\"handler\":\"static_" \
	"response\",\"headers\":{\"Content-Type\":[\"text/plain; charset=ut" \
	"f-8\"]},\"status_code\":413}],\"match\":[{\"expression\":\"{http.req" \
	"uest.header.Content-Length} != '' && int({http.request.heade" \
	"r.Content-Length}) > 1048576\"}]}]},{\"handler\":\"request_body\"" \
	",\"max_size\":1048576},{\"handler\":\"reverse_proxy\",\"transport\":" \
	"{\"dial_timeout\":\"3s\",\"protocol\":\"http\"},\"upstreams\":[{\"dial\"" \
	":\"" \
	dial "\""
/* clang-format on */

/* Caddy's logging: the secrets a channel sends in a header or a query
 * parameter are removed from the log of every failed request (a webhook
 * answered 502 while its gateway restarts, found by tests/chaos). */
/* clang-format off */
#define LOGGING \
	"\"logging\":{\"logs\":{\"default\":{\"encoder\":{\"fields\":{\"req" \
	"uest>headers>X-Telegram-Bot-Api-Secret-Token\":{\"filter\":\"del" \
	"ete\"},\"request>uri\":{\"actions\":[{\"parameter\":\"hub.verify" \
	"_token\",\"type\":\"delete\"},{\"parameter\":\"access_token\",\"t" \
	"ype\":\"delete\"}],\"filter\":\"query\"}},\"format\":\"filter\"," \
	"\"wrap\":{\"format\":\"json\"}}}}}"
/* clang-format on */

/* acme (two names), beta (no healthy gateway: 503), bob (another node). */
static void test_full_config(void **state)
{
	(void)state;
	json_t *dom = json_pack("[s]", "chat.acme.com");
	struct na_edge_site s[3] = {
		{.tenant = "acme",
		 .public_host = "acme.claw.example",
		 .domains = dom,
		 .upstream = "172.30.0.2:8080"},
		{.tenant = "beta", .public_host = "beta.claw.example"},
		{.tenant = "bob",
		 .public_host = "bob.claw.example",
		 .upstream = "10.0.0.2:8444",
		 .remote = true},
	};
	json_t *c = na_edge_config(&base, s, 3);
	char *got = dump(c);
	/* clang-format off */
	const char *want =
		"{\"admin\":{\"config\":{\"persist\":false},\"listen\":\"127.0.0.1:201"
		"9\"},\"apps\":{\"http\":{\"http_port\":80,\"https_port\":443,\"servers"
		"\":{\"claw-http\":{\"idle_timeout\":\"120000ms\",\"listen\":[\":80\"],\""
		"max_header_bytes\":65536,\"protocols\":[\"h1\",\"h2\"],\"read_header"
		"_timeout\":\"10000ms\",\"read_timeout\":\"60000ms\",\"routes\":[{\"han"
		"dle\":[{\"handler\":\"headers\",\"response\":{\"delete\":[\"Server\"]}}"
		"]},{\"handle\":[{\"handler\":\"static_response\",\"headers\":{\"Locat"
		"ion\":[\"https://{http.request.host}{http.request.uri}\"]},\"sta"
		"tus_code\":308}],\"match\":[{\"host\":[\"acme.claw.example\",\"chat."
		"acme.com\",\"beta.claw.example\",\"bob.claw.example\"]}],\"termina"
		"l\":true},{\"handle\":[{\"body\":\"not found\\n\",\"handler\":\"static_"
		"response\",\"headers\":{\"Content-Type\":[\"text/plain; charset=ut"
		"f-8\"]},\"status_code\":404}]}]},\"claw-https\":{\"automatic_https"
		"\":{\"disable_redirects\":true},\"idle_timeout\":\"120000ms\",\"list"
		"en\":[\":443\"],\"max_header_bytes\":65536,\"protocols\":[\"h1\",\"h2\""
		"],\"read_header_timeout\":\"10000ms\",\"read_timeout\":\"60000ms\",\""
		"routes\":[{\"handle\":[{\"handler\":\"headers\",\"response\":{\"delete"
		"\":[\"Server\"]}}]},"
		LIMITED_PROXY("172.30.0.2:8080")
		"}]}],\"match\":[{\"host\":[\"acme.claw.example\",\"chat.acme.com\"]}"
		"],\"terminal\":true},{\"handle\":[{\"body\":\"unavailable\\n\",\"handl"
		"er\":\"static_response\",\"headers\":{\"Content-Type\":[\"text/plain"
		"; charset=utf-8\"],\"Retry-After\":[\"1\"]},\"status_code\":503}],\""
		"match\":[{\"host\":[\"beta.claw.example\"]}],\"terminal\":true},"
		LIMITED_PROXY("10.0.0.2:8444")
		"}]}],\"match\":[{\"host\":[\"bob.claw.example\"]}],\"terminal\":true"
		"},{\"handle\":[{\"body\":\"not found\\n\",\"handler\":\"static_respons"
		"e\",\"headers\":{\"Content-Type\":[\"text/plain; charset=utf-8\"]},"
		"\"status_code\":404}]}],\"tls_connection_policies\":[{}]},\"claw-"
		"peer\":{\"automatic_https\":{\"disable\":true},\"idle_timeout\":\"12"
		"0000ms\",\"listen\":[\"10.0.0.1:8444\"],\"max_header_bytes\":65536,"
		"\"protocols\":[\"h1\",\"h2\"],\"read_header_timeout\":\"10000ms\",\"rea"
		"d_timeout\":\"60000ms\",\"routes\":[{\"handle\":[{\"handler\":\"header"
		"s\",\"response\":{\"delete\":[\"Server\"]}}]},"
		LIMITED_PROXY("172.30.0.2:8080")
		"}]}],\"match\":[{\"host\":[\"acme.claw.example\",\"chat.acme.com\"]}"
		"],\"terminal\":true},{\"handle\":[{\"body\":\"unavailable\\n\",\"handl"
		"er\":\"static_response\",\"headers\":{\"Content-Type\":[\"text/plain"
		"; charset=utf-8\"],\"Retry-After\":[\"1\"]},\"status_code\":503}],\""
		"match\":[{\"host\":[\"beta.claw.example\"]}],\"terminal\":true},{\"h"
		"andle\":[{\"body\":\"not found\\n\",\"handler\":\"static_response\",\"h"
		"eaders\":{\"Content-Type\":[\"text/plain; charset=utf-8\"]},\"stat"
		"us_code\":404}]}]}}},\"pki\":{\"certificate_authorities\":{\"local"
		"\":{\"install_trust\":false}}},\"tls\":{\"automation\":{\"policies\":"
		"[{\"issuers\":[{\"module\":\"internal\"}],\"on_demand\":true,\"subjec"
		"ts\":[\"acme.claw.example\",\"chat.acme.com\",\"beta.claw.example\""
		",\"bob.claw.example\"]},{\"issuers\":[{\"module\":\"internal\"}]}]}}"
		"}," LOGGING "}";
	/* clang-format on */
	if (strcmp(got, want))
		fail_msg("got  %s\nwant %s", got, want);
	free(got);
	json_decref(c);
	json_decref(dom);
}

static const json_t *policies(const json_t *c)
{
	return json_object_get(
		json_object_get(
			json_object_get(json_object_get(c, "apps"), "tls"),
			"automation"),
		"policies");
}

static void test_tls_modes(void **state)
{
	(void)state;
	json_t *dom = json_pack("[s, s]", "chat.acme.com", "x.acme.com");
	struct na_edge_site s = {.tenant = "acme",
				 .public_host = "acme.claw.example",
				 .domains = dom,
				 .upstream = "172.30.0.2:8080"};
	struct na_edge_opts o = base;

	o.tls = NA_EDGE_TLS_ACME;
	o.acme_ca = "https://127.0.0.1:14000/dir";
	o.acme_ca_root = "/etc/claw/pebble.pem";
	o.acme_email = "ops@example.com";
	json_t *c = na_edge_config(&o, &s, 1);
	expect_json(
		policies(c),
		"[{\"subjects\":[\"acme.claw.example\",\"chat.acme.com\","
		"\"x.acme.com\"],\"on_demand\":true,\"issuers\":[{\"module\":"
		"\"acme\",\"ca\":"
		"\"https://127.0.0.1:14000/dir\",\"trusted_roots_pem_files\":"
		"[\"/etc/claw/pebble.pem\"],\"email\":\"ops@example.com\"}]},"
		"{\"issuers\":[{\"module\":\"acme\",\"ca\":"
		"\"https://127.0.0.1:14000/dir\",\"trusted_roots_pem_files\":"
		"[\"/etc/claw/pebble.pem\"],\"email\":\"ops@example.com\"}]}]");
	json_decref(c);

	/* ACME without a CA: Caddy's default one. */
	o.acme_ca = o.acme_ca_root = o.acme_email = NULL;
	c = na_edge_config(&o, &s, 1);
	expect_json(json_array_get(policies(c), 1),
		    "{\"issuers\":[{\"module\":\"acme\"}]}");
	json_decref(c);

	/* Files: the operator's pair, tagged; the rest from the local CA. */
	o = base;
	o.tls = NA_EDGE_TLS_FILES;
	o.cert_file = "/etc/claw/wild.pem";
	o.key_file = "/etc/claw/wild.key";
	c = na_edge_config(&o, &s, 1);
	expect_json(
		json_object_get(
			json_object_get(json_object_get(c, "apps"), "tls"),
			"certificates"),
		"{\"load_files\":[{\"certificate\":\"/etc/claw/wild.pem\","
		"\"key\":\"/etc/claw/wild.key\",\"tags\":[\"claw-edge\"]}]}");
	expect_json(json_array_get(policies(c), 1),
		    "{\"issuers\":[{\"module\":\"internal\"}]}");
	json_decref(c);

	/* Files with an ACME CA: custom domains and the rest from it. */
	o.acme_ca = "https://acme.example/dir";
	c = na_edge_config(&o, &s, 1);
	expect_json(json_array_get(policies(c), 1),
		    "{\"issuers\":[{\"module\":\"acme\",\"ca\":"
		    "\"https://acme.example/dir\"}]}");
	json_decref(c);

	/* An ask URL: asked before any host's first certificate. */
	o = base;
	o.ask = "http://127.0.0.1:7070/v1/edge/ask";
	c = na_edge_config(&o, &s, 1);
	expect_json(json_object_get(
			    json_object_get(json_object_get(c, "apps"), "tls"),
			    "automation"),
		    "{\"policies\":[{\"subjects\":[\"acme.claw.example\","
		    "\"chat.acme.com\",\"x.acme.com\"],\"on_demand\":true,"
		    "\"issuers\":[{\"module\":\"internal\"}]},{\"issuers\":"
		    "[{\"module\":\"internal\"}]}],\"on_demand\":{\"ask\":"
		    "\"http://127.0.0.1:7070/v1/edge/ask\"}}");
	json_decref(c);
	json_decref(dom);
}

/* No sites, no HTTP or peer listener, a non-default port: one server,
 * no redirects, no subject policy. */
static void test_minimal(void **state)
{
	(void)state;
	struct na_edge_opts o = base;
	o.http_listen = o.peer_listen = NULL;
	o.listen = "127.0.0.1:8443";
	o.admin_listen = "unix//run/caddy/admin.sock";
	json_t *c = na_edge_config(&o, NULL, 0);
	json_t *http = json_object_get(json_object_get(c, "apps"), "http");
	assert_int_equal(json_object_size(json_object_get(http, "servers")), 1);
	assert_null(json_object_get(http, "http_port"));
	assert_int_equal(
		json_integer_value(json_object_get(http, "https_port")), 8443);
	expect_json(policies(c), "[{\"issuers\":[{\"module\":\"internal\"}]}]");
	expect_json(json_object_get(c, "admin"),
		    "{\"listen\":\"unix//run/caddy/admin.sock\",\"config\":"
		    "{\"persist\":false}}");
	assert_int_equal(
		json_array_size(json_object_get(
			json_object_get(json_object_get(http, "servers"),
					"claw-https"),
			"routes")),
		2); /* the header route and the 404 */
	json_decref(c);
}

/* A redirect names the https port when it is not 443. */
static void test_redirect_port(void **state)
{
	(void)state;
	struct na_edge_opts o = base;
	struct na_edge_site s = {.public_host = "a.claw.test",
				 .upstream = "127.0.0.1:1"};
	o.listen = "127.0.0.1:8443";
	o.http_listen = "127.0.0.1:8080";
	json_t *c = na_edge_config(&o, &s, 1);
	json_t *r = json_array_get(
		json_object_get(
			json_object_get(
				json_object_get(
					json_object_get(
						json_object_get(c, "apps"),
						"http"),
					"servers"),
				"claw-http"),
			"routes"),
		1);
	expect_json(
		json_object_get(json_array_get(json_object_get(r, "handle"), 0),
				"headers"),
		"{\"Location\":[\"https://{http.request.host}:8443"
		"{http.request.uri}\"]}");
	json_decref(c);
}

static void test_admin_parse(void **state)
{
	(void)state;
	char base_url[320], sock[128], listen[160];
	assert_int_equal(na_edge_admin_parse("http://127.0.0.1:2019", base_url,
					     sizeof(base_url), sock,
					     sizeof(sock), listen,
					     sizeof(listen)),
			 CLAW_OK);
	assert_string_equal(base_url, "http://127.0.0.1:2019");
	assert_string_equal(sock, "");
	assert_string_equal(listen, "127.0.0.1:2019");
	assert_int_equal(na_edge_admin_parse("http://localhost:2019/", base_url,
					     sizeof(base_url), sock,
					     sizeof(sock), listen,
					     sizeof(listen)),
			 CLAW_OK);
	assert_string_equal(listen, "localhost:2019");
	assert_int_equal(na_edge_admin_parse("unix:/run/caddy/a.sock", base_url,
					     sizeof(base_url), sock,
					     sizeof(sock), listen,
					     sizeof(listen)),
			 CLAW_OK);
	assert_string_equal(sock, "/run/caddy/a.sock");
	assert_string_equal(listen, "unix//run/caddy/a.sock");
	assert_string_equal(base_url, "http://localhost");
	assert_int_equal(na_edge_admin_parse("unix:///run/caddy/a.sock",
					     base_url, sizeof(base_url), sock,
					     sizeof(sock), listen,
					     sizeof(listen)),
			 CLAW_OK);
	assert_string_equal(sock, "/run/caddy/a.sock");
	const char *bad[] = {"https://127.0.0.1:2019",
			     "http://127.0.0.1",
			     "http://127.0.0.1:2019/x",
			     "unix:relative",
			     "ftp://x:1",
			     "127.0.0.1:2019",
			     "unix:/",
			     NULL};
	for (const char **b = bad; *b; b++)
		if (na_edge_admin_parse(*b, base_url, sizeof(base_url), sock,
					sizeof(sock), listen,
					sizeof(listen)) == CLAW_OK)
			fail_msg("'%s' accepted", *b);
}

static void test_port(void **state)
{
	(void)state;
	assert_int_equal(na_edge_port(":443"), 443);
	assert_int_equal(na_edge_port("127.0.0.1:8443"), 8443);
	assert_int_equal(na_edge_port("[::1]:80"), 80);
	assert_int_equal(na_edge_port("127.0.0.1"), 0);
	assert_int_equal(na_edge_port(":0"), 0);
	assert_int_equal(na_edge_port(":65536"), 0);
	assert_int_equal(na_edge_port(":80x"), 0);
	assert_int_equal(na_edge_port(NULL), 0);
}

/* The connection limit's ruleset: its own table named by the HTTPS
 * port, replaced whole, both families, the public ports only. */
static void test_limit_rules(void **state)
{
	(void)state;
	unsigned ports[] = {8443, 8080};
	char out[2048], tiny[64];

	assert_true(na_edge_limit_rules(ports, 2, 64, out, sizeof(out)));
	assert_string_equal(
		out,
		"table inet claw_edge_8443\n"
		"delete table inet claw_edge_8443\n"
		"table inet claw_edge_8443 {\n"
		"\tset addrs4 { type ipv4_addr; size 65535; flags dynamic; }\n"
		"\tset addrs6 { type ipv6_addr; size 65535; flags dynamic; }\n"
		"\tchain input {\n"
		"\t\ttype filter hook input priority filter; policy accept;\n"
		"\t\ttcp dport { 8443, 8080 } ct state new add @addrs4 { ip "
		"saddr ct count over 64 } counter reject with tcp reset\n"
		"\t\ttcp dport { 8443, 8080 } ct state new add @addrs6 { ip6 "
		"saddr ct count over 64 } counter reject with tcp reset\n"
		"\t}\n"
		"}\n");
	assert_true(na_edge_limit_rules(ports, 1, 5, out, sizeof(out)));
	assert_non_null(strstr(out, "tcp dport { 8443 } ct state new"));
	assert_false(na_edge_limit_rules(ports, 2, 64, tiny, sizeof(tiny)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_tls_modes),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_redirect_port),
		cmocka_unit_test(test_admin_parse),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_limit_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
