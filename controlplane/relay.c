/*
 * relay.c - the relay rows' calls and the LISTEN thread (see relay.h).
 *
 * The listener holds a connection of its own, outside the pool, made with
 * the pool's connection parameters (PQconninfo of a pooled connection:
 * the embedded cluster's socket or --database-url, whichever it is). It
 * is started by the first relay call or long poll of the process and runs
 * until cp_relay_stop() (main's shut-down, after the HTTP server's). A
 * notification 'node:ID' (or 'node:*') wakes that node's long polls
 * (events.h), any other the fleet's waiters. When its connection breaks
 * it reconnects every two seconds and wakes every waiter once it is back
 * (notifications sent meanwhile were lost). A pipe wakes its poll for the
 * stop.
 */
#include "relay.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claw/json.h"
#include "claw/log.h"
#include "events.h"
#include "store/relay.h"
#include "validate.h"

#define PARAMS_MAX 64

static struct {
	pthread_mutex_t mu;
	bool started;
	pthread_t thread;
	int stop_pipe[2]; /* written once by cp_relay_stop */
	/* the pool's parameters, kept for reconnecting (the thread's) */
	char *keys[PARAMS_MAX], *values[PARAMS_MAX];
	PGconn *conn;
	atomic_bool up; /* conn LISTENs (read by the long polls) */
} lis = {.mu = PTHREAD_MUTEX_INITIALIZER, .stop_pipe = {-1, -1}};

static PGconn *listen_connect(void)
{
	PGconn *c = PQconnectdbParams((const char *const *)lis.keys,
				      (const char *const *)lis.values, 0);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	r = PQexec(c, "LISTEN claw_wake");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		PQclear(r);
		PQfinish(c);
		return NULL;
	}
	PQclear(r);
	return c;
}

/* Wait up to ms for the connection's socket (fd, or none: -1) or the
 * stop; false once stopped. */
static bool wait_for(int fd, int ms)
{
	struct pollfd p[2] = {{.fd = lis.stop_pipe[0], .events = POLLIN},
			      {.fd = fd, .events = POLLIN}};

	return poll(p, fd < 0 ? 1 : 2, ms) <= 0 || !p[0].revents;
}

static void *listen_main(void *arg)
{
	bool warned = false;

	(void)arg;
	for (;;) {
		bool woke = false;
		PGnotify *n;

		if (!lis.conn) {
			if (!(lis.conn = listen_connect())) {
				if (!warned)
					log_warn("relay: cannot LISTEN; other "
						 "replicas' answers are seen "
						 "within a second");
				warned = true;
				if (!wait_for(-1, 2000))
					break;
				continue;
			}
			warned = false;
			atomic_store(&lis.up, true);
			/* what came meanwhile */
			cp_fleet_wake();
			cp_node_wake_all();
		}
		if (!wait_for(PQsocket(lis.conn), 5000))
			break;
		if (!PQconsumeInput(lis.conn) ||
		    PQstatus(lis.conn) != CONNECTION_OK) {
			atomic_store(&lis.up, false);
			PQfinish(lis.conn);
			lis.conn = NULL;
			continue;
		}
		while ((n = PQnotifies(lis.conn))) {
			if (!strncmp(n->extra, "node:", 5))
				cp_node_wake(n->extra + 5);
			else
				woke = true;
			PQfreemem(n);
		}
		if (woke)
			cp_fleet_wake();
	}
	atomic_store(&lis.up, false);
	PQfinish(lis.conn);
	lis.conn = NULL;
	return NULL;
}

/* The pool's parameters out of a pooled connection; false when there is
 * none to be had (the next call tries again). */
static bool keep_params(struct claw_db *db)
{
	PGconn *c = claw_db_acquire(db);
	PQconninfoOption *o = c ? PQconninfo(c) : NULL;
	size_t n = 0;

	for (PQconninfoOption *i = o; i && i->keyword && n < PARAMS_MAX - 1;
	     i++) {
		if (!i->val || !*i->val)
			continue;
		lis.keys[n] = strdup(i->keyword);
		lis.values[n] = strdup(i->val);
		if (!lis.keys[n] || !lis.values[n]) {
			free(lis.keys[n]);
			free(lis.values[n]);
			lis.keys[n] = lis.values[n] = NULL;
			break;
		}
		n++;
	}
	if (o)
		PQconninfoFree(o);
	if (c)
		claw_db_release(db, c);
	return n > 0;
}

