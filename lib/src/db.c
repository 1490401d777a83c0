/*
 * db.c - PostgreSQL connection pool, statements prepared by name once per
 * connection, and transactions retried on serialization failure.
 *
 * Design: the pool is an array of max_conns slots under one mutex. A slot
 * is FREE (in the pool), BUSY (a thread holds its connection) or PARKED:
 * released by a thread that keeps a claim on it, so that thread's next
 * acquire takes it back with one compare-and-swap and no lock (a pooled
 * connection per thread, with its statements already prepared). Anyone
 * else may take a PARKED slot (the same compare-and-swap, under the mutex)
 * when no FREE one is left, so parking never starves a waiter; and a
 * release parks only when nobody waits. The last `reserve` slots are a
 * lane of their own: only claw_db_acquire_reserved takes them (it takes
 * any slot), so its short calls never queue behind a busy pool, and their
 * waiters wait on a condition of their own. A thread remembers the slots it
 * holds in a small thread-local list, so claw_db_exec finds the slot of a
 * PGconn (and its set of prepared statements) without locking. Each
 * declared statement gets a small integer id at first use; a slot keeps one
 * byte per id saying whether it was prepared there.
 */
#include "claw/db.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "claw/log.h"

#define DB_HELD_MAX 4
#define DB_TX_ATTEMPTS 5

enum slot_state {
	SLOT_FREE,
	SLOT_BUSY,
	SLOT_PARKED
};

struct db_slot {
	struct claw_db *db;
	PGconn *conn;
	atomic_int state;        /* enum slot_state */
	unsigned char *prepared; /* prepared[id] != 0: done on this conn */
	size_t prepared_cap;
};

struct claw_db {
	unsigned long long gen;
	char *conninfo;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned max;     /* slots, the reserved lane included */
	unsigned reserve; /* the last ones: claw_db_acquire_reserved only */
	struct db_slot *slots;
	atomic_uint open; /* slots with a connection */
	atomic_uint in_use;
	pthread_cond_t cv_reserved;
	unsigned waiting;          /* under mu */
	unsigned waiting_reserved; /* under mu */
	atomic_ullong acquires;
	atomic_ullong waits;
	atomic_ullong errors;
};

static atomic_int next_stmt_id = 1;
static _Thread_local struct db_slot *held[DB_HELD_MAX];
/* This thread's claim on a parked slot, valid only while parked_gen is the
 * generation of the pool asked (pools get distinct generations, so a claim
 * on a closed pool is never followed). */
static _Thread_local struct db_slot *parked;
static _Thread_local unsigned long long parked_gen;
static atomic_ullong next_gen = 1;
static _Thread_local char last_sqlstate[6];

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("postgres notice: %.200s", message);
}

/* The first line of libpq's error message, without a trailing newline. */
static void first_line(const char *msg, char *out, size_t outlen)
{
	size_t n = strcspn(msg, "\n");

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, msg, n);
	out[n] = '\0';
}

/* libpq's message on one line: with several hosts it has a line per host
 * tried (the last one is often the one that matters: a TLS or password
 * failure behind a dead first host), so the lines are joined with "; ";
 * indented hint lines ("Is the server running ...") are left out. */
static void conn_error_line(const char *msg, char *out, size_t outlen)
{
	size_t off = 0;

	out[0] = '\0';
	while (*msg && off + 1 < outlen) {
		size_t n = strcspn(msg, "\n");

		if (n && msg[0] != '\t' && msg[0] != ' ')
			off += (size_t)snprintf(out + off, outlen - off,
						"%s%.*s", off ? "; " : "",
						(int)n, msg);
		msg += n + (msg[n] == '\n');
	}
}

