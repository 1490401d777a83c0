/*
 * alert_worker.c - the alerts worker (alert.h): one thread per process
 * that derives alerts from fleet events and sends their notifications.
 *
 * A pass: (1) derive: in one transaction, lock the cursor row (SKIP
 * LOCKED: a replica that finds it held leaves the batch to the holder),
 * read up to a batch of events after it (in transaction order, only of
 * finished transactions: cp_store_alert_events), apply what cp_alert_classify says
 * of each (fire: open the alert or count an occurrence; resolve: close the
 * open one), queue deliveries for each opened or resolved alert, add the
 * alert.fired / alert.resolved events, move the cursor; repeated while
 * batches are full. (2) deliver: claim a due delivery (a lease of
 * LEASE_S, its attempt counted), open the target's secret, send outside
 * any transaction, record the result: sent, the next attempt after
 * cp_alert_backoff_ms, or failed with the event alert.delivery_failed
 * (after CP_ALERT_ATTEMPTS, or at once when cp_notify_send says sending
 * again cannot help);
 * repeated while deliveries are due. Then it sleeps until the fleet
 * changes or POLL_MS pass (changes on other replicas are seen by polling).
 */
#include "alert.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/log.h"
#include "envelope.h"
#include "events.h"
#include "notify.h"
#include "store/alerts.h"
#include "store/common.h"
#include "store/events.h"

#define POLL_MS 500
#define LEASE_S 60
#define DATA_MAX 4096 /* of an event's data kept on the alert */

static struct {
	pthread_t thread;
	bool started;
	atomic_bool stop;
	struct cp_ctx *ctx;
} worker;

/* ---- derive */

struct derive {
	int events; /* read in this batch */
	bool busy;  /* another replica holds the cursor */
};

static enum claw_rc alert_event(PGconn *c, const char *type, long long id,
				const struct cp_alert_match *m,
				const struct cp_alert_event *ev, int suppressed)
{
	return cp_event_add(c, type, ev->tenant_id, ev->node_id,
			    json_pack("{s:I, s:s, s:s, s:s, s:i}", "alert",
				      (json_int_t)id, "kind",
				      cp_alert_kind_name(m->kind), "subject",
				      m->subject, "summary", m->summary,
				      "suppressed", suppressed));
}

static enum claw_rc apply(PGconn *c, long long event_id,
			  const struct cp_alert_event *ev,
			  const struct cp_alert_match *m)
{
	const char *kind = cp_alert_kind_name(m->kind);
	long long id = 0;
	bool fired = false;
	int suppressed = 0;
	enum claw_rc rc;

	if (m->verdict == CP_ALERT_FIRE) {
		json_t *d = json_pack("{s:I, s:s, s:O?}", "event",
				      (json_int_t)event_id, "event_type",
				      ev->type, "event_data", ev->data);
		char *text = d ? claw_json_dumps(d) : NULL;
		struct cp_alert_open a = {
			kind,
			m->subject,
			ev->tenant_id,
			ev->node_id,
			m->summary,
			text && strlen(text) < DATA_MAX ? text : NULL};

		json_decref(d);
		rc = cp_store_alert_fire(c, &a, &id, &fired);
		free(text);
		if (rc || !fired)
			return rc; /* an occurrence of the open alert */
	} else {
		rc = cp_store_alert_resolve(c, kind, m->subject, m->summary,
					    &id);
		if (rc || !id)
			return rc; /* nothing was open */
	}
	rc = cp_store_alert_enqueue(c, id, fired ? "firing" : "resolved", kind,
				    &suppressed);
	if (!rc)
		rc = alert_event(c, fired ? "alert.fired" : "alert.resolved",
				 id, m, ev, suppressed);
	if (!rc)
		log_info("alert %lld %s: %s", id, fired ? "fired" : "resolved",
			 m->summary);
	return rc;
}

static enum claw_rc derive_tx(PGconn *c, void *cls)
{
	struct derive *d = cls;
	PGresult *rows = NULL;
	struct cp_alert_cursor cur;
	enum claw_rc rc = cp_store_alert_cursor_lock(c, &cur);

