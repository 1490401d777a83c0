/*
 * test_na_stream.c - Docker stream parsers: lines across chunks, pull
 * progress errors after a 200, events, multiplexed log frames that
 * straddle chunks, and the version compare of the client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "docker.h"
#include "docker_stream.h"
#include "health.h"
#include "images.h"

struct collect {
	char text[4096];
	unsigned n;
};

/* Append n bytes of src to the string in dst (cap bytes), failing the test
 * when they do not fit. */
static void append(char *dst, size_t cap, const char *src, size_t n)
{
	size_t at = strlen(dst);
	assert_true(n < cap - at);
	memcpy(dst + at, src, n);
	dst[at + n] = '\0';
}

static enum claw_rc on_line(const char *line, size_t len, void *cls)
{
	struct collect *c = cls;
	assert_int_equal(strlen(line), len);
	append(c->text, sizeof(c->text), line, len);
	append(c->text, sizeof(c->text), "|", 1);
	c->n++;
	return CLAW_OK;
}

static void test_lines_any_chunking(void **state)
{
	(void)state;
	const char *in = "one\r\ntwo\n\nthree\nfour";
	for (size_t step = 1; step <= strlen(in); step++) {
		struct collect c = {0};
		struct na_lines l;
		na_lines_init(&l, 64, on_line, &c);
		for (size_t i = 0; i < strlen(in); i += step) {
			size_t n =
				strlen(in) - i < step ? strlen(in) - i : step;
			assert_int_equal(na_lines_feed(&l, in + i, n), CLAW_OK);
		}
		assert_int_equal(na_lines_finish(&l), CLAW_OK);
		assert_string_equal(c.text, "one|two|three|four|");
		na_lines_release(&l);
	}
}

static void test_lines_ceiling(void **state)
{
	(void)state;
	struct collect c = {0};
	struct na_lines l;
	char big[100];
	memset(big, 'x', sizeof(big));
	na_lines_init(&l, 16, on_line, &c);
	assert_int_equal(na_lines_feed(&l, big, sizeof(big)),
			 CLAW_ERR_TOO_LARGE);
	na_lines_release(&l);
}

static void test_progress_error_after_200(void **state)
{
	(void)state;
	struct na_progress p = {0};
	const char *ok = "{\"status\":\"Pulling from claw/x\",\"id\":\"1\"}";
	const char *dig = "{\"status\":\"Digest: sha256:"
			  "0123456789abcdef0123456789abcdef0123456789abcdef"
			  "0123456789abcdef\"}";
	const char *bad = "{\"errorDetail\":{\"message\":\"manifest unknown\"},"
			  "\"error\":\"manifest unknown\"}";
	assert_int_equal(na_progress_line(&p, ok, strlen(ok)), CLAW_OK);
	assert_false(p.failed);
	assert_int_equal(na_progress_line(&p, dig, strlen(dig)), CLAW_OK);
	assert_string_equal(p.digest,
			    "sha256:0123456789abcdef0123456789abcdef0123456789"
			    "abcdef0123456789abcdef");
	assert_int_equal(na_progress_line(&p, bad, strlen(bad)), CLAW_OK);
	assert_true(p.failed);
	assert_string_equal(p.error, "manifest unknown");
	assert_int_equal(na_progress_line(&p, "nope", 4), CLAW_ERR_PARSE);
}

static void test_progress_message_body(void **state)
{
	(void)state;
	struct na_progress p = {0};
	const char *m = "{\"message\":\"pull access denied\"}";
	assert_int_equal(na_progress_line(&p, m, strlen(m)), CLAW_OK);
	assert_true(p.failed);
	assert_string_equal(p.error, "pull access denied");
}

static void feed_all(struct na_progress *p, const char *const *lines)
{
	for (; *lines; lines++)
		assert_int_equal(na_progress_line(p, *lines, strlen(*lines)),
				 CLAW_OK);
}

