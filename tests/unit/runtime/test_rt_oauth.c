/*
 * test_rt_oauth.c - the OAuth 2.1 client's pure pieces (runtime/oauth.c):
 * PKCE S256 against RFC 7636 appendix B, acceptable URLs (https, or http
 * to loopback only when allowed), the 401 challenge's parameters, the
 * well-known discovery URLs, and the checked parsers: protected resource
 * metadata (resource mismatch refused), authorization server metadata
 * (issuer mismatch, http endpoints, no S256 refused) and token responses
 * (oversized, not Bearer, bad expires_in refused). Every refusal leaves
 * the output empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "config.h"
#include "oauth.h"
#include "rt_test.h"

static void test_pkce(void **state)
{
	(void)state;
	char ch[CLAW_OAUTH_PKCE_LEN + 1];
	/* RFC 7636 appendix B */
	claw_oauth_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
				  ch);
	assert_string_equal(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	char v1[CLAW_OAUTH_PKCE_LEN + 1], c1[CLAW_OAUTH_PKCE_LEN + 1];
	char v2[CLAW_OAUTH_PKCE_LEN + 1], c2[CLAW_OAUTH_PKCE_LEN + 1];
	claw_oauth_pkce_new(v1, c1);
	claw_oauth_pkce_new(v2, c2);
	assert_int_equal(strlen(v1), CLAW_OAUTH_PKCE_LEN);
	assert_int_equal(strlen(c1), CLAW_OAUTH_PKCE_LEN);
	assert_string_not_equal(v1, v2);
	claw_oauth_pkce_challenge(v1, ch);
	assert_string_equal(ch, c1);
}

static void test_urls(void **state)
{
	(void)state;
	assert_true(
		claw_oauth_url_allowed("https://as.example/authorize", false));
	assert_false(
		claw_oauth_url_allowed("http://as.example/authorize", false));
	assert_false(
		claw_oauth_url_allowed("http://as.example/authorize", true));
	assert_false(claw_oauth_url_allowed("http://127.0.0.1:9/x", false));
	assert_true(claw_oauth_url_allowed("http://127.0.0.1:9/x", true));
	assert_true(claw_oauth_url_allowed("http://localhost:9", true));
	assert_true(claw_oauth_url_allowed("http://[::1]:9/", true));
	assert_false(claw_oauth_url_allowed("http://localhost.evil:9/", true));
	assert_false(claw_oauth_url_allowed("http://127.0.0.1.evil/", true));
	assert_false(claw_oauth_url_allowed("http://u@127.0.0.1/", true));
	assert_false(claw_oauth_url_allowed("https://a.example/#frag", false));
	assert_false(claw_oauth_url_allowed("https:///x", false));
	assert_false(claw_oauth_url_allowed("ftp://a.example/", false));
	assert_false(claw_oauth_url_allowed("https://a b/", false));
	assert_false(claw_oauth_url_allowed(NULL, true));

	char u[2][2048], e[2][2048];
	int n;
	assert_int_equal(claw_oauth_prm_urls("http://h:1/mcp?x=1", u, e, &n),
			 CLAW_OK);
	assert_int_equal(n, 2);
	assert_string_equal(
		u[0], "http://h:1/.well-known/oauth-protected-resource/mcp");
	assert_string_equal(e[0], "http://h:1/mcp");
	assert_string_equal(u[1],
			    "http://h:1/.well-known/oauth-protected-resource");
	assert_string_equal(e[1], "http://h:1");
	assert_int_equal(claw_oauth_prm_urls("https://h/", u, e, &n), CLAW_OK);
	assert_int_equal(n, 1);
	assert_int_equal(claw_oauth_prm_urls("nope", u, e, &n),
			 CLAW_ERR_INVALID);

	char a[3][2048];
	assert_int_equal(claw_oauth_as_urls("https://as/tenant1/", a, &n),
			 CLAW_OK);
	assert_int_equal(n, 3);
	assert_string_equal(
		a[0],
		"https://as/.well-known/oauth-authorization-server/tenant1");
	assert_string_equal(
		a[1], "https://as/.well-known/openid-configuration/tenant1");
	assert_string_equal(
		a[2], "https://as/tenant1/.well-known/openid-configuration");
	assert_int_equal(claw_oauth_as_urls("https://as", a, &n), CLAW_OK);
	assert_int_equal(n, 2);
	assert_string_equal(
		a[0], "https://as/.well-known/oauth-authorization-server");
	assert_string_equal(a[1],
			    "https://as/.well-known/openid-configuration");
}

