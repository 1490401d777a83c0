/*
 * test_gw_journal.c - the durable journal: accepted entries survive a
 * reopen until marked done, duplicates are refused before and after
 * restarts, torn or damaged records are skipped, compaction keeps the
 * file small while keeping pending entries and the seen ids, the seen
 * ring forgets only its oldest, a write error is reported by
 * gw_journal_ok while it lasts and not after (the file rewritten without
 * the torn tail the failed write left), and a journal whose thread cannot
 * start is not opened.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "claw/log.h"
#include "gw.h"
#include "gw_testutil.h"

struct seen {
	json_t *ids;
};

static void collect(json_t *env, void *cls)
{
	json_array_append_new(cls, json_string(gw_env_str(env, "id")));
}

static json_t *env_of(const char *id)
{
	json_t *e = gw_env_new(GW_CH_TELEGRAM, id, "bot", "telegram:1", "7",
			       "Ann", "hello", 1700000000);
	json_object_set_new(e, GW_ENV_ROUTE, json_pack("{s:i}", "chat_id", 1));
	return e;
}

static struct gw_journal *open_j(const char *dir, long compact, json_t *ids)
{
	struct gw_journal *j = NULL;
	char err[256];
	assert_int_equal(gw_journal_open(dir, compact, &j, collect, ids, err,
					 sizeof(err)),
			 CLAW_OK);
	return j;
}

static enum claw_rc accept_id(struct gw_journal *j, const char *id)
{
	json_t *e = env_of(id);
	enum claw_rc rc = gw_journal_accept(j, e);
	json_decref(e);
	return rc;
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/gwjXXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	size_t n = strlen(d) + 3;
	char *out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%s/j", d);
	return out;
}

static void replay_until_done(void **state)
{
	(void)state;
	char *dir = tmpdir();
	json_t *ids = json_array();
	struct gw_journal *j = open_j(dir, 1 << 20, ids);
	assert_int_equal(json_array_size(ids), 0);
	assert_int_equal(accept_id(j, "a"), CLAW_OK);
	assert_int_equal(accept_id(j, "b"), CLAW_OK);
	assert_int_equal(accept_id(j, "c"), CLAW_OK);
	assert_int_equal(accept_id(j, "a"), CLAW_ERR_INVALID);
	assert_int_equal(gw_journal_depth(j), 3);
	assert_int_equal(gw_journal_done(j, "b"), CLAW_OK);
	assert_int_equal(gw_journal_depth(j), 2);
	assert_true(gw_journal_ok(j));
	gw_journal_close(j);

	j = open_j(dir, 1 << 20, ids);
	assert_int_equal(json_array_size(ids), 2);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "a");
	assert_string_equal(json_string_value(json_array_get(ids, 1)), "c");
	/* answered and pending ids stay duplicates after the restart */
	assert_int_equal(accept_id(j, "b"), CLAW_ERR_INVALID);
	assert_int_equal(accept_id(j, "a"), CLAW_ERR_INVALID);
	gw_journal_done(j, "a");
	gw_journal_done(j, "c");
	gw_journal_close(j);
	json_array_clear(ids);
	j = open_j(dir, 1 << 20, ids);
	assert_int_equal(json_array_size(ids), 0);
	assert_int_equal(accept_id(j, "c"), CLAW_ERR_INVALID);
	gw_journal_close(j);
	json_decref(ids);
	free(dir);
}

static void damaged_records_skipped(void **state)
{
	(void)state;
	char *dir = tmpdir(), path[300];
	json_t *ids = json_array();
	struct gw_journal *j = open_j(dir, 1 << 20, ids);
	assert_int_equal(accept_id(j, "x"), CLAW_OK);
	gw_journal_close(j);
	snprintf(path, sizeof(path), "%s/journal.log", dir);
	FILE *f = fopen(path, "a");
	/* a record with a wrong checksum, junk, and a torn tail */
	fputs("A 0000000000000000 {\"id\":\"bad\"}\n", f);
	fputs("garbage\n", f);
	fputs("A 12", f);
	fclose(f);
	j = open_j(dir, 1 << 20, ids);
	assert_int_equal(json_array_size(ids), 1);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "x");
	assert_int_equal(accept_id(j, "y"), CLAW_OK);
	gw_journal_close(j);
	json_array_clear(ids);
	j = open_j(dir, 1 << 20, ids);
	assert_int_equal(json_array_size(ids), 2);
	gw_journal_close(j);
	json_decref(ids);
	free(dir);
}