static void test_progress_layers(void **state)
{
	(void)state;
	struct na_progress p = {0};
	struct na_pull_totals t = {0};
	const char *const lines[] = {
		"{\"status\":\"Pulling from claw/x\",\"id\":\"v1\"}",
		"{\"status\":\"Pulling fs layer\",\"progressDetail\":{},"
		"\"id\":\"aaa\"}",
		"{\"status\":\"Already exists\",\"progressDetail\":{},"
		"\"id\":\"bbb\"}",
		"{\"status\":\"Pulling fs layer\",\"id\":\"ccc\"}",
		"{\"status\":\"Downloading\",\"progressDetail\":"
		"{\"current\":100,\"total\":1000},\"id\":\"aaa\"}",
		"{\"status\":\"Downloading\",\"progressDetail\":"
		"{\"current\":50,\"total\":200},\"id\":\"ccc\"}",
		NULL,
	};
	feed_all(&p, lines);
	na_progress_add_totals(&p, &t);
	assert_int_equal(t.layers_total, 3);
	assert_int_equal(t.layers_done, 1);
	assert_int_equal(t.bytes_done, 150);
	assert_int_equal(t.bytes_total, 1200);
	const char *const rest[] = {
		"{\"status\":\"Download complete\",\"id\":\"aaa\"}",
		"{\"status\":\"Extracting\",\"progressDetail\":"
		"{\"current\":1,\"total\":1000},\"id\":\"aaa\"}",
		"{\"status\":\"Pull complete\",\"id\":\"aaa\"}",
		"{\"status\":\"Pull complete\",\"id\":\"ccc\"}",
		"{\"status\":\"Digest: sha256:0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdef\"}",
		NULL,
	};
	feed_all(&p, rest);
	memset(&t, 0, sizeof(t));
	na_progress_add_totals(&p, &t);
	assert_int_equal(t.layers_total, 3);
	assert_int_equal(t.layers_done, 3);
	assert_int_equal(t.bytes_done, 1200);
	assert_int_equal(t.bytes_total, 1200);
	assert_false(p.failed);
}

static void test_event_parse(void **state)
{
	(void)state;
	struct na_event ev;
	const char *line =
		"{\"status\":\"die\",\"id\":\"abc\",\"Type\":\"container\","
		"\"Action\":\"die\",\"Actor\":{\"ID\":\"abc\",\"Attributes\":{"
		"\"claw.tenant\":\"acme\",\"claw.role\":\"runtime\","
		"\"exitCode\":\"137\"}},\"time\":1,\"timeNano\":1000000001}";
	assert_int_equal(na_event_parse(&ev, line, strlen(line)), CLAW_OK);
	assert_string_equal(ev.type, "container");
	assert_string_equal(ev.action, "die");
	assert_string_equal(ev.id, "abc");
	assert_string_equal(ev.tenant, "acme");
	assert_string_equal(ev.role, "runtime");
	assert_int_equal(ev.exit_code, 137);
	assert_int_equal(ev.time_nano, 1000000001);
	assert_int_equal(na_event_parse(&ev, "[]", 2), CLAW_ERR_PARSE);
	assert_int_equal(na_event_parse(&ev, "{}", 2), CLAW_ERR_PARSE);
}

struct frames {
	char out[2][256];
	unsigned pieces;
};

static enum claw_rc on_frame(int stream, const char *data, size_t len,
			     void *cls)
{
	struct frames *f = cls;
	assert_true(stream == 1 || stream == 2);
	append(f->out[stream - 1], sizeof(f->out[0]), data, len);
	f->pieces++;
	return CLAW_OK;
}