static void test_challenge(void **state)
{
	(void)state;
	char v[256];
	const char *h = "Bearer error=\"insufficient_scope\", scope=\"a b\", "
			"resource_metadata=\"http://h/.well-known/x\"";
	assert_true(claw_oauth_challenge_param(h, "scope", v, sizeof(v)));
	assert_string_equal(v, "a b");
	assert_true(claw_oauth_challenge_param(h, "resource_metadata", v,
					       sizeof(v)));
	assert_string_equal(v, "http://h/.well-known/x");
	assert_true(claw_oauth_challenge_param("bearer realm=x, scope=q",
					       "scope", v, sizeof(v)));
	assert_string_equal(v, "q");
	assert_false(claw_oauth_challenge_param(h, "realm", v, sizeof(v)));
	assert_false(claw_oauth_challenge_param("Basic scope=\"a\"", "scope", v,
						sizeof(v)));
	assert_false(claw_oauth_challenge_param("Bearer scope=\"open", "scope",
						v, sizeof(v)));
	/* too long for out: refused, not truncated */
	assert_false(claw_oauth_challenge_param(h, "resource_metadata", v, 8));
}

static void test_prm(void **state)
{
	(void)state;
	struct claw_oauth_prm p;
	char err[256];
	const char *ok = "{\"resource\":\"http://127.0.0.1:5/mcp\","
			 "\"authorization_servers\":[\"http://127.0.0.1:6\"],"
			 "\"scopes_supported\":[\"read\",\"write\"]}";
	assert_int_equal(
		claw_oauth_parse_prm(ok, strlen(ok),
				     &(struct claw_oauth_want){
					     "http://127.0.0.1:5/mcp", true},
				     &p, err, sizeof(err)),
		CLAW_OK);
	assert_string_equal(p.auth_server, "http://127.0.0.1:6");
	assert_string_equal(p.scopes, "read write");
	claw_oauth_prm_release(&p);
	/* resource mismatch: refused, nothing kept */
	assert_int_equal(
		claw_oauth_parse_prm(ok, strlen(ok),
				     &(struct claw_oauth_want){
					     "http://127.0.0.1:5/other", true},
				     &p, err, sizeof(err)),
		CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "does not match"));
	assert_null(p.resource);
	assert_null(p.auth_server);
	/* http authorization server outside the test setting */
	assert_int_equal(
		claw_oauth_parse_prm(ok, strlen(ok),
				     &(struct claw_oauth_want){
					     "http://127.0.0.1:5/mcp", false},
				     &p, err, sizeof(err)),
		CLAW_ERR_INVALID);
	assert_null(p.auth_server);
	const char *noas = "{\"resource\":\"https://r\"}";
	assert_int_equal(claw_oauth_parse_prm(
				 noas, strlen(noas),
				 &(struct claw_oauth_want){"https://r", false},
				 &p, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	assert_int_equal(claw_oauth_parse_prm(
				 "[1]", 3,
				 &(struct claw_oauth_want){"https://r", false},
				 &p, err, sizeof(err)),
			 CLAW_ERR_PARSE);
	const char *dup = "{\"resource\":\"https://r\",\"resource\":\"x\"}";
	assert_int_equal(claw_oauth_parse_prm(
				 dup, strlen(dup),
				 &(struct claw_oauth_want){"https://r", false},
				 &p, err, sizeof(err)),
			 CLAW_ERR_PARSE);
}

static void test_asm(void **state)
{
	(void)state;
	struct claw_oauth_asm a;
	char err[256];
	const char *ok =
		"{\"issuer\":\"https://as.example\","
		"\"authorization_endpoint\":\"https://as.example/authorize\","
		"\"token_endpoint\":\"https://as.example/token\","
		"\"registration_endpoint\":\"https://as.example/register\","
		"\"code_challenge_methods_supported\":[\"S256\"],"
		"\"token_endpoint_auth_methods_supported\":[\"none\","
		"\"client_secret_post\"]}";
	assert_int_equal(
		claw_oauth_parse_asm(
			ok, strlen(ok),
			&(struct claw_oauth_want){"https://as.example/", false},
			&a, err, sizeof(err)),
		CLAW_OK);
	assert_string_equal(a.token_endpoint, "https://as.example/token");
	assert_int_equal(a.auth_methods,
			 CLAW_OAUTH_AUTH_NONE | CLAW_OAUTH_AUTH_POST);
	claw_oauth_asm_release(&a);
	/* issuer mismatch */
	assert_int_equal(
		claw_oauth_parse_asm(ok, strlen(ok),
				     &(struct claw_oauth_want){
					     "https://evil.example", false},
				     &a, err, sizeof(err)),
		CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "issuer"));
	assert_null(a.issuer);
	/* http authorization endpoint */
	const char *http =
		"{\"issuer\":\"https://as.example\","
		"\"authorization_endpoint\":\"http://as.example/authorize\","
		"\"token_endpoint\":\"https://as.example/token\"}";
	assert_int_equal(
		claw_oauth_parse_asm(
			http, strlen(http),
			&(struct claw_oauth_want){"https://as.example", true},
			&a, err, sizeof(err)),
		CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "https"));
	assert_null(a.authorization_endpoint);
	/* no S256 */
	const char *plain =
		"{\"issuer\":\"https://as.example\","
		"\"authorization_endpoint\":\"https://as.example/authorize\","
		"\"token_endpoint\":\"https://as.example/token\","
		"\"code_challenge_methods_supported\":[\"plain\"]}";
	assert_int_equal(
		claw_oauth_parse_asm(
			plain, strlen(plain),
			&(struct claw_oauth_want){"https://as.example", false},
			&a, err, sizeof(err)),
		CLAW_ERR_INVALID);
	/* no auth methods listed: client_secret_basic (RFC 8414) */
	const char *min =
		"{\"issuer\":\"https://as.example\","
		"\"authorization_endpoint\":\"https://as.example/authorize\","
		"\"token_endpoint\":\"https://as.example/token\"}";
	assert_int_equal(
		claw_oauth_parse_asm(
			min, strlen(min),
			&(struct claw_oauth_want){"https://as.example", false},
			&a, err, sizeof(err)),
		CLAW_OK);
	assert_int_equal(a.auth_methods, CLAW_OAUTH_AUTH_BASIC);
	assert_null(a.registration_endpoint);
	claw_oauth_asm_release(&a);
}