	d->events = 0;
	d->busy = rc == CLAW_ERR_NOT_FOUND;
	if (d->busy)
		return CLAW_OK;
	if (!rc)
		rc = cp_store_alert_events(c, &cur, &rows);
	for (int i = 0; !rc && i < PQntuples(rows); i++) {
		struct cp_alert_match m[CP_ALERT_MATCH_MAX];
		json_t *data =
			json_loads(PQgetvalue(rows, i, CP_EC_DATA), 0, NULL);
		struct cp_alert_event ev = {
			.type = PQgetvalue(rows, i, CP_EC_TYPE),
			.tenant_id = claw_db_value(rows, i, CP_EC_TENANT_ID),
			.tenant = claw_db_value(rows, i, CP_EC_TENANT),
			.node_id = claw_db_value(rows, i, CP_EC_NODE_ID),
			.node = claw_db_value(rows, i, CP_EC_NODE),
			.data = data};
		size_t n;

		rc = cp_store_ll(rows, i, CP_EC_ID, &cur.id);
		snprintf(cur.xid, sizeof(cur.xid), "%s",
			 PQgetvalue(rows, i, CP_AEC_XID));
		n = rc ? 0 : cp_alert_classify(&ev, m);
		for (size_t k = 0; !rc && k < n; k++)
			rc = apply(c, cur.id, &ev, &m[k]);
		json_decref(data);
		d->events++;
	}
	if (!rc && d->events)
		rc = cp_store_alert_cursor_set(c, &cur);
	PQclear(rows);
	return rc;
}

/* Derive until the events run out; true when anything was read. */
static bool derive_all(struct cp_ctx *ctx)
{
	struct derive d;
	bool any = false;

	do {
		if (claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, derive_tx,
			       &d)) {
			log_warn("alerts: unable to derive alerts from events "
				 "now; trying again");
			return any;
		}
		any |= d.events > 0;
	} while (!d.busy && d.events >= CP_ALERT_EVENTS_BATCH &&
		 !atomic_load(&worker.stop));
	return any;
}

/* ---- deliver */

struct claim {
	PGresult *row;
};

static enum claw_rc claim_tx(PGconn *c, void *cls)
{
	struct claim *cl = cls;

	PQclear(cl->row);
	cl->row = NULL;
	return cp_store_alert_claim(c, LEASE_S, &cl->row);
}

struct outcome {
	const PGresult *row;
	long long id;
	int attempts;
	enum claw_rc sent;
	const char *error;
};

static enum claw_rc outcome_tx(PGconn *c, void *cls)
{
	struct outcome *o = cls;
	const PGresult *r = o->row;
	enum claw_rc rc;

	if (!o->sent)
		return cp_store_alert_sent(c, o->id);
	if (o->sent != CLAW_ERR_INVALID && o->attempts < CP_ALERT_ATTEMPTS)
		return cp_store_alert_retry(
			c, o->id, cp_alert_backoff_ms(o->attempts), o->error);
	rc = cp_store_alert_retry(c, o->id, -1, o->error);
	if (!rc)
		rc = cp_event_add(
			/* no tenant: target names and errors are the
			 * operator's, never shown to a tenant token */
			c, "alert.delivery_failed", NULL,
			claw_db_value(r, 0, CP_AC_NODE_ID),
			json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:i, s:s}",
				  "alert",
				  (json_int_t)strtoll(
					  PQgetvalue(r, 0, CP_AC_ID), NULL, 10),
				  "delivery", (json_int_t)o->id, "target",
				  PQgetvalue(r, 0, CP_AD_TARGET_NAME), "kind",
				  PQgetvalue(r, 0, CP_AC_KIND), "subject",
				  PQgetvalue(r, 0, CP_AC_SUBJECT), "status",
				  PQgetvalue(r, 0, CP_AD_STATUS), "attempts",
				  o->attempts, "error", o->error));
	return rc;
}

