/*
 * test_log.c - the log: one JSON object per line; in non-blocking mode a
 * reader that does not keep up (dockerd down under live-restore) never
 * blocks the writer, whole lines are dropped, and the next line written
 * says how many.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "claw/log.h"

/* Everything the pipe holds now, as a NUL-terminated string. */
static char *drain(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	assert_non_null(out);
	for (;;) {
		if (cap - len < 4097) {
			out = realloc(out, cap *= 2);
			assert_non_null(out);
		}
		ssize_t n = read(fd, out + len, 4096);
		if (n <= 0) {
			assert_true(n == 0 || errno == EAGAIN);
			break;
		}
		len += (size_t)n;
	}
	out[len] = 0;
	return out;
}

/* Each line of text is a whole JSON object; the number of lines, and the
 * message of the first and the last. */
static size_t check_lines(const char *text, char *first, char *last, size_t len)
{
	size_t n = 0;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		json_error_t e;
		json_t *o = json_loadb(p, (size_t)(nl - p), 0, &e);
		assert_non_null(o);
		const char *msg = json_string_value(json_object_get(o, "msg"));
		assert_non_null(msg);
		if (n == 0)
			snprintf(first, len, "%s", msg);
		snprintf(last, len, "%s", msg);
		json_decref(o);
		n++;
		p = nl + 1;
	}
	return n;
}

static void test_nonblocking_drops_whole_lines(void **state)
{
	(void)state;
	int p[2];
	char first[256], last[256], want[256];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);
	/* the smallest pipe: a page */
	assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 4096);
	FILE *out = fdopen(p[1], "w");
	assert_non_null(out);
	claw_log_init("test", CLAW_LOG_INFO, out);
	assert_int_equal(claw_log_nonblocking(), 0);
	assert_true(fcntl(p[1], F_GETFL) & O_NONBLOCK);

	/* Nobody reads: far more than the pipe holds, and no call blocks
	 * (a blocking one would hang here until ctest's timeout). */
	char pad[200];
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = 0;
	const int total = 500;
	for (int i = 0; i < total; i++)
		log_info("line %d %s", i, pad);
	char *got = drain(p[0]);
	size_t kept = check_lines(got, first, last, sizeof(first));
	assert_true(kept > 0 && kept < (size_t)total);
	assert_int_equal(strncmp(first, "line 0 ", 7), 0); /* whole lines */
	free(got);

	/* Read again: the next line is preceded by the count dropped. */
	log_warn("after");
	got = drain(p[0]);
	assert_int_equal(check_lines(got, first, last, sizeof(first)), 2);
	snprintf(want, sizeof(want),
		 "%zu log line(s) dropped: the log's reader (dockerd) did not "
		 "keep up",
		 (size_t)total - kept);
	assert_string_equal(first, want);
	assert_string_equal(last, "after");
	free(got);

	/* Nothing dropped since: no notice. */
	log_info("again");
	got = drain(p[0]);
	assert_int_equal(check_lines(got, first, last, sizeof(first)), 1);
	assert_string_equal(first, "again");
	free(got);

	fclose(out); /* the last test: nothing logs after it */
	close(p[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nonblocking_drops_whole_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
