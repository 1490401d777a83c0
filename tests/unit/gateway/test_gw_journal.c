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
#include <pthread.h>
#include <signal.h>
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

/* Open dir's journal (with the other blue/green slot's in peer, or
 * NULL), collecting the replayed ids. */
static struct gw_journal *open_jp(const char *dir, const char *peer,
				  long compact, json_t *ids)
{
	struct gw_journal *j = NULL;
	char err[256];
	assert_int_equal(gw_journal_open(dir, peer, compact, &j, collect, ids,
					 err, sizeof(err)),
			 CLAW_OK);
	return j;
}

static struct gw_journal *open_j(const char *dir, long compact, json_t *ids)
{
	return open_jp(dir, NULL, compact, ids);
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

/* fdatasync, held while `hold` is set (linked with --wrap=fdatasync, so
 * only the journal's calls come here): `syncing` counts calls waiting. */
static pthread_mutex_t sync_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cv = PTHREAD_COND_INITIALIZER;
static bool hold;
static int syncing;

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_fdatasync(int fd)
{
	pthread_mutex_lock(&sync_mu);
	syncing++;
	pthread_cond_broadcast(&sync_cv);
	while (hold)
		pthread_cond_wait(&sync_cv, &sync_mu);
	syncing--;
	pthread_mutex_unlock(&sync_mu);
	return __real_fdatasync(fd);
}

static void hold_syncs(bool on)
{
	pthread_mutex_lock(&sync_mu);
	hold = on;
	pthread_cond_broadcast(&sync_cv);
	pthread_mutex_unlock(&sync_mu);
}

static void wait_syncing(void)
{
	pthread_mutex_lock(&sync_mu);
	while (!syncing)
		pthread_cond_wait(&sync_cv, &sync_mu);
	pthread_mutex_unlock(&sync_mu);
}

struct call {
	struct gw_journal *j;
	const char *id;
	bool done; /* gw_journal_done, else accept */
	enum claw_rc rc;
};

static void *call_thread(void *arg)
{
	struct call *c = arg;
	c->rc = c->done ? gw_journal_done(c->j, c->id) : accept_id(c->j, c->id);
	return NULL;
}

/* How many times text is in the journal file of dir. */
static int file_count(const char *dir, const char *text)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/journal.log", dir);
	size_t len = 0;
	char *data = NULL;
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	data = calloc(1, 1 << 16);
	assert_non_null(data);
	len = fread(data, 1, (1 << 16) - 1, f);
	fclose(f);
	int n = 0;
	for (const char *at = data;
	     (at = memmem(at, len - (size_t)(at - data), text, strlen(text)));
	     at++)
		n++;
	free(data);
	return n;
}

/* A record is in the file before its writer waits for the sync: while the
 * committer is stuck in a sync of an earlier record, an answered entry's D
 * record is already written, so a process kill cannot lose it (the reply
 * it marks would be sent again at the next start). */
static void record_written_before_sync(void **state)
{
	(void)state;
	char *dir = tmpdir();
	json_t *ids = json_array();
	struct gw_journal *j = open_j(dir, 1 << 20, ids);
	assert_int_equal(accept_id(j, "answered"), CLAW_OK);
	assert_int_equal(file_count(dir, "{\"id\":\"answered\"}"), 0);

	hold_syncs(true);
	struct call acc = {j, "later", false, CLAW_ERR_IO};
	struct call done = {j, "answered", true, CLAW_ERR_IO};
	pthread_t t1, t2;
	assert_int_equal(pthread_create(&t1, NULL, call_thread, &acc), 0);
	wait_syncing(); /* the committer is inside the sync of "later" */
	assert_int_equal(pthread_create(&t2, NULL, call_thread, &done), 0);
	int found = 0;
	for (int i = 0; i < 400 && !found; i++) {
		found = file_count(dir, "{\"id\":\"answered\"}");
		if (!found)
			usleep(10000);
	}
	assert_true(found); /* written while the sync is still held */
	hold_syncs(false);
	assert_int_equal(pthread_join(t1, NULL), 0);
	assert_int_equal(pthread_join(t2, NULL), 0);
	assert_int_equal(acc.rc, CLAW_OK);
	assert_int_equal(done.rc, CLAW_OK);
	gw_journal_close(j);

	json_array_clear(ids);
	j = open_j(dir, 1 << 20, ids);
	assert_int_equal(json_array_size(ids), 1); /* "later" only */
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "later");
	gw_journal_close(j);
	json_decref(ids);
	free(dir);
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

