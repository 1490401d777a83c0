/*
 * db_check.c - exercises libclaw's PostgreSQL pool (claw/db.h) against the
 * server named by argv[1]: many threads over few connections, statements
 * prepared once per connection, serialization conflicts retried by
 * claw_db_tx, rollback on failure, SQLSTATE reporting, and recovery from a
 * connection the server killed, and the reserved lane (a full pool never
 * blocks claw_db_acquire_reserved; claw_db_acquire never takes the lane's
 * connections). Run by test_db.py; exits non-zero with a
 * message on the first broken expectation.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claw/db.h"
#include "claw/log.h"

#define THREADS 8
#define ROUNDS 150
#define POOL 3

static struct claw_db *db;
static atomic_int increments;

static struct claw_db_stmt st_get =
	CLAW_DB_STMT("check_get", "SELECT n FROM counter WHERE id = $1::int");
static struct claw_db_stmt st_set = CLAW_DB_STMT(
	"check_set", "UPDATE counter SET n = $2::int WHERE id = $1::int");
static struct claw_db_stmt st_insert = CLAW_DB_STMT(
	"check_insert", "INSERT INTO counter (id, n) VALUES ($1::int, 0)");
static struct claw_db_stmt st_bad =
	CLAW_DB_STMT("check_bad", "SELECT * FROM no_such_table");
static struct claw_db_stmt st_pid =
	CLAW_DB_STMT("check_pid", "SELECT pg_backend_pid()");
static struct claw_db_stmt st_kill =
	CLAW_DB_STMT("check_kill", "SELECT pg_terminate_backend($1::int)");

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "db_check: %s:%d: ", __FILE__,         \
				__LINE__);                                     \
			fprintf(stderr, __VA_ARGS__);                          \
			fprintf(stderr, "\n");                                 \
			exit(1);                                               \
		}                                                              \
	} while (0)

/* a column the server sent as an int4 in text form */
static int parse_int(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	CHECK(errno == 0 && end != s && *end == '\0' && v >= INT_MIN &&
		      v <= INT_MAX,
	      "not an int: '%s'", s);
	return (int)v;
}

