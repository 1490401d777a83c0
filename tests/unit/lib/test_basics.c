/*
 * test_basics.c - buffers, JSON field specs (an unknown key named by position
 * only), config loading, crypto helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "claw/buf.h"
#include "claw/cfg.h"
#include "claw/crypto.h"
#include "claw/json.h"

static void test_buf_ceiling(void **state)
{
	(void)state;
	struct claw_buf b;
	claw_buf_init(&b, 8);
	assert_int_equal(claw_buf_puts(&b, "12345"), CLAW_OK);
	assert_int_equal(claw_buf_puts(&b, "6789"), CLAW_ERR_TOO_LARGE);
	assert_string_equal(b.data, "12345");
	assert_int_equal(claw_buf_printf(&b, "%d", 678), CLAW_OK);
	assert_string_equal(b.data, "12345678");
	claw_buf_consume(&b, 3);
	assert_string_equal(b.data, "45678");
	/* take: at most max from the front, then what is left */
	char piece[4];
	assert_int_equal(claw_buf_take(&b, piece, 2), 2);
	assert_memory_equal(piece, "45", 2);
	assert_string_equal(b.data, "678");
	assert_int_equal(claw_buf_puts(&b, "45"), CLAW_OK);
	assert_int_equal(claw_buf_take(&b, piece, 2), 2);
	assert_memory_equal(piece, "67", 2);
	assert_string_equal(b.data, "845");
	assert_int_equal(claw_buf_puts(&b, "678"), CLAW_OK);
	assert_string_equal(b.data, "845678");
	claw_buf_consume(&b, 1);
	char *s = claw_buf_steal(&b);
	assert_string_equal(s, "45678");
	free(s);
	assert_null(b.data);
	claw_buf_release(&b);
}

static void test_json_fields(void **state)
{
	(void)state;
	struct claw_json_problem p;
	const char *slug = NULL;
	json_int_t n = 7;
	const struct claw_json_field f[] = {
		{"slug", CLAW_JSON_STRING, true, &slug, 5},
		{"n", CLAW_JSON_INT, false, &n, 0},
		{NULL, 0, false, NULL, 0},
	};
	const char *ok = "{\"slug\":\"acme\"}";
	json_t *v = claw_json_parse_object(ok, strlen(ok), &p);
	assert_non_null(v);
	assert_int_equal(claw_json_unpack(v, f, &p), 0);
	assert_string_equal(slug, "acme");
	assert_int_equal(n, 7);
	json_decref(v);

	/* An unknown key is named by its position, never by its bytes (a
	 * value sent as a key must not reach the error or the log); the
	 * message lists what the spec accepts instead. */
	const char *unknown = "{\"slug\":\"acme\",\"colour\":1}";
	v = claw_json_parse_object(unknown, strlen(unknown), &p);
	assert_int_equal(claw_json_unpack(v, f, &p), -1);
	assert_int_equal(p.error, CLAW_HE_UNKNOWN_FIELD);
	assert_string_equal(p.field, "#2");
	assert_null(strstr(p.message, "colour"));
	assert_non_null(strstr(p.message, "unknown field #2"));
	assert_non_null(strstr(p.message, "slug, n"));
	json_decref(v);
	const char *leak = "{\"sk_live_51Hsecret\":\"x\",\"slug\":\"a\"}";
	v = claw_json_parse_object(leak, strlen(leak), &p);
	assert_int_equal(claw_json_unpack(v, f, &p), -1);
	assert_int_equal(p.error, CLAW_HE_UNKNOWN_FIELD);
	assert_string_equal(p.field, "#1");
	assert_null(strstr(p.message, "sk_live"));
	assert_null(strstr(p.field, "sk_live"));
	json_decref(v);
	/* a long spec is cut, not overflowed */
	struct claw_json_field many[40];
	char names[39][24];
	const char *dummy;
	for (int i = 0; i < 39; i++) {
		snprintf(names[i], sizeof(names[i]), "field_number_%02d", i);
		many[i] = (struct claw_json_field){names[i], CLAW_JSON_STRING,
						   false, &dummy, 0};
	}
	many[39] = (struct claw_json_field){NULL, 0, false, NULL, 0};
	const char *other = "{\"zzz\":1}";
	v = claw_json_parse_object(other, strlen(other), &p);
	assert_int_equal(claw_json_unpack(v, many, &p), -1);
	assert_non_null(strstr(p.message, "field_number_00"));
	assert_non_null(strstr(p.message, " ..."));
	assert_true(strlen(p.message) < sizeof(p.message));
	json_decref(v);

	const char *missing = "{\"n\":1}";
	v = claw_json_parse_object(missing, strlen(missing), &p);
	assert_int_equal(claw_json_unpack(v, f, &p), -1);
	assert_int_equal(p.error, CLAW_HE_MISSING_FIELD);
	json_decref(v);

	const char *wrong = "{\"slug\":\"acme\",\"n\":\"1\"}";
	v = claw_json_parse_object(wrong, strlen(wrong), &p);
	assert_int_equal(claw_json_unpack(v, f, &p), -1);
	assert_int_equal(p.error, CLAW_HE_INVALID_FIELD);
	assert_string_equal(p.field, "n");
	json_decref(v);

	const char *longs = "{\"slug\":\"abcdef\"}";
	v = claw_json_parse_object(longs, strlen(longs), &p);
	assert_int_equal(claw_json_unpack(v, f, &p), -1);
	assert_int_equal(p.error, CLAW_HE_INVALID_FIELD);
	json_decref(v);

	assert_null(claw_json_parse_object("{\"a\":", 5, &p));
	assert_int_equal(p.error, CLAW_HE_BAD_JSON);
	/* The message never quotes the body: it may hold a secret. */
	const char *secret = "{\"value\":\"sk-secret-123";
	assert_null(claw_json_parse_object(secret, strlen(secret), &p));
	assert_null(strstr(p.message, "sk-secret"));
	assert_non_null(strstr(p.message, "line 1"));
	assert_null(claw_json_parse_object("[]", 2, &p));
	assert_int_equal(p.error, CLAW_HE_BAD_JSON);
	assert_null(claw_json_parse_object("{\"a\":1,\"a\":2}", 13, &p));
	assert_null(claw_json_parse_object("{} x", 4, &p));
}