static void compaction_bounds_size(void **state)
{
	(void)state;
	char *dir = tmpdir(), path[300], id[32];
	struct stat st;
	json_t *ids = json_array();
	struct gw_journal *j = open_j(dir, 4096, ids);
	for (int i = 0; i < 500; i++) {
		snprintf(id, sizeof(id), "m%d", i);
		assert_int_equal(accept_id(j, id), CLAW_OK);
		if (i != 7)
			assert_int_equal(gw_journal_done(j, id), CLAW_OK);
	}
	snprintf(path, sizeof(path), "%s/journal.log", dir);
	assert_int_equal(stat(path, &st), 0);
	/* 500 accepted + done records would be ~150 kB */
	assert_true(st.st_size < 40000);
	assert_int_equal(accept_id(j, "m3"), CLAW_ERR_INVALID);
	gw_journal_close(j);
	j = open_j(dir, 4096, ids);
	assert_int_equal(json_array_size(ids), 1);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "m7");
	assert_int_equal(accept_id(j, "m499"), CLAW_ERR_INVALID);
	gw_journal_close(j);
	json_decref(ids);
	free(dir);
}

static off_t file_size(const char *dir)
{
	char path[300];
	struct stat st;
	snprintf(path, sizeof(path), "%s/journal.log", dir);
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* Wait (bounded) for the committer's next rewrite to make it writable. */
static bool wait_ok(struct gw_journal *j)
{
	for (int i = 0; i < 200 && !gw_journal_ok(j); i++)
		usleep(50000);
	return gw_journal_ok(j);
}

static void write_error_not_sticky(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct rlimit old, lim;
	json_t *ids = json_array();
	struct gw_journal *j = open_j(dir, 1 << 20, ids);
	assert_int_equal(accept_id(j, "before"), CLAW_OK);
	assert_true(gw_journal_ok(j));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);

	/* the file cannot grow (nor be rewritten): writes fail with EFBIG,
	 * the committer blocks SIGXFSZ so the process lives on */
	lim = old;
	lim.rlim_cur = (rlim_t)file_size(dir) - 1;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_not_equal(accept_id(j, "during"), CLAW_OK);
	assert_false(gw_journal_ok(j));
	/* while it lasts, appends fail at once */
	assert_int_not_equal(accept_id(j, "during2"), CLAW_OK);
	assert_int_not_equal(gw_journal_done(j, "before"), CLAW_OK);
	assert_false(gw_journal_ok(j));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_true(wait_ok(j));
	assert_int_equal(accept_id(j, "after"), CLAW_OK);

	/* a write cut short leaves a torn record: the rewrite drops it, so
	 * what is acknowledged next is not glued to it */
	lim.rlim_cur = (rlim_t)file_size(dir) + 20;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_not_equal(accept_id(j, "torn"), CLAW_OK);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_true(wait_ok(j));
	assert_int_equal(accept_id(j, "after2"), CLAW_OK);
	gw_journal_close(j);

	json_array_clear(ids);
	j = open_j(dir, 1 << 20, ids);
	/* "before" was done in memory when its D record failed; the
	 * rewrite made that durable */
	assert_int_equal(json_array_size(ids), 2);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "after");
	assert_string_equal(json_string_value(json_array_get(ids, 1)),
			    "after2");
	assert_int_equal(accept_id(j, "before"), CLAW_ERR_INVALID);
	gw_journal_close(j);
	json_decref(ids);
	free(dir);
}

static void thread_start_fails(void **state)
{
	(void)state;
	char *dir = tmpdir(), err[256] = "";
	struct gw_journal *j = NULL;
	json_t *ids = json_array();
	gw_thread_create = gw_test_fail_create;
	assert_int_equal(gw_journal_open(dir, 1 << 20, &j, collect, ids, err,
					 sizeof(err)),
			 CLAW_ERR_INTERNAL);
	gw_thread_create = pthread_create;
	assert_null(j);
	assert_non_null(strstr(err, "thread"));
	json_decref(ids);
	free(dir);
}

/* The seen ring forgets the oldest past its capacity and nothing else,
 * through many backward-shift deletions. */
static void seen_ring(void **state)
{
	(void)state;
	struct gw_seen *s = gw_seen_new();
	uint8_t h[GW_SEEN_HASH];
	char id[32];
	const int n = GW_SEEN_CAP + 5000;
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		gw_seen_hash(id, h);
		gw_seen_add(s, h);
		gw_seen_add(s, h); /* twice: still once */
	}
	assert_int_equal(gw_seen_count(s), GW_SEEN_CAP);
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		gw_seen_hash(id, h);
		assert_int_equal(gw_seen_has(s, h), i >= n - GW_SEEN_CAP);
	}
	snprintf(id, sizeof(id), "id-%d", n - GW_SEEN_CAP);
	gw_seen_hash(id, h);
	assert_memory_equal(gw_seen_at(s, 0), h, GW_SEEN_HASH);
	gw_seen_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seen_ring),
		cmocka_unit_test(replay_until_done),
		cmocka_unit_test(damaged_records_skipped),
		cmocka_unit_test(compaction_bounds_size),
		cmocka_unit_test(write_error_not_sticky),
		cmocka_unit_test(thread_start_fails),
	};
	if (sodium_init() < 0)
		return 1;
	claw_log_init("test", CLAW_LOG_ERROR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