static int read_n(PGconn *c)
{
	const char *p[1] = {"1"};
	PGresult *r = NULL;
	int n;

	CHECK(claw_db_exec(c, &st_get, 1, p, &r) == CLAW_OK, "get: %s",
	      claw_db_last_sqlstate());
	n = parse_int(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

/* read-modify-write: conflicts under SERIALIZABLE, so retries happen */
static enum claw_rc increment(PGconn *c, void *cls)
{
	const char *get[1] = {"1"};
	char v[16];
	const char *set[2] = {"1", v};
	PGresult *r = NULL;
	enum claw_rc rc;

	(void)cls;
	rc = claw_db_exec(c, &st_get, 1, get, &r);
	if (rc)
		return rc;
	snprintf(v, sizeof(v), "%d", parse_int(PQgetvalue(r, 0, 0)) + 1);
	PQclear(r);
	return claw_db_exec(c, &st_set, 2, set, NULL);
}

static enum claw_rc change_then_fail(PGconn *c, void *cls)
{
	const char *set[2] = {"1", "-1000"};

	(void)cls;
	CHECK(claw_db_exec(c, &st_set, 2, set, NULL) == CLAW_OK, "set");
	return CLAW_ERR_INVALID;
}

/* One acquire on another thread (reserved or not); `got` says when it
 * returned. */
struct taker {
	pthread_t th;
	bool reserved;
	atomic_bool got;
	PGconn *c;
};

static void *take(void *arg)
{
	struct taker *t = arg;

	t->c = t->reserved ? claw_db_acquire_reserved(db) : claw_db_acquire(db);
	atomic_store(&t->got, true);
	return NULL;
}

static void take_start(struct taker *t, bool reserved)
{
	t->reserved = reserved;
	atomic_store(&t->got, false);
	pthread_create(&t->th, NULL, take, t);
}

/* Whether t's acquire returned within ms. */
static bool took(struct taker *t, int ms)
{
	for (int i = 0; i < ms / 10 && !atomic_load(&t->got); i++)
		usleep(10000);
	return atomic_load(&t->got);
}

static void reserved_lane(const char *conninfo)
{
	char err[300];
	PGconn *held[POOL], *lane;
	struct taker a, b, c;

	CHECK(claw_db_open_reserve(conninfo, POOL, 1, &db, err, sizeof(err)) ==
		      CLAW_OK,
	      "open with a lane: %s", err);
	for (int i = 0; i < POOL; i++)
		held[i] = claw_db_acquire(db);
	/* the pool is full: the lane does not wait */
	lane = claw_db_acquire_reserved(db);
	CHECK(lane && read_n(lane) >= 0, "the lane's connection works");
	/* everything busy: both kinds wait; the lane's connection, given
	 * back, goes to the lane's waiter only */
	take_start(&b, true);
	take_start(&a, false);
	CHECK(!took(&a, 300) && !took(&b, 0),
	      "an acquire went past a full "
	      "pool");
	claw_db_release(db, lane);
	CHECK(took(&b, 5000) && !took(&a, 300),
	      "the lane's connection must go to the lane's waiter only");
	claw_db_release(db, held[0]);
	CHECK(took(&a, 5000), "an ordinary release must wake its waiter");
	/* an ordinary connection given back wakes a lane waiter too */
	take_start(&c, true);
	CHECK(!took(&c, 300), "a reserved acquire went past a full pool");
	claw_db_release(db, held[1]);
	CHECK(took(&c, 5000), "an ordinary release must wake a lane waiter");
	pthread_join(a.th, NULL);
	pthread_join(b.th, NULL);
	pthread_join(c.th, NULL);
	claw_db_release(db, a.c);
	claw_db_release(db, b.c);
	claw_db_release(db, c.c);
	for (int i = 2; i < POOL; i++)
		claw_db_release(db, held[i]);
	claw_db_close(db);
}

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		PGconn *c = claw_db_acquire(db);

		CHECK(c, "acquire");
		(void)read_n(c);
		claw_db_release(db, c);
		if (i % 5 == 0 &&
		    claw_db_tx(db, CLAW_DB_SERIALIZABLE, increment, NULL) ==
			    CLAW_OK)
			atomic_fetch_add(&increments, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	char err[300];
	pthread_t th[THREADS];
	struct claw_db_stats st;
	const char *one[1] = {"1"};
	PGresult *r = NULL;
	PGconn *c;
	char pid[16];
	const char *pidp[1] = {pid};

	CHECK(argc == 2, "usage: db_check CONNINFO");
	claw_log_init("db_check", CLAW_LOG_ERROR, NULL);
	CHECK(claw_db_open("host=/nonexistent-dir port=1", 1, &db, err,
			   sizeof(err)) == CLAW_ERR_IO &&
		      strstr(err, "connect"),
	      "a bad URL must fail at open: %s", err);
	CHECK(claw_db_open(argv[1], POOL, &db, err, sizeof(err)) == CLAW_OK,
	      "open: %s", err);
	c = claw_db_acquire(db);
	CHECK(claw_db_exec_sql(c,
			       "CREATE TABLE counter (id int PRIMARY KEY,"
			       " n int NOT NULL)",
			       NULL) == CLAW_OK,
	      "create");
	CHECK(claw_db_exec(c, &st_insert, 1, one, NULL) == CLAW_OK, "insert");
	/* errors keep their SQLSTATE and class */
	CHECK(claw_db_exec(c, &st_insert, 1, one, NULL) == CLAW_ERR_INVALID &&
		      !strcmp(claw_db_last_sqlstate(), "23505"),
	      "duplicate: %s", claw_db_last_sqlstate());
	CHECK(claw_db_exec(c, &st_bad, 0, NULL, NULL) == CLAW_ERR_INTERNAL &&
		      !strcmp(claw_db_last_sqlstate(), "42P01"),
	      "bad table: %s", claw_db_last_sqlstate());
	CHECK(read_n(c) == 0 && claw_db_last_sqlstate()[0] == '\0',
	      "success clears the SQLSTATE");
	claw_db_release(db, c);

	/* a failing transaction function rolls its change back */
	CHECK(claw_db_tx(db, CLAW_DB_READ_COMMITTED, change_then_fail, NULL) ==
		      CLAW_ERR_INVALID,
	      "tx result");
	c = claw_db_acquire(db);
	CHECK(read_n(c) == 0, "rolled back");
	claw_db_release(db, c);

	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	c = claw_db_acquire(db);
	CHECK(read_n(c) == atomic_load(&increments),
	      "counter %d != committed increments %d", read_n(c),
	      atomic_load(&increments));
	CHECK(atomic_load(&increments) > THREADS * ROUNDS / 5 / 2,
	      "too few increments committed: %d", atomic_load(&increments));

	/* the server kills our connection: the call fails, the pool heals */
	CHECK(claw_db_exec(c, &st_pid, 0, NULL, &r) == CLAW_OK, "pid");
	snprintf(pid, sizeof(pid), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	claw_db_release(db, c);
	{
		/* parked: this thread's next acquire gets the same one */
		PGconn *victim = claw_db_acquire(db);
		PGconn *other = claw_db_acquire(db);

		CHECK(claw_db_exec(other, &st_kill, 1, pidp, NULL) == CLAW_OK,
		      "kill");
		claw_db_release(db, other);
		CHECK(claw_db_exec(victim, &st_get, 1, one, NULL) != CLAW_OK,
		      "a killed connection must fail");
		claw_db_release(db, victim);
	}
	c = claw_db_acquire(db);
	CHECK(c && read_n(c) == atomic_load(&increments), "healed");
	claw_db_release(db, c);

	claw_db_get_stats(db, &st);
	CHECK(st.in_use == 0 && st.size <= POOL && st.max == POOL &&
		      st.waiting == 0 && st.acquires > THREADS * ROUNDS,
	      "stats: in_use %u size %u acquires %llu", st.in_use, st.size,
	      st.acquires);
	claw_db_close(db);
	reserved_lane(argv[1]);
	printf("db_check: %d increments committed, %llu acquires, %llu "
	       "waited\n1 passed, 0 failed\n",
	       atomic_load(&increments), st.acquires, st.waits);
	return 0;
}