static void test_mux_straddling(void **state)
{
	(void)state;
	/* stdout "hello\n", stderr "oops\n", stdout "" (empty), stdout "bye" */
	static const unsigned char in[] = {
		1,   0,    0,    0, 0, 0, 0, 6,   'h', 'e', 'l', 'l',
		'o', '\n', 2,    0, 0, 0, 0, 0,   0,   5,   'o', 'o',
		'p', 's',  '\n', 1, 0, 0, 0, 0,   0,   0,   0,   1,
		0,   0,    0,    0, 0, 0, 3, 'b', 'y', 'e'};
	for (size_t step = 1; step <= sizeof(in); step++) {
		struct frames f = {0};
		struct na_mux m;
		na_mux_init(&m, on_frame, &f);
		for (size_t i = 0; i < sizeof(in); i += step) {
			size_t n =
				sizeof(in) - i < step ? sizeof(in) - i : step;
			assert_int_equal(
				na_mux_feed(&m, (const char *)in + i, n),
				CLAW_OK);
		}
		assert_true(na_mux_clean_end(&m));
		assert_string_equal(f.out[0], "hello\nbye");
		assert_string_equal(f.out[1], "oops\n");
	}
}

static void test_mux_bad_header(void **state)
{
	(void)state;
	struct frames f = {0};
	struct na_mux m;
	static const char bad[] = {7, 0, 0, 0, 0, 0, 0, 1, 'x'};
	static const char pad[] = {1, 1, 0, 0, 0, 0, 0, 1, 'x'};
	na_mux_init(&m, on_frame, &f);
	assert_int_equal(na_mux_feed(&m, bad, sizeof(bad)), CLAW_ERR_PROTO);
	na_mux_init(&m, on_frame, &f);
	assert_int_equal(na_mux_feed(&m, pad, sizeof(pad)), CLAW_ERR_PROTO);
	na_mux_init(&m, on_frame, &f);
	assert_int_equal(na_mux_feed(&m, pad, 3), CLAW_OK);
	assert_false(na_mux_clean_end(&m));
}

static void test_version_cmp(void **state)
{
	(void)state;
	assert_true(na_docker_version_cmp("1.41", "1.41") == 0);
	assert_true(na_docker_version_cmp("1.9", "1.41") < 0);
	assert_true(na_docker_version_cmp("1.44", "1.41") > 0);
	assert_true(na_docker_version_cmp("2.0", "1.45") > 0);
}

static void test_qs(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(na_docker_qs("127.0.0.1:5000/a b", out, sizeof(out)),
			 CLAW_OK);
	assert_string_equal(out, "127.0.0.1%3A5000%2Fa%20b");
	assert_int_equal(na_docker_qs("::::::", out, 10), CLAW_ERR_TOO_LARGE);
}

static void test_time_ns(void **state)
{
	(void)state;
	const char *z = "0001-01-01T00:00:00Z"; /* never started */
	assert_int_equal(na_docker_time_ns(z, strlen(z)), -1);
	z = "9999-12-31T23:59:59.999999999Z"; /* past int64 nanoseconds */
	assert_int_equal(na_docker_time_ns(z, strlen(z)), -1);
	z = "2026-12-07T17:15:30.272535454Z";
	assert_true(na_docker_time_ns(z, strlen(z)) ==
		    INT64_C(1796663730272535454));
	z = "2026-12-07T17:15:30Z";
	assert_true(na_docker_time_ns(z, strlen(z)) ==
		    INT64_C(1796663730000000000));
	z = "2026-12-07T17:15:30.5Z";
	assert_true(na_docker_time_ns(z, strlen(z)) ==
		    INT64_C(1796663730500000000));
	z = "2026-12-07T17:15:30.5+01:00"; /* not Docker's */
	assert_int_equal(na_docker_time_ns(z, strlen(z)), -1);
	z = "2026-12-07 17:15:30Z";
	assert_int_equal(na_docker_time_ns(z, strlen(z)), -1);
	/* the length is the bound, not the terminator */
	z = "2026-12-07T17:15:30.272Z trailing";
	assert_true(na_docker_time_ns(z, 24) == INT64_C(1796663730272000000));
	assert_int_equal(na_docker_time_ns(z, 23), -1);
}

