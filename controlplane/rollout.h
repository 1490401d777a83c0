/*
 * rollout.h - fleet rollouts (docs/fleet.md, "Rollouts"): the pure rules
 * (selector and label checks, state transitions, what the next step is),
 * the worker that drives rollouts, and the deploy hooks it uses
 * (implemented in api/deploy.c, where deploys are made).
 *
 * A rollout is a row of rollouts with one row of rollout_tenants per
 * tenant its selector matched when it was created (migrations/0009). Its
 * state machine:
 *
 *   running --pause--> paused --resume--> running
 *   running|paused --abort--> aborted
 *   running --failed tenants reach failure_threshold--> halted
 *   running --every tenant healthy--> completed
 *
 * A tenant goes pending -> deploying (its batch started: a deployment was
 * made) -> healthy, or -> failed (the deployment failed, was superseded, or
 * stayed unhealthy past the step deadline; or the deploy was refused, e.g.
 * missing secrets) -> rolled_back (the rollout halted: its previous
 * deployment was redeployed). Tenants still pending when a rollout halts
 * or is aborted become skipped.
 *
 * The worker (rollout_worker.c, on every replica's sweeper thread) takes a running
 * rollout's row with FOR UPDATE SKIP LOCKED and advances it by one step in
 * that transaction, so a rollout survives the control plane restarting
 * and goes on on whichever replica gets the row next.
 */
#ifndef CP_ROLLOUT_H
#define CP_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"

#define CP_ROLLOUT_BATCH_MAX 100
#define CP_TENANT_LABELS_MAX 32

/* ---- pure rules */

/* A selector: exactly one of {"all": true}, {"labels": {k: v, ...}} (1..32
 * valid labels), {"plan": NAME}, {"tenants": [slug, ...]} (1..1000
 * slugs). -1 with msg saying what is wrong. An empty object is -2 (the
 * caller answers empty_selector). */
int cp_rollout_selector_check(const json_t *sel, char *msg, size_t msglen);

/* Tenant labels: an object of at most 32 entries; keys as Kubernetes label
 * keys (an optional DNS-subdomain prefix of up to 253 bytes and '/', then
 * a name of 1..63 of [A-Za-z0-9._-] starting and ending alphanumeric),
 * values strings of 0..63 of the same characters (non-empty ones starting
 * and ending alphanumeric). */
bool cp_tenant_labels_valid(const json_t *labels);

/* "k=v" of ?label= into key and value (copies); false when it is not a
 * valid label pair. */
bool cp_label_filter_parse(const char *s, char *key, size_t keylen, char *val,
			   size_t vallen);

/* The state after action ("pause", "resume", "abort") from state, or NULL
 * when the transition is not allowed. */
const char *cp_rollout_transition(const char *state, const char *action);

/* What the tenants of a running rollout are doing. */
struct cp_rollout_counts {
	int pending;
	int deploying;
	int healthy;
	int failed;
	int rolled_back;
	int skipped;
};

enum cp_rollout_next {
	CP_RO_WAIT,       /* a batch is still deploying */
	CP_RO_NEXT_BATCH, /* start the next batch */
	CP_RO_HALT,       /* failures reached the threshold */
	CP_RO_COMPLETE,   /* nothing left */
};

enum cp_rollout_next cp_rollout_decide(const struct cp_rollout_counts *n,
				       int failure_threshold);

/* ---- the worker (rollout_worker.c) */

/* One pass over the running rollouts (one step of every one whose row it
 * gets), each step its own transaction; the sweeper thread of every
 * replica calls it. */
enum claw_rc cp_rollout_tick(struct cp_ctx *ctx);

/* ---- deploys made by a rollout (api/deploy.c), inside the caller's
 * transaction, as the rollout's creator (audit actor: the system, the
 * rollout id in the details). */
struct cp_rollout_deploy {
	const char *rollout_id;
	const char *tenant_id;
	const char *slug;
	const json_t *images;         /* {"gateway", "runtime"}, may be NULL */
	const json_t *gateway_config; /* NULL: keep the current one */
	const json_t *runtime_config;
	long min_ready_ms; /* < 0: not given */
	/* out */
	char deployment[CP_ID_MAX];
	char previous[CP_ID_MAX]; /* "" when the tenant had none */
	char error[400];          /* why it was refused */
};

/* CLAW_OK with rd->deployment made and placed; CLAW_ERR_INVALID with
 * rd->error when it was refused (nothing written); other codes are
 * database failures. */
enum claw_rc cp_deploy_for_rollout(PGconn *c, struct cp_ctx *ctx,
				   struct cp_rollout_deploy *rd);
/* Redeploy deployment previous of the tenant (a rollback, audited as
 * "rollout.tenant.rollback"). dep_out gets the new deployment. */
enum claw_rc cp_deploy_rollback_to(PGconn *c, struct cp_ctx *ctx,
				   const char *rollout_id,
				   const char *tenant_id, const char *slug,
				   const char *previous,
				   char dep_out[CP_ID_MAX]);

#endif