static void free_params(void)
{
	for (size_t i = 0; i < PARAMS_MAX; i++) {
		free(lis.keys[i]);
		free(lis.values[i]);
		lis.keys[i] = lis.values[i] = NULL;
	}
}

static void close_pipe(void)
{
	for (int i = 0; i < 2; i++) {
		if (lis.stop_pipe[i] >= 0)
			close(lis.stop_pipe[i]);
		lis.stop_pipe[i] = -1;
	}
}

void cp_relay_listen(struct claw_db *db)
{
	pthread_mutex_lock(&lis.mu);
	if (!lis.started && !pipe2(lis.stop_pipe, O_CLOEXEC)) {
		lis.started = keep_params(db) &&
			!pthread_create(&lis.thread, NULL, listen_main, NULL);
		if (!lis.started) {
			free_params();
			close_pipe();
		}
	}
	pthread_mutex_unlock(&lis.mu);
}

bool cp_relay_listening(void)
{
	return atomic_load(&lis.up);
}

void cp_relay_stop(void)
{
	pthread_mutex_lock(&lis.mu);
	if (lis.started) {
		if (write(lis.stop_pipe[1], "", 1) != 1)
			log_warn("relay: cannot stop the LISTEN thread");
		else
			pthread_join(lis.thread, NULL);
		free_params();
		close_pipe();
		lis.started = false;
	}
	pthread_mutex_unlock(&lis.mu);
}

enum claw_rc cp_relay_leave(struct claw_db *db, const char *kind,
			    const char *node_id, json_t *call_steal, int ttl_s,
			    char id[CP_ID_MAX])
{
	char prefix[8];
	char *text = NULL;
	enum claw_rc rc = CLAW_ERR_NOMEM;
	PGconn *c;

	cp_relay_listen(db);
	snprintf(prefix, sizeof(prefix), "%s_", kind);
	cp_id_new(prefix, id, CP_ID_MAX);
	if (call_steal &&
	    !json_object_set_new(call_steal, "id", json_string(id)))
		text = claw_json_dumps(call_steal);
	json_decref(call_steal);
	if (!text)
		return rc;
	c = claw_db_acquire(db);
	rc = c ? cp_store_relay_leave(c, id, kind, node_id, text, ttl_s)
	       : CLAW_ERR_IO;
	if (c)
		claw_db_release(db, c);
	free(text);
	if (!rc)
		cp_node_wake(node_id); /* its long poll, if here */
	return rc;
}

bool cp_relay_pending(PGconn *c, const char *node_id)
{
	long long n = 0;

	return !cp_store_relay_pending(c, node_id, CP_RELAY_TAKE_S, &n) &&
		n > 0;
}

void cp_relay_take(struct claw_db *db, const char *node_id, json_t *doc)
{
	json_t *logs = json_array(), *rpc = json_array();
	PGresult *rows = NULL;
	PGconn *c = claw_db_acquire(db);

	cp_relay_listen(db);
	if (c && !cp_store_relay_take(c, node_id, CP_RELAY_TAKE_S, &rows)) {
		for (int i = 0; i < PQntuples(rows); i++) {
			json_t *call =
				json_loads(PQgetvalue(rows, i, 1), 0, NULL);

			if (call)
				json_array_append_new(
					strcmp(PQgetvalue(rows, i, 0), "log")
						? rpc
						: logs,
					call);
		}
	}
	PQclear(rows);
	if (c)
		claw_db_release(db, c);
	json_object_set_new(doc, "logs", logs);
	json_object_set_new(doc, "rpc", rpc);
}

void cp_relay_drop(struct claw_db *db, const char *id)
{
	PGconn *c = claw_db_acquire(db);

	if (c) {
		if (cp_store_relay_drop(c, id))
			log_warn("relay: call %s stays until it expires", id);
		claw_db_release(db, c);
	}
}