static void notice_of(const PGresult *r, struct cp_notice *n)
{
	bool resolved = !strcmp(PQgetvalue(r, 0, CP_AD_STATUS), "resolved");
	const char *rs = claw_db_value(r, 0, CP_AC_RESOLVE_SUMMARY);

	*n = (struct cp_notice){
		.alert_id = strtoll(PQgetvalue(r, 0, CP_AC_ID), NULL, 10),
		.delivery_id = strtoll(PQgetvalue(r, 0, CP_AD_ID), NULL, 10),
		.kind = PQgetvalue(r, 0, CP_AC_KIND),
		.subject = PQgetvalue(r, 0, CP_AC_SUBJECT),
		.status = resolved ? "resolved" : "firing",
		.summary =
			resolved && rs ? rs : PQgetvalue(r, 0, CP_AC_SUMMARY),
		.tenant_id = claw_db_value(r, 0, CP_AC_TENANT_ID),
		.node_id = claw_db_value(r, 0, CP_AC_NODE_ID),
		.fired_at = PQgetvalue(r, 0, CP_AC_FIRED_AT),
		.resolved_at = resolved ? claw_db_value(r, 0, CP_AC_RESOLVED_AT)
					: NULL,
		.occurrences =
			strtoll(PQgetvalue(r, 0, CP_AC_OCCURRENCES), NULL, 10)};
}

/* Send one due delivery; false when none was due (or the database is
 * away). */
static bool deliver_one(struct cp_ctx *ctx)
{
	struct claim cl = {0};
	struct outcome o = {0};
	struct cp_notice n;
	struct cp_notify_target t = {0};
	unsigned char *secret = NULL;
	json_t *config = NULL;
	char err[300] = "";
	enum claw_rc rc =
		claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, claim_tx, &cl);

	if (rc) {
		if (rc != CLAW_ERR_NOT_FOUND)
			log_warn("alerts: unable to claim a delivery now");
		PQclear(cl.row);
		return false;
	}
	o = (struct outcome){
		.row = cl.row,
		.id = strtoll(PQgetvalue(cl.row, 0, CP_AD_ID), NULL, 10),
		.attempts = (int)strtol(PQgetvalue(cl.row, 0, CP_AD_ATTEMPTS),
					NULL, 10),
		.error = err};
	config = json_loads(PQgetvalue(cl.row, 0, CP_AD_CONFIG), 0, NULL);
	t.type = PQgetvalue(cl.row, 0, CP_AD_TYPE);
	t.config = config;
	o.sent =
		cp_store_alert_secret_open(ctx, cl.row, &secret, &t.secret_len);
	if (o.sent) {
		snprintf(err, sizeof(err), "the target's secret does not open");
		o.sent = CLAW_ERR_INVALID; /* no retry mends it */
	} else {
		t.secret = (const char *)secret;
		notice_of(cl.row, &n);
		o.sent = cp_notify_send(&t, &n, err, sizeof(err));
	}
	if (o.sent)
		log_warn("alerts: delivery %lld to target '%s' (attempt %d): "
			 "%s",
			 o.id, PQgetvalue(cl.row, 0, CP_AD_TARGET_NAME),
			 o.attempts, err);
	if (claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, outcome_tx, &o))
		log_warn("alerts: unable to record delivery %lld; it is sent "
			 "again when its lease ends",
			 o.id);
	cp_env_secret_free(secret);
	json_decref(config);
	PQclear(cl.row);
	return true;
}

static void *run(void *arg)
{
	struct cp_ctx *ctx = arg;
	uint64_t seen = cp_fleet_seq();

	while (!atomic_load(&worker.stop)) {
		bool derived = derive_all(ctx);

		while (!atomic_load(&worker.stop) && deliver_one(ctx))
			;
		if (!derived)
			seen = cp_fleet_wait(seen, POLL_MS);
	}
	return NULL;
}

int cp_alerts_start(struct cp_ctx *ctx, char *errbuf, size_t errlen)
{
	if (worker.started)
		return 0;
	worker.ctx = ctx;
	atomic_store(&worker.stop, false);
	if (pthread_create(&worker.thread, NULL, run, ctx)) {
		snprintf(errbuf, errlen, "unable to start the alerts worker");
		return -1;
	}
	worker.started = true;
	return 0;
}

void cp_alerts_stop(struct cp_ctx *ctx)
{
	(void)ctx;
	if (!worker.started)
		return;
	atomic_store(&worker.stop, true);
	cp_fleet_wake();
	pthread_join(worker.thread, NULL);
	worker.started = false;
}