/* claw_oauth_parse_token of the C string s into t. */
#define PARSE_TOKEN(s)                                                         \
	claw_oauth_parse_token((s), strlen(s), &t, err, sizeof(err))

static void test_token(void **state)
{
	(void)state;
	struct claw_oauth_token t;
	char err[256];
	const char *ok = "{\"access_token\":\"at-secret\",\"token_type\":"
			 "\"bearer\",\"expires_in\":3600,\"refresh_token\":"
			 "\"rt-secret\",\"scope\":\"a b\"}";
	assert_int_equal(PARSE_TOKEN(ok), CLAW_OK);
	assert_string_equal(t.access_token, "at-secret");
	assert_string_equal(t.refresh_token, "rt-secret");
	assert_int_equal(t.expires_in, 3600);
	claw_oauth_token_release(&t);

	const char *bad[] = {
		"{\"access_token\":\"at-secret\",\"token_type\":\"mac\"}",
		"{\"access_token\":\"at-secret\"}",
		"{\"token_type\":\"Bearer\"}",
		"{\"access_token\":\"at-secret\",\"token_type\":\"Bearer\","
		"\"expires_in\":-5}",
		"{\"access_token\":\"at-secret\",\"token_type\":\"Bearer\","
		"\"expires_in\":\"3600\"}",
		"{\"access_token\":\"at-secret\",\"token_type\":\"Bearer\","
		"\"expires_in\":99999999999}",
		"{\"access_token\":\"at\\nsecret\",\"token_type\":\"Bearer\"}",
		"{\"access_token\":\"at-secret\",\"token_type\":\"Bearer\","
		"\"refresh_token\":7}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE_TOKEN(bad[i]), CLAW_ERR_INVALID);
		assert_null(t.access_token);
		assert_null(strstr(err, "secret")); /* no token in errors */
	}
	/* oversized: refused before parsing */
	size_t n = CLAW_OAUTH_MAX_TOKEN_RESP + 1;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, ok, strlen(ok));
	big[n] = '\0';
	assert_int_equal(claw_oauth_parse_token(big, n, &t, err, sizeof(err)),
			 CLAW_ERR_TOO_LARGE);
	assert_null(t.access_token);
	free(big);
	/* a token over CLAW_OAUTH_MAX_TOKEN */
	char *lt = malloc(CLAW_OAUTH_MAX_TOKEN + 100);
	assert_non_null(lt);
	int o = snprintf(lt, 64,
			 "{\"token_type\":\"Bearer\",\"access_token\":\"");
	memset(lt + o, 'a', CLAW_OAUTH_MAX_TOKEN + 1);
	snprintf(lt + o + CLAW_OAUTH_MAX_TOKEN + 1, 8, "\"}");
	assert_int_equal(PARSE_TOKEN(lt), CLAW_ERR_INVALID);
	free(lt);
}

