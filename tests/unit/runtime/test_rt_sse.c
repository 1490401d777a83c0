/*
 * test_rt_sse.c - the SSE parser and writer (lib/src/sse.c): fields, line
 * endings split across feeds, the BOM, comments, ids, retry, ceilings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "claw/sse.h"

struct seen {
	int n;
	char events[8][32];
	char data[8][64];
	char ids[8][16];
};

static enum claw_rc collect(const struct claw_sse_event *ev, void *cls)
{
	struct seen *s = cls;
	if (s->n < 8) {
		snprintf(s->events[s->n], 32, "%s", ev->event);
		snprintf(s->data[s->n], 64, "%s", ev->data);
		snprintf(s->ids[s->n], 16, "%s", ev->id);
	}
	s->n++;
	return CLAW_OK;
}

static void feed_bytewise(struct claw_sse_parser *p, const char *s)
{
	for (size_t i = 0; s[i]; i++)
		assert_int_equal(claw_sse_feed(p, s + i, 1), CLAW_OK);
}

static void test_fields_any_chunking(void **state)
{
	(void)state;
	static const char in[] =
		"\xEF\xBB\xBF: hello\r\nevent: a\r\ndata: 1\r\n"
		"data:2\r\n\r\nid: 9\rdata: x\r\rretry: 250\n"
		"data\n\nevent: lone\n\n";
	for (int mode = 0; mode < 2; mode++) {
		struct claw_sse_parser p;
		struct seen s = {0};
		claw_sse_init(&p, 0, collect, &s);
		if (mode)
			feed_bytewise(&p, in);
		else
			assert_int_equal(claw_sse_feed(&p, in, strlen(in)),
					 CLAW_OK);
		assert_int_equal(s.n, 3);
		assert_string_equal(s.events[0], "a");
		assert_string_equal(s.data[0], "1\n2");
		assert_string_equal(s.events[1], "message");
		assert_string_equal(s.data[1], "x");
		assert_string_equal(s.ids[1], "9");
		assert_string_equal(s.data[2], "");
		assert_string_equal(s.ids[2], "9"); /* kept across events */
		assert_int_equal(claw_sse_retry_ms(&p), 250);
		assert_string_equal(claw_sse_last_id(&p), "9");
		claw_sse_release(&p);
	}
}

static void test_ceiling_and_stop(void **state)
{
	(void)state;
	struct claw_sse_parser p;
	struct seen s = {0};
	char big[300];
	memset(big, 'x', sizeof(big));
	claw_sse_init(&p, 100, collect, &s);
	assert_int_equal(claw_sse_feed(&p, "data: ", 6), CLAW_OK);
	assert_int_equal(claw_sse_feed(&p, big, sizeof(big)),
			 CLAW_ERR_TOO_LARGE);
	claw_sse_release(&p);
}

static void test_writer_round_trip(void **state)
{
	(void)state;
	struct claw_buf b;
	struct claw_sse_parser p;
	struct seen s = {0};
	claw_buf_init(&b, 0);
	assert_int_equal(claw_sse_write(&b, "delta", "a\nb", 3), CLAW_OK);
	assert_string_equal(b.data, "event: delta\ndata: a\ndata: b\n\n");
	claw_sse_init(&p, 0, collect, &s);
	assert_int_equal(claw_sse_feed(&p, b.data, b.len), CLAW_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.data[0], "a\nb");
	claw_sse_release(&p);
	claw_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_any_chunking),
		cmocka_unit_test(test_ceiling_and_stop),
		cmocka_unit_test(test_writer_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