/* ---- /metrics */

/* v as a Prometheus label value: \ " and newline escaped. */
static enum claw_rc label(struct claw_buf *out, const char *v)
{
	enum claw_rc rc = CLAW_OK;

	for (; !rc && *v; v++)
		rc = *v == '\\'      ? claw_buf_puts(out, "\\\\")
			: *v == '"'  ? claw_buf_puts(out, "\\\"")
			: *v == '\n' ? claw_buf_puts(out, "\\n")
				     : claw_buf_append(out, v, 1);
	return rc;
}

static enum claw_rc render_firing(const PGresult *r, struct claw_buf *out)
{
	enum claw_rc rc = claw_buf_puts(
		out,
		"# HELP claw_alert_firing One sample per open alert "
		"(docs/alerts.md).\n# TYPE claw_alert_firing gauge\n");

	for (int i = 0; !rc && i < PQntuples(r); i++) {
		rc = claw_buf_printf(out,
				     "claw_alert_firing{kind=\"%s\","
				     "subject=\"",
				     PQgetvalue(r, i, 0));
		if (!rc)
			rc = label(out, PQgetvalue(r, i, 1));
		if (!rc)
			rc = claw_buf_puts(out, "\",tenant=\"");
		if (!rc)
			rc = label(out, PQgetvalue(r, i, 2));
		if (!rc)
			rc = claw_buf_puts(out, "\",node=\"");
		if (!rc)
			rc = label(out, PQgetvalue(r, i, 3));
		if (!rc)
			rc = claw_buf_puts(out, "\"} 1\n");
	}
	return rc;
}

static const char *const node_states[] = {"ready", "down", "revoked"};

enum claw_rc cp_alert_metrics_render(struct claw_db *db, struct claw_buf *out)
{
	PGconn *c = db ? claw_db_acquire(db) : NULL;
	PGresult *r = NULL, *firing = NULL;
	long long open[CP_AK__COUNT] = {0}, nodes[3] = {0}, failed = 0, v;
	enum claw_rc rc = c ? cp_store_alert_counts(c, &r) : CLAW_ERR_IO;

	if (!rc)
		rc = cp_store_alert_firing(c, &firing);
	if (c)
		claw_db_release(db, c);
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		const char *what = PQgetvalue(r, i, 0),
			   *key = PQgetvalue(r, i, 1);
		int k = cp_alert_kind_parse(key);

		rc = cp_store_ll(r, i, 2, &v);
		if (rc)
			break;
		if (!strcmp(what, "failed"))
			failed = v;
		else if (!strcmp(what, "kind") && k >= 0)
			open[k] = v;
		for (size_t s = 0; !strcmp(what, "nodes") && s < 3; s++)
			if (!strcmp(key, node_states[s]))
				nodes[s] = v;
	}
	PQclear(r);
	if (!rc)
		rc = claw_buf_puts(out,
				   "# HELP claw_alerts_open Open alerts "
				   "of each kind (docs/alerts.md).\n"
				   "# TYPE claw_alerts_open gauge\n");
	for (int k = 0; !rc && k < CP_AK__COUNT; k++)
		rc = claw_buf_printf(out,
				     "claw_alerts_open{kind=\"%s\"} %lld\n",
				     cp_alert_kind_name(k), open[k]);
	if (!rc)
		rc = render_firing(firing, out);
	if (!rc)
		rc = claw_buf_puts(out,
				   "# HELP claw_nodes Nodes of the fleet "
				   "by status.\n# TYPE claw_nodes gauge\n");
	for (size_t s = 0; !rc && s < 3; s++)
		rc = claw_buf_printf(out, "claw_nodes{status=\"%s\"} %lld\n",
				     node_states[s], nodes[s]);
	if (!rc)
		rc = claw_buf_printf(
			out,
			"# HELP claw_alert_deliveries_failed_total Alert "
			"notifications given up after every retry.\n"
			"# TYPE claw_alert_deliveries_failed_total counter\n"
			"claw_alert_deliveries_failed_total %lld\n",
			failed);
	PQclear(firing);
	return rc;
}
