/*
 * alerts.h - queries on alert_targets, alerts, alert_deliveries and
 * alert_cursor (store/alerts.c; migrations/0011_alerts.sql), and the
 * sealing of a target's secret. Same rules as store.h: each runs on the
 * caller's connection, inside its transaction when it has one.
 */
#ifndef CP_STORE_ALERTS_H
#define CP_STORE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"

/* ---- targets */

struct cp_alert_target_new {
	const char *id;     /* "atg_..." */
	const char *name;   /* a DNS label */
	const char *type;   /* webhook, slack, email */
	const char *config; /* JSON object text, nothing secret */
	const char *kinds;  /* PostgreSQL array text "{a,b}", or NULL: all */
	long max_per_hour;
	const char *secret; /* NULL: none; sealed here, never stored plain */
	size_t secret_len;
};

/* Columns of a target row (list, get, insert). */
enum cp_alert_target_col {
	CP_ATC_ID,
	CP_ATC_NAME,
	CP_ATC_TYPE,
	CP_ATC_CONFIG,
	CP_ATC_KINDS, /* JSON array text, or NULL */
	CP_ATC_MAX_PER_HOUR,
	CP_ATC_SECRET_SET, /* "t"/"f" */
	CP_ATC_CREATED_AT,
};

/* Insert t, its secret sealed under a data key of its own wrapped under
 * the active master key (ctx->secrets). *row: the new row. INVALID with
 * SQLSTATE 23505 when the name is taken. */
enum claw_rc cp_store_alert_target_insert(struct cp_ctx *ctx, PGconn *c,
					  const struct cp_alert_target_new *t,
					  PGresult **row);
enum claw_rc cp_store_alert_target_list(PGconn *c, PGresult **rows);
/* By id or name; NOT_FOUND. */
enum claw_rc cp_store_alert_target_get(PGconn *c, const char *id_or_name,
				       PGresult **row);
/* By id or name (the row deleted returned, for the audit); NOT_FOUND. */
enum claw_rc cp_store_alert_target_delete(PGconn *c, const char *id_or_name,
					  PGresult **row);

/* ---- the cursor and alerts (the worker's derive transaction) */

/* The last event derived: its transaction id (xid8 as text) and id. */
struct cp_alert_cursor {
	char xid[24];
	long long id;
};
/* Lock the cursor and read it. NOT_FOUND when another transaction holds
 * it (another replica is deriving). */
enum claw_rc cp_store_alert_cursor_lock(PGconn *c, struct cp_alert_cursor *cur);
enum claw_rc cp_store_alert_cursor_set(PGconn *c,
				       const struct cp_alert_cursor *cur);
/* Up to CP_ALERT_EVENTS_BATCH events after cur in (xid, id) order, only
 * of transactions older than every one still running (so none can
 * appear behind the cursor later): the columns of cp_store_events_since
 * (store/events.h, CP_EC_*), then CP_AEC_XID. */
#define CP_ALERT_EVENTS_BATCH 200
#define CP_AEC_XID 8
enum claw_rc cp_store_alert_events(PGconn *c, const struct cp_alert_cursor *cur,
				   PGresult **rows);

struct cp_alert_open {
	const char *kind, *subject, *tenant_id, *node_id, *summary;
	const char *data; /* JSON object text */
};
/* Open the alert (kind, subject) or count one more occurrence of the open
 * one: *id, and *fired true when it was opened now. */
enum claw_rc cp_store_alert_fire(PGconn *c, const struct cp_alert_open *a,
				 long long *id, bool *fired);
/* Resolve the open alert (kind, subject) with summary: *id, 0 when none
 * was open. */
enum claw_rc cp_store_alert_resolve(PGconn *c, const char *kind,
				    const char *subject, const char *summary,
				    long long *id);
/* One delivery of alert id telling status ("firing"/"resolved") for
 * each target that takes kind: pending, or suppressed for a target that
 * already had max_per_hour deliveries in the last hour. *suppressed:
 * how many were. */
enum claw_rc cp_store_alert_enqueue(PGconn *c, long long id, const char *status,
				    const char *kind, int *suppressed);

/* Columns of GET /v1/alerts rows. */
enum cp_alert_col {
	CP_AC_ID,
	CP_AC_KIND,
	CP_AC_SUBJECT,
	CP_AC_TENANT_ID,
	CP_AC_NODE_ID,
	CP_AC_SUMMARY,
	CP_AC_RESOLVE_SUMMARY,
	CP_AC_STATE,
	CP_AC_OCCURRENCES,
	CP_AC_FIRED_AT,
	CP_AC_LAST_SEEN_AT,
	CP_AC_RESOLVED_AT,
	CP_AC_DELIVERIES, /* JSON array of {target, status, state, attempts,
			     last_error} */
	CP_AC__COUNT
};
/* Open alerts and those resolved in the last 7 days, newest first (at
 * most 200); only open ones with open_only. */
enum claw_rc cp_store_alert_list(PGconn *c, bool open_only, PGresult **rows);

/* ---- deliveries (the worker's send loop) */

/* Columns of a claimed delivery: the alert's CP_AC_* columns first
 * (CP_AC_DELIVERIES excluded), then these. */
enum cp_alert_delivery_col {
	CP_AD_ID = CP_AC_DELIVERIES,
	CP_AD_ATTEMPTS,
	CP_AD_STATUS,
	CP_AD_TARGET_ID,
	CP_AD_TARGET_NAME,
	CP_AD_TYPE,
	CP_AD_CONFIG,
	CP_AD_MK_VERSION,
	CP_AD_WRAPPED_KEY,
	CP_AD_SECRET,
};
/* Take the oldest due pending delivery for lease_s seconds (its attempt
 * counted): one row, or NOT_FOUND when none is due. */
enum claw_rc cp_store_alert_claim(PGconn *c, int lease_s, PGresult **row);
enum claw_rc cp_store_alert_sent(PGconn *c, long long id);
/* Try again in delay_ms, or (delay_ms < 0) give up: failed. */
enum claw_rc cp_store_alert_retry(PGconn *c, long long id, long delay_ms,
				  const char *error);

/* The secret of a claimed delivery row, opened: *plain (sodium memory,
 * NUL-terminated; free with cp_env_secret_free), NULL when it has none. */
enum claw_rc cp_store_alert_secret_open(struct cp_ctx *ctx, const PGresult *row,
					unsigned char **plain, size_t *len);

/* ---- metrics: rows (what, key, count): ("kind", KIND, open alerts),
 * ("failed", "", failed deliveries), ("nodes", STATUS, nodes). */
enum claw_rc cp_store_alert_counts(PGconn *c, PGresult **rows);
/* The open alerts (at most 1000, oldest first): kind, subject, tenant
 * slug ("" if none), node name ("" if none). */
enum claw_rc cp_store_alert_firing(PGconn *c, PGresult **rows);

#endif
