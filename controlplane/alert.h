/*
 * alert.h - alerts derived from fleet events, and the worker that keeps
 * them and notifies the operator's targets (docs/alerts.md).
 *
 * Every alert comes from an event the platform already records
 * (cp_event_add's stream, fleet_events): cp_alert_classify says what one
 * event means (fire an alert of a kind about a subject, resolve one, or
 * nothing). The worker (alert_worker.c) reads the events after its cursor
 * in one transaction per batch, applies what they mean to the alerts table
 * (one open alert per kind and subject: a second failure counts as an
 * occurrence of the first), queues one delivery per change and target
 * (a target over its max_per_hour gets the delivery marked suppressed),
 * records the events alert.fired and alert.resolved, and moves the cursor:
 * all in that transaction, so a restart neither fires twice nor loses an
 * event. It then sends the due deliveries (notify.h), each retried with
 * exponential backoff; one that gives up is the event
 * alert.delivery_failed. Any replica may run the worker: the cursor row is
 * locked while a batch is derived and deliveries are leased.
 */
#ifndef CP_ALERT_H
#define CP_ALERT_H

#include <stddef.h>
#include <jansson.h>

#include "claw/buf.h"
#include "claw/db.h"
#include "claw/err.h"
#include "cp.h"

/* ---- kinds, and what an event means (alert_rules.c, pure) */

#define CP_ALERT_KINDS(X)                                                      \
	X(CRASH_LOOP, "crash_loop")                                            \
	X(DEPLOY_FAILED, "deploy_failed")                                      \
	X(ROLLOUT_HALTED, "rollout_halted")                                    \
	X(NODE_LOST, "node_lost")                                              \
	X(QUOTA_EXHAUSTED, "quota_exhausted")                                  \
	X(CERT_EXPIRING, "cert_expiring")

enum cp_alert_kind {
#define CP_AK_ENUM(n, s) CP_AK_##n,
	CP_ALERT_KINDS(CP_AK_ENUM)
#undef CP_AK_ENUM
	CP_AK__COUNT
};

/* "crash_loop", ...; static. */
const char *cp_alert_kind_name(enum cp_alert_kind k);
/* -1 when name is no kind. */
int cp_alert_kind_parse(const char *name);

enum cp_alert_verdict {
	CP_ALERT_FIRE = 1,
	CP_ALERT_RESOLVE
};

#define CP_ALERT_SUBJECT_MAX 300
#define CP_ALERT_SUMMARY_MAX 600
#define CP_ALERT_MATCH_MAX 2

struct cp_alert_match {
	enum cp_alert_verdict verdict;
	enum cp_alert_kind kind;
	char subject[CP_ALERT_SUBJECT_MAX + 1]; /* tenant, node, rollout id,
						 * domain */
	char summary[CP_ALERT_SUMMARY_MAX + 1]; /* one line, for people */
};

/* One event as the worker reads it (every string may be NULL but type). */
struct cp_alert_event {
	const char *type;
	const char *tenant_id, *tenant; /* id and slug */
	const char *node_id, *node;     /* id and name */
	const json_t *data;             /* the event's data object */
};

/* What ev means: fills up to CP_ALERT_MATCH_MAX matches and returns how
 * many (0: nothing). Events the alerts write themselves (alert.*) mean
 * nothing. */
size_t cp_alert_classify(const struct cp_alert_event *ev,
			 struct cp_alert_match out[CP_ALERT_MATCH_MAX]);

/* ---- the worker (alert_worker.c) */

/* Start the worker thread on ctx (after the hooks: it needs the database
 * and the secrets' key ring). 0, or -1 with errbuf. */
int cp_alerts_start(struct cp_ctx *ctx, char *errbuf, size_t errlen);
/* Stop it and wait for it (a no-op when it never started). */
void cp_alerts_stop(struct cp_ctx *ctx);

/* Backoff before attempt n + 1 after n failed attempts (1 s doubling, at
 * most 5 minutes); after CP_ALERT_ATTEMPTS attempts a delivery fails. */
#define CP_ALERT_ATTEMPTS 6
long cp_alert_backoff_ms(int attempts);

/* ---- /metrics, read from the database at each scrape (every replica
 * shows the same): claw_alerts_open{kind} (open alerts of each kind, 0
 * included), claw_alert_firing{kind,subject,tenant,node} 1 per open alert
 * (at most 1000), claw_nodes{status} and
 * claw_alert_deliveries_failed_total. Appends to out; the series
 * deploy/prometheus/claw-alerts.yml's rules use. */
enum claw_rc cp_alert_metrics_render(struct claw_db *db, struct claw_buf *out);

#endif