/* Finding 10 (docs/reliability.md): entries the other blue/green slot's
 * gateway answered, by a D record or (its journal compacted) an S hash,
 * are not replayed and stay duplicates; what it only accepted, or a peer
 * journal that is not there, changes nothing. */
static void peer_answered_not_replayed(void **state)
{
	(void)state;
	char *own = tmpdir(), *peer = tmpdir();
	json_t *ids = json_array();
	struct gw_journal *j = open_j(peer, 1 << 20, ids);
	assert_int_equal(accept_id(j, "a"), CLAW_OK);
	assert_int_equal(accept_id(j, "b"), CLAW_OK);
	assert_int_equal(accept_id(j, "c"), CLAW_OK);
	assert_int_equal(gw_journal_done(j, "a"), CLAW_OK);
	gw_journal_close(j);
	j = open_j(peer, 1 << 20, ids); /* compacted: "a" is an S hash */
	assert_int_equal(gw_journal_done(j, "b"), CLAW_OK);
	gw_journal_close(j);

	json_array_clear(ids);
	j = open_j(own, 1 << 20, ids);
	assert_int_equal(accept_id(j, "a"), CLAW_OK);
	assert_int_equal(accept_id(j, "b"), CLAW_OK);
	assert_int_equal(accept_id(j, "c"), CLAW_OK);
	assert_int_equal(accept_id(j, "d"), CLAW_OK);
	gw_journal_close(j);

	/* no journal in the peer's directory: everything replays */
	char *none = tmpdir();
	j = open_jp(own, none, 1 << 20, ids);
	assert_int_equal(json_array_size(ids), 4);
	gw_journal_close(j);

	json_array_clear(ids);
	j = open_jp(own, peer, 1 << 20, ids);
	assert_int_equal(json_array_size(ids), 2);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "c");
	assert_string_equal(json_string_value(json_array_get(ids, 1)), "d");
	assert_int_equal(gw_journal_depth(j), 2);
	assert_int_equal(accept_id(j, "a"), CLAW_ERR_INVALID);
	assert_int_equal(accept_id(j, "b"), CLAW_ERR_INVALID);
	gw_journal_close(j);

	/* the drop was written: without the peer, still only c and d */
	json_array_clear(ids);
	j = open_j(own, 1 << 20, ids);
	assert_int_equal(json_array_size(ids), 2);
	gw_journal_close(j);
	json_decref(ids);
	free(none);
	free(peer);
	free(own);
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
	assert_int_equal(gw_journal_open(dir, NULL, 1 << 20, &j, collect, ids,
					 err, sizeof(err)),
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
		cmocka_unit_test(peer_answered_not_replayed),
		cmocka_unit_test(damaged_records_skipped),
		cmocka_unit_test(compaction_bounds_size),
		cmocka_unit_test(write_error_not_sticky),
		cmocka_unit_test(thread_start_fails),
		cmocka_unit_test(record_written_before_sync),
	};
	if (sodium_init() < 0)
		return 1;
	/* journal writes happen on the callers' threads; the daemon ignores
	 * SIGXFSZ so a file size limit fails them (write_error_not_sticky) */
	signal(SIGXFSZ, SIG_IGN);
	claw_log_init("test", CLAW_LOG_ERROR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