static void test_cfg_precedence(void **state)
{
	(void)state;
	char *listen = NULL, *dir = NULL;
	long workers = 0;
	bool tls = false;
	const struct claw_cfg_opt opts[] = {
		{"listen", CLAW_CFG_STRING, &listen, "127.0.0.1:1", 0, 0, "l"},
		{"data-dir", CLAW_CFG_STRING, &dir, NULL, 0, 0, "d"},
		{"workers", CLAW_CFG_INT, &workers, "2", 1, 64, "w"},
		{"tls", CLAW_CFG_BOOL, &tls, "false", 0, 0, "t"},
		{NULL, 0, NULL, NULL, 0, 0, NULL},
	};
	char path[] = "/tmp/claw-cfg-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "# comment\nlisten = 127.0.0.1:2\nworkers = 4\n"
			   "data-dir = \"/from/file\"\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	setenv("CLAWT_WORKERS", "8", 1);
	char cfgarg[64];
	snprintf(cfgarg, sizeof(cfgarg), "--config=%s", path);
	char *argv[] = {"prog",        cfgarg,  "--listen",
			"127.0.0.1:3", "--tls", NULL};
	char err[256];
	assert_int_equal(
		claw_cfg_load(opts, "CLAWT", "u", 5, argv, err, sizeof(err)),
		CLAW_CFG_OK);
	assert_string_equal(listen, "127.0.0.1:3");
	assert_string_equal(dir, "/from/file");
	assert_int_equal(workers, 8);
	assert_true(tls);
	claw_cfg_release(opts);
	assert_null(listen);

	char *bad[] = {"prog", "--workers", "100", NULL};
	unsetenv("CLAWT_WORKERS");
	assert_int_equal(
		claw_cfg_load(opts, "CLAWT", "u", 3, bad, err, sizeof(err)),
		CLAW_CFG_ERROR);
	assert_non_null(strstr(err, "workers"));
	claw_cfg_release(opts);
	char *unknown[] = {"prog", "--colour", "red", NULL};
	assert_int_equal(
		claw_cfg_load(opts, "CLAWT", "u", 3, unknown, err, sizeof(err)),
		CLAW_CFG_ERROR);
	assert_non_null(strstr(err, "--colour"));
	claw_cfg_release(opts);

	/* A table with its own "config" option gets the path, unread. */
	char *config = NULL;
	const struct claw_cfg_opt own[] = {
		{"config", CLAW_CFG_STRING, &config, "/etc/x.json", 0, 0, "c"},
		{NULL, 0, NULL, NULL, 0, 0, NULL},
	};
	char *jargv[] = {"prog", "--config", "/nonexistent.json", NULL};
	assert_int_equal(
		claw_cfg_load(own, "CLAWT", "u", 3, jargv, err, sizeof(err)),
		CLAW_CFG_OK);
	assert_string_equal(config, "/nonexistent.json");
	claw_cfg_release(own);
	unlink(path);
}

static void test_crypto_helpers(void **state)
{
	(void)state;
	assert_int_equal(claw_crypto_init(), CLAW_OK);
	char a[64], b[64];
	claw_random_token("claw_", a, sizeof(a));
	claw_random_token("claw_", b, sizeof(b));
	assert_int_equal(strlen(a), 5 + 43);
	assert_false(claw_ct_streq(a, b));
	assert_true(claw_ct_streq(a, a));
	assert_false(claw_ct_streq(a, "claw_"));
	assert_false(claw_ct_streq(NULL, a));
	uint8_t raw[4] = {0xde, 0xad, 0xbe, 0xef}, back[4];
	char hex[9];
	claw_hex_encode(raw, 4, hex);
	assert_string_equal(hex, "deadbeef");
	assert_int_equal(claw_hex_decode(hex, back, 4), CLAW_OK);
	assert_memory_equal(raw, back, 4);
	assert_int_equal(claw_hex_decode("deadbee", back, 4), CLAW_ERR_PARSE);
	assert_int_equal(claw_hex_decode("deadbeeg", back, 4), CLAW_ERR_PARSE);
	char h[65];
	/* BLAKE2b-256 of the empty string (RFC 7693 parameters). */
	claw_blake2b_hex("", 0, h);
	assert_string_equal(h,
			    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f77"
			    "87faab45cdf12fe3a8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_ceiling),
		cmocka_unit_test(test_json_fields),
		cmocka_unit_test(test_cfg_precedence),
		cmocka_unit_test(test_crypto_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