static PGconn *db_connect(struct claw_db *db, char *errbuf, size_t errlen)
{
	PGconn *c = PQconnectdb(db->conninfo);

	if (!c) {
		snprintf(errbuf, errlen,
			 "out of memory connecting to database");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		char line[1024];

		conn_error_line(PQerrorMessage(c), line, sizeof(line));
		snprintf(errbuf, errlen, "unable to connect to database: %s",
			 line);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	return c;
}

enum claw_rc claw_db_open(const char *conninfo, unsigned max_conns,
			  struct claw_db **out, char *errbuf, size_t errlen)
{
	return claw_db_open_reserve(conninfo, max_conns, 0, out, errbuf,
				    errlen);
}

enum claw_rc claw_db_open_reserve(const char *conninfo, unsigned max_conns,
				  unsigned reserve, struct claw_db **out,
				  char *errbuf, size_t errlen)
{
	struct claw_db *db;

	*out = NULL;
	if (max_conns == 0)
		max_conns = 1;
	max_conns += reserve;
	db = calloc(1, sizeof(*db));
	if (!db)
		return CLAW_ERR_NOMEM;
	db->conninfo = strdup(conninfo);
	db->slots = calloc(max_conns, sizeof(*db->slots));
	if (!db->conninfo || !db->slots) {
		free(db->conninfo);
		free(db->slots);
		free(db);
		return CLAW_ERR_NOMEM;
	}
	db->max = max_conns;
	db->reserve = reserve;
	db->gen = atomic_fetch_add(&next_gen, 1);
	for (unsigned i = 0; i < max_conns; i++)
		db->slots[i].db = db;
	pthread_mutex_init(&db->mu, NULL);
	pthread_cond_init(&db->cv, NULL);
	pthread_cond_init(&db->cv_reserved, NULL);
	db->slots[0].conn = db_connect(db, errbuf, errlen);
	if (!db->slots[0].conn) {
		claw_db_close(db);
		return CLAW_ERR_IO;
	}
	atomic_store(&db->open, 1);
	*out = db;
	return CLAW_OK;
}

static void slot_reset(struct db_slot *s)
{
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
	if (s->prepared)
		memset(s->prepared, 0, s->prepared_cap);
}

void claw_db_close(struct claw_db *db)
{
	if (!db)
		return;
	for (unsigned i = 0; i < db->max; i++) {
		slot_reset(&db->slots[i]);
		free(db->slots[i].prepared);
	}
	pthread_cond_destroy(&db->cv);
	pthread_cond_destroy(&db->cv_reserved);
	pthread_mutex_destroy(&db->mu);
	free(db->slots);
	free(db->conninfo);
	free(db);
}

/* Under mu: among the first n slots, a FREE slot with a connection, else
 * a FREE one to connect (the pool grows to n before anyone loses its
 * claim), else a PARKED one (taken from the thread that parked it); marked
 * BUSY. NULL: none. */
static struct db_slot *pick_slot(struct claw_db *db, unsigned n)
{
	struct db_slot *empty = NULL;

	for (unsigned i = 0; i < n; i++) {
		struct db_slot *s = &db->slots[i];
		int want = SLOT_FREE;

		if (atomic_load(&s->state) != SLOT_FREE)
			continue;
		if (!s->conn) {
			if (!empty)
				empty = s;
			continue;
		}
		if (atomic_compare_exchange_strong(&s->state, &want, SLOT_BUSY))
			return s;
	}
	if (empty) {
		atomic_store(&empty->state, SLOT_BUSY);
		return empty;
	}
	for (unsigned i = 0; i < n; i++) {
		int want = SLOT_PARKED;

		if (atomic_compare_exchange_strong(&db->slots[i].state, &want,
						   SLOT_BUSY))
			return &db->slots[i];
	}
	return NULL;
}

/* A slot of the reserved lane (the last db->reserve). */
static bool slot_reserved(const struct claw_db *db, const struct db_slot *s)
{
	return (unsigned)(s - db->slots) >= db->max - db->reserve;
}

/* Under mu: s is FREE again; wake a waiter that may take it. */
static void slot_freed(struct claw_db *db, struct db_slot *s)
{
	atomic_store(&s->state, SLOT_FREE);
	if (!slot_reserved(db, s))
		pthread_cond_signal(&db->cv);
	if (db->waiting_reserved)
		pthread_cond_signal(&db->cv_reserved);
}

static void held_add(struct db_slot *s)
{
	for (int i = 0; i < DB_HELD_MAX; i++) {
		if (!held[i]) {
			held[i] = s;
			return;
		}
	}
	/* More than DB_HELD_MAX at once: statements on the extra connection
	 * run unprepared (still bound), which is correct, only slower. */
}

static void held_remove(struct db_slot *s)
{
	for (int i = 0; i < DB_HELD_MAX; i++)
		if (held[i] == s)
			held[i] = NULL;
}

static struct db_slot *held_find(PGconn *c)
{
	for (int i = 0; i < DB_HELD_MAX; i++)
		if (held[i] && held[i]->conn == c)
			return held[i];
	return NULL;
}

/* Take one of the first n slots (all of them: the reserved lane too). */
static PGconn *acquire(struct claw_db *db, unsigned n)
{
	struct db_slot *s = parked;
	bool lane = n == db->max && db->reserve;
	char err[300];

	atomic_fetch_add(&db->acquires, 1);
	if (s && parked_gen == db->gen && (lane || !slot_reserved(db, s))) {
		int want = SLOT_PARKED;

		parked = NULL;
		if (atomic_compare_exchange_strong(&s->state, &want,
						   SLOT_BUSY)) {
			atomic_fetch_add(&db->in_use, 1);
			held_add(s);
			return s->conn;
		}
	}
	pthread_mutex_lock(&db->mu);
	s = pick_slot(db, n);
	if (!s) {
		atomic_fetch_add(&db->waits, 1);
		if (lane) {
			db->waiting_reserved++;
			while (!(s = pick_slot(db, n)))
				pthread_cond_wait(&db->cv_reserved, &db->mu);
			db->waiting_reserved--;
		} else {
			db->waiting++;
			while (!(s = pick_slot(db, n)))
				pthread_cond_wait(&db->cv, &db->mu);
			db->waiting--;
		}
	}
	pthread_mutex_unlock(&db->mu);
	atomic_fetch_add(&db->in_use, 1);

	if (!s->conn) {
		s->conn = db_connect(db, err, sizeof(err));
		if (!s->conn) {
			log_error("%s", err);
			atomic_fetch_add(&db->errors, 1);
			atomic_fetch_sub(&db->in_use, 1);
			pthread_mutex_lock(&db->mu);
			slot_freed(db, s);
			pthread_mutex_unlock(&db->mu);
			return NULL;
		}
		atomic_fetch_add(&db->open, 1);
	}
	held_add(s);
	return s->conn;
}

PGconn *claw_db_acquire(struct claw_db *db)
{
	return acquire(db, db->max - db->reserve);
}

PGconn *claw_db_acquire_reserved(struct claw_db *db)
{
	return acquire(db, db->max);
}

/* Under mu, after a connection was found broken: close the idle ones (FREE,
 * and PARKED ones taken from their thread as pick_slot would). They were
 * most likely opened to the same server, which is gone (a primary lost in
 * a failover): left in the pool, each would fail one more request or
 * worker pass after a new primary is up. The next acquires open fresh
 * connections through the host list. Returns how many were closed. */
static unsigned drop_idle(struct claw_db *db)
{
	unsigned n = 0;

	for (unsigned i = 0; i < db->max; i++) {
		struct db_slot *s = &db->slots[i];
		int want = SLOT_PARKED;

		if (atomic_load(&s->state) != SLOT_FREE &&
		    !atomic_compare_exchange_strong(&s->state, &want,
						    SLOT_BUSY))
			continue;
		if (s->conn) {
			slot_reset(s);
			atomic_fetch_sub(&db->open, 1);
			n++;
		}
		atomic_store(&s->state, SLOT_FREE);
	}
	return n;
}

static struct db_slot *slot_of(struct claw_db *db, PGconn *c)
{
	struct db_slot *s = held_find(c);

	if (s)
		return s;
	for (unsigned i = 0; i < db->max; i++)
		if (db->slots[i].conn == c)
			return &db->slots[i];
	return NULL;
}

void claw_db_release(struct claw_db *db, PGconn *conn)
{
	struct db_slot *s;
	bool drop = false;

	if (!conn)
		return;
	s = slot_of(db, conn);
	if (!s)
		claw_fatal(
			"claw_db_release of a connection not from this pool");
	held_remove(s);
	if (PQstatus(conn) == CONNECTION_OK &&
	    PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
	if (PQstatus(conn) != CONNECTION_OK ||
	    PQtransactionStatus(conn) != PQTRANS_IDLE) {
		slot_reset(s);
		drop = true;
	}
	if (drop)
		atomic_fetch_sub(&db->open, 1);
	atomic_fetch_sub(&db->in_use, 1);
	pthread_mutex_lock(&db->mu);
	if (drop) {
		unsigned n = drop_idle(db);

		if (n)
			log_info("a database connection broke; %u idle closed",
				 n);
	}
	if (db->waiting == 0 && db->waiting_reserved == 0 && !drop &&
	    !(parked && parked_gen == db->gen)) {
		/* keep a claim: this thread's next acquire takes it back */
		atomic_store(&s->state, SLOT_PARKED);
		parked = s;
		parked_gen = db->gen;
	} else {
		slot_freed(db, s);
	}
	pthread_mutex_unlock(&db->mu);
}

static int stmt_id(struct claw_db_stmt *st)
{
	int id = __atomic_load_n(&st->id, __ATOMIC_ACQUIRE);

	if (id == 0) {
		int fresh = atomic_fetch_add(&next_stmt_id, 1);
		int expected = 0;

		if (__atomic_compare_exchange_n(&st->id, &expected, fresh,
						false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			id = fresh;
		else
			id = expected;
	}
	return id;
}

static bool slot_prepared(struct db_slot *s, int id)
{
	return (size_t)id < s->prepared_cap && s->prepared[id];
}

static enum claw_rc slot_mark(struct db_slot *s, int id)
{
	if ((size_t)id >= s->prepared_cap) {
		size_t cap = s->prepared_cap ? s->prepared_cap : 64;
		unsigned char *p;

		while (cap <= (size_t)id)
			cap *= 2;
		p = realloc(s->prepared, cap);
		if (!p)
			return CLAW_ERR_NOMEM;
		memset(p + s->prepared_cap, 0, cap - s->prepared_cap);
		s->prepared = p;
		s->prepared_cap = cap;
	}
	s->prepared[id] = 1;
	return CLAW_OK;
}

/* Turn a finished result into a code, keeping the SQLSTATE. */
static enum claw_rc check_result(PGconn *c, PGresult *r, const char *what)
{
	const char *state, *msg;
	ExecStatusType st;

	if (!r) {
		snprintf(last_sqlstate, sizeof(last_sqlstate), "08006");
		log_error("database call '%s' failed: no result", what);
		return CLAW_ERR_IO;
	}
	st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		last_sqlstate[0] = '\0';
		return CLAW_OK;
	}
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	snprintf(last_sqlstate, sizeof(last_sqlstate), "%s",
		 state ? state : "XX000");
	if (PQstatus(c) != CONNECTION_OK) {
		log_error("database connection lost during '%s'", what);
		return CLAW_ERR_IO;
	}
	if (!strncmp(last_sqlstate, "22", 2) ||
	    !strncmp(last_sqlstate, "23", 2)) {
		log_debug("database call '%s': %s (%s)", what, msg ? msg : "?",
			  last_sqlstate);
		return CLAW_ERR_INVALID;
	}
	if (claw_db_retryable(last_sqlstate)) {
		log_info("database call '%s' must be retried (%s)", what,
			 last_sqlstate);
		return CLAW_ERR_INTERNAL;
	}
	log_error("database call '%s' failed: %s (%s)", what, msg ? msg : "?",
		  last_sqlstate);
	return CLAW_ERR_INTERNAL;
}

enum claw_rc claw_db_exec(PGconn *conn, struct claw_db_stmt *st, int nparams,
			  const char *const *params, PGresult **res)
{
	struct db_slot *s = held_find(conn);
	enum claw_rc rc;
	PGresult *r;

	if (res)
		*res = NULL;
	if (!s) {
		r = PQexecParams(conn, st->sql, nparams, NULL, params, NULL,
				 NULL, 0);
	} else {
		int id = stmt_id(st);

		if (!slot_prepared(s, id)) {
			r = PQprepare(conn, st->name, st->sql, 0, NULL);
			rc = check_result(conn, r, st->name);
			PQclear(r);
			if (rc)
				return rc;
			rc = slot_mark(s, id);
			if (rc)
				return rc;
		}
		r = PQexecPrepared(conn, st->name, nparams, params, NULL, NULL,
				   0);
	}
	rc = check_result(conn, r, st->name);
	if (rc || !res)
		PQclear(r);
	else
		*res = r;
	return rc;
}

enum claw_rc claw_db_exec_sql(PGconn *conn, const char *sql, PGresult **res)
{
	PGresult *r = PQexec(conn, sql);
	char what[48];
	enum claw_rc rc;

	first_line(sql, what, sizeof(what));
	if (res)
		*res = NULL;
	rc = check_result(conn, r, what);
	if (rc || !res)
		PQclear(r);
	else
		*res = r;
	return rc;
}

const char *claw_db_last_sqlstate(void)
{
	return last_sqlstate;
}

bool claw_db_retryable(const char *sqlstate)
{
	return !strcmp(sqlstate, "40001") || !strcmp(sqlstate, "40P01");
}

static const char *begin_sql(enum claw_db_isolation iso)
{
	switch (iso) {
	case CLAW_DB_SERIALIZABLE:
		return "BEGIN ISOLATION LEVEL SERIALIZABLE";
	case CLAW_DB_REPEATABLE_READ:
		return "BEGIN ISOLATION LEVEL REPEATABLE READ";
	case CLAW_DB_READ_COMMITTED:
		break;
	}
	return "BEGIN ISOLATION LEVEL READ COMMITTED";
}

static void backoff(int attempt)
{
	unsigned us = (unsigned)(1000 * (1 << attempt));
	struct timespec ts;

	us += (unsigned)(clock() % 1000);
	ts.tv_sec = 0;
	ts.tv_nsec = (long)us * 1000L;
	nanosleep(&ts, NULL);
}

static enum claw_rc commit(PGconn *conn)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec_sql(conn, "COMMIT", &r);

	/* COMMIT of an aborted transaction "succeeds" as ROLLBACK. */
	if (!rc && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		log_error("transaction was rolled back at commit");
		rc = CLAW_ERR_INTERNAL;
	}
	PQclear(r);
	return rc;
}

enum claw_rc claw_db_tx_conn(PGconn *conn, enum claw_db_isolation iso,
			     claw_db_tx_fn fn, void *cls)
{
	enum claw_rc rc = CLAW_ERR_INTERNAL;

	for (int attempt = 0; attempt < DB_TX_ATTEMPTS; attempt++) {
		rc = claw_db_exec_sql(conn, begin_sql(iso), NULL);
		if (rc)
			return rc;
		rc = fn(conn, cls);
		if (!rc) {
			rc = commit(conn);
		} else {
			char state[6];

			memcpy(state, last_sqlstate, sizeof(state));
			PQclear(PQexec(conn, "ROLLBACK"));
			memcpy(last_sqlstate, state, sizeof(state));
		}
		if (!rc || !claw_db_retryable(last_sqlstate) ||
		    PQstatus(conn) != CONNECTION_OK)
			return rc;
		backoff(attempt);
	}
	log_warn("transaction gave up after %d serialization retries",
		 DB_TX_ATTEMPTS);
	return rc;
}

enum claw_rc claw_db_tx(struct claw_db *db, enum claw_db_isolation iso,
			claw_db_tx_fn fn, void *cls)
{
	PGconn *c = claw_db_acquire(db);
	enum claw_rc rc;

	if (!c)
		return CLAW_ERR_IO;
	rc = claw_db_tx_conn(c, iso, fn, cls);
	claw_db_release(db, c);
	return rc;
}

void claw_db_get_stats(struct claw_db *db, struct claw_db_stats *out)
{
	pthread_mutex_lock(&db->mu);
	out->waiting = db->waiting + db->waiting_reserved;
	pthread_mutex_unlock(&db->mu);
	out->size = atomic_load(&db->open);
	out->in_use = atomic_load(&db->in_use);
	out->max = db->max;
	out->acquires = atomic_load(&db->acquires);
	out->waits = atomic_load(&db->waits);
	out->errors = atomic_load(&db->errors);
}

const char *claw_db_value(const PGresult *res, int row, int col)
{
	if (!res || row < 0 || col < 0 || row >= PQntuples(res) ||
	    col >= PQnfields(res) || PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}