static void test_form_escape(void **state)
{
	(void)state;
	char b[32] = "x=";
	assert_true(claw_oauth_form_escape(b, sizeof(b), "a b&c/é"));
	assert_string_equal(b, "x=a%20b%26c%2F%C3%A9");
	char s[8] = "";
	assert_false(claw_oauth_form_escape(s, sizeof(s), "&&&"));
}

/* The config json with the secret files "grant" and "csec". */
static enum claw_rc load_cfg(const char *json, const char *grant,
			     struct rt_config *c, char *err)
{
	const char *const secrets[] = {"grant", grant, "csec", "client-secret",
				       NULL};
	return rt_test_load_cfg(json, secrets, c, err);
}

#define PROV RT_TEST_PROV
#define GRANT                                                                  \
	"{\"access_token\":\"at\",\"refresh_token\":\"rt\",\"expires_at\":1,"  \
	"\"token_endpoint\":\"https://as/token\",\"client_id\":\"c\"}"

static void test_config_and_grant(void **state)
{
	(void)state;
	struct rt_config c;
	char err[400];
	assert_int_equal(
		load_cfg("{" PROV ",\"mcp_servers\":[{\"name\":\"r\",\"url\":"
			 "\"https://m/mcp\",\"oauth\":{\"token_secret\":"
			 "\"grant\",\"client_id\":\"pre\","
			 "\"client_secret_secret\":\"csec\"}}]}",
			 GRANT, &c, err),
		CLAW_OK);
	assert_true(c.mcp[0].oauth);
	assert_false(c.mcp[0].oauth_allow_http_loopback);
	assert_string_equal(c.mcp[0].oauth_grant, GRANT);
	assert_string_equal(c.mcp[0].oauth_client_id, "pre");
	assert_string_equal(c.mcp[0].oauth_client_secret, "client-secret");
	struct rt_oauth_settings os = {.grant_json = c.mcp[0].oauth_grant};
	struct rt_oauth_client *oc;
	assert_int_equal(rt_oauth_client_new(&os, &oc, err, sizeof(err)),
			 CLAW_OK);
	char st[100];
	rt_oauth_status(oc, st, sizeof(st));
	assert_string_equal(st, "");
	rt_oauth_client_unref(oc);
	rt_config_release(&c);

	static const struct {
		const char *json, *why;
	} bad[] = {
		{"{" PROV ",\"mcp_servers\":[{\"name\":\"r\",\"command\":"
		 "[\"x\"],\"oauth\":{}}]}",
		 "for a url server"},
		{"{" PROV ",\"mcp_servers\":[{\"name\":\"r\",\"url\":"
		 "\"https://m\",\"oauth\":{\"secret\":\"x\"}}]}",
		 "oauth"},
		{"{" PROV ",\"mcp_servers\":[{\"name\":\"r\",\"url\":"
		 "\"https://m\",\"oauth_allow_http_loopback\":1}]}",
		 "must be a boolean"},
		{"{" PROV ",\"mcp_servers\":[{\"name\":\"r\",\"url\":"
		 "\"https://m\",\"headers\":{\"authorization\":\"x\"},"
		 "\"oauth\":{}}]}",
		 "cannot both"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load_cfg(bad[i].json, GRANT, &c, err),
				 CLAW_ERR_INVALID);
		assert_non_null(strstr(err, bad[i].why));
	}
	/* grants that are not grants: refused, values never in the error */
	static const char *const grants[] = {
		"[]",
		"{\"refresh_token\":\"rt-secret\"}",
		"{\"access_token\":\"at-secret\",\"refresh_token\":"
		"\"rt-secret\"}",
		"{\"access_token\":\"at-secret\",\"refresh_token\":"
		"\"rt-secret\",\"client_id\":\"c\",\"token_endpoint\":"
		"\"http://as.example/token\"}",
		"{\"access_token\":\"at-secret\",\"expires_at\":\"soon\"}",
	};
	for (size_t i = 0; i < sizeof(grants) / sizeof(grants[0]); i++) {
		struct rt_oauth_settings g = {.grant_json = grants[i],
					      .allow_http_loopback = true};
		assert_int_equal(rt_oauth_client_new(&g, &oc, err, sizeof(err)),
				 CLAW_ERR_INVALID);
		assert_null(oc);
		assert_null(strstr(err, "secret"));
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkce),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_prm),
		cmocka_unit_test(test_asm),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_form_escape),
		cmocka_unit_test(test_config_and_grant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
