/*
 * relay.c - the relay rows' calls and the LISTEN thread (see relay.h).
 *
 * The listener holds a connection of its own, outside the pool, made with
 * the pool's connection parameters (PQconninfo of a pooled connection:
 * the embedded cluster's socket or --database-url, whichever it is). It
 * is started by the first relay call or long poll of the process and runs
 * until the process ends; when its connection breaks it reconnects every
 * two seconds and wakes every waiter once it is back (notifications sent
 * meanwhile were lost).
 */
#include "relay.h"

#include <poll.h>
#include <pthread.h>
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
	/* the pool's parameters, kept for reconnecting (the thread's) */
	char *keys[PARAMS_MAX], *values[PARAMS_MAX];
	PGconn *conn;
} lis = {.mu = PTHREAD_MUTEX_INITIALIZER};

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

static void *listen_main(void *arg)
{
	bool warned = false;

	(void)arg;
	for (;;) {
		struct pollfd p;
		bool woke = false;
		PGnotify *n;

		if (!lis.conn) {
			if (!(lis.conn = listen_connect())) {
				if (!warned)
					log_warn("relay: cannot LISTEN; other "
						 "replicas' answers are seen "
						 "within a second");
				warned = true;
				sleep(2);
				continue;
			}
			warned = false;
			cp_fleet_wake(); /* what came meanwhile */
		}
		p = (struct pollfd){.fd = PQsocket(lis.conn), .events = POLLIN};
		if (poll(&p, 1, 5000) < 0)
			continue;
		if (!PQconsumeInput(lis.conn) ||
		    PQstatus(lis.conn) != CONNECTION_OK) {
			PQfinish(lis.conn);
			lis.conn = NULL;
			continue;
		}
		while ((n = PQnotifies(lis.conn))) {
			woke = true;
			PQfreemem(n);
		}
		if (woke)
			cp_fleet_wake();
	}
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

void cp_relay_listen(struct claw_db *db)
{
	pthread_t t;

	pthread_mutex_lock(&lis.mu);
	if (!lis.started && keep_params(db)) {
		lis.started = !pthread_create(&t, NULL, listen_main, NULL);
		if (lis.started)
			pthread_detach(t);
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
		cp_fleet_wake(); /* this replica's long polls */
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