static void test_image_split(void **state)
{
	(void)state;
	char repo[128], tag[96];
	const char *dig = "sha256:0123456789abcdef0123456789abcdef0123456789"
			  "abcdef0123456789abcdef";
	char ref[256];
	assert_int_equal(na_image_split("127.0.0.1:5000/claw/gw:v1", repo,
					sizeof(repo), tag, sizeof(tag)),
			 CLAW_OK);
	assert_string_equal(repo, "127.0.0.1:5000/claw/gw");
	assert_string_equal(tag, "v1");
	assert_int_equal(na_image_split("127.0.0.1:5000/claw/gw", repo,
					sizeof(repo), tag, sizeof(tag)),
			 CLAW_OK);
	assert_string_equal(repo, "127.0.0.1:5000/claw/gw");
	assert_string_equal(tag, "latest");
	snprintf(ref, sizeof(ref), "127.0.0.1:5000/claw/gw:v1@%s", dig);
	assert_int_equal(
		na_image_split(ref, repo, sizeof(repo), tag, sizeof(tag)),
		CLAW_OK);
	assert_string_equal(repo, "127.0.0.1:5000/claw/gw");
	assert_string_equal(tag, dig);
	assert_int_equal(na_image_split("x@sha256:12", repo, sizeof(repo), tag,
					sizeof(tag)),
			 CLAW_ERR_INVALID);
}

static void test_backoff(void **state)
{
	(void)state;
	/* The first restart is immediate, then 1 s doubling to the cap. */
	assert_int_equal(na_backoff_delay_ms(1000, 300000, 0), 0);
	assert_int_equal(na_backoff_delay_ms(1000, 300000, 1), 0);
	assert_int_equal(na_backoff_delay_ms(1000, 300000, 2), 1000);
	assert_int_equal(na_backoff_delay_ms(1000, 300000, 3), 2000);
	assert_int_equal(na_backoff_delay_ms(1000, 300000, 10), 256000);
	assert_int_equal(na_backoff_delay_ms(1000, 300000, 11), 300000);
	assert_int_equal(na_backoff_delay_ms(1000, 300000, 1000), 300000);
}

static void test_probe_interval(void **state)
{
	(void)state;
	struct na_config cfg = {.probe_interval_ms = 1000,
				.probe_stable_interval_ms = 10000,
				.probe_stable_after_ms = 60000};
	struct na_inst in = {.healthy = false};
	/* Starting: fast until the first answer. */
	assert_true(na_probe_interval(&cfg, &in, 100.0) < 0.1);
	/* Healthy since t=100: the base interval for a minute, then the
	 * stable one. */
	in.healthy = true;
	in.healthy_since = 100.0;
	assert_true(na_probe_interval(&cfg, &in, 159.9) == 1.0);
	assert_true(na_probe_interval(&cfg, &in, 160.0) == 10.0);
	/* One failed probe: back to the base interval at once. */
	in.probe_fail = 1;
	assert_true(na_probe_interval(&cfg, &in, 500.0) == 1.0);
	/* A stable interval below the base one never speeds probes up. */
	in.probe_fail = 0;
	cfg.probe_stable_interval_ms = 500;
	assert_true(na_probe_interval(&cfg, &in, 500.0) == 1.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_any_chunking),
		cmocka_unit_test(test_lines_ceiling),
		cmocka_unit_test(test_progress_error_after_200),
		cmocka_unit_test(test_progress_message_body),
		cmocka_unit_test(test_progress_layers),
		cmocka_unit_test(test_event_parse),
		cmocka_unit_test(test_mux_straddling),
		cmocka_unit_test(test_mux_bad_header),
		cmocka_unit_test(test_version_cmp),
		cmocka_unit_test(test_qs),
		cmocka_unit_test(test_time_ns),
		cmocka_unit_test(test_image_split),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_probe_interval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
