/*
 * checkpointer.c - write signed audit checkpoints: at start, every
 * audit-checkpoint-interval-s while the chain head moves, and at a clean
 * stop; see checkpointer.h.
 *
 * One thread sleeps on a condition variable (CLOCK_MONOTONIC) between
 * checkpoints; stop wakes it, joins it and writes the stop checkpoint from
 * the main thread. Every write holds mu, and so does reading the file back,
 * so a reader never sees a half-written line of this process. A head that
 * went back (fewer rows, or a lower last id, than the last checkpoint
 * written) is logged as an error at once: nothing but tampering does that.
 *
 * At start it also warns when the daemon's database role could change the
 * audit log (one role for migrations and serving): checkpoints still show
 * tampering then, but the role split (db_roles.c) is what stops it.
 */
#include "checkpointer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claw/crypto.h"
#include "claw/db.h"
#include "claw/log.h"
#include "store/audit_checkpoint.h"

#define CKPT_FILE_MAX_LINES 1000000 /* verify reads at most this many */

struct cp_checkpointer {
	char *file;
	long interval_s;
	struct claw_db *db; /* borrowed: ctx->db */
	struct cp_ckpt_signer *signer;
	struct claw_ckpt_keys keys;
	pthread_mutex_t mu; /* writes, reads of the file, last, stopping */
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stopping;
	bool have_last;
	struct cp_audit_head last; /* of the last checkpoint written */
};

static char *path_or_default(const char *given, const char *data_dir,
			     const char *name)
{
	size_t len;
	char *p;

	if (given)
		return strdup(given);
	len = strlen(data_dir) + strlen(name) + 2;
	p = malloc(len);
	if (p)
		snprintf(p, len, "%s/%s", data_dir, name);
	return p;
}

/* Sign and append a checkpoint of the head now; with skip_same, not when
 * the head is where the last checkpoint left it. */
static enum claw_rc write_checkpoint(struct cp_checkpointer *cp,
				     const char *event, bool skip_same,
				     char *errbuf, size_t errlen)
{
	struct cp_audit_head h;
	struct claw_checkpoint c;
	enum claw_rc rc;
	PGconn *conn = claw_db_acquire(cp->db);

	if (!conn) {
		snprintf(errbuf, errlen, "no database connection");
		return CLAW_ERR_IO;
	}
	rc = cp_store_audit_head_read(conn, &h);
	claw_db_release(cp->db, conn);
	if (rc) {
		snprintf(errbuf, errlen, "unable to read the audit chain head");
		return rc;
	}
	pthread_mutex_lock(&cp->mu);
	if (cp->have_last &&
	    (h.rows < cp->last.rows || h.last_id < cp->last.last_id))
		log_error("the audit chain head went back from row %lld (%lld "
			  "rows) to row %lld (%lld rows) since the last "
			  "checkpoint: the audit log was truncated",
			  cp->last.last_id, cp->last.rows, h.last_id, h.rows);
	if (skip_same && cp->have_last && h.last_id == cp->last.last_id &&
	    h.rows == cp->last.rows && !strcmp(h.hash, cp->last.hash)) {
		pthread_mutex_unlock(&cp->mu);
		return CLAW_OK;
	}
	memset(&c, 0, sizeof(c));
	cp_ckpt_time_now(c.time);
	snprintf(c.event, sizeof(c.event), "%s", event);
	c.last_id = h.last_id;
	c.rows = h.rows;
	memcpy(c.head, h.hash, sizeof(c.head));
	cp_ckpt_sign(cp->signer, &c);
	rc = cp_ckpt_append(cp->file, &c, errbuf, errlen);
	if (!rc) {
		cp->last = h;
		cp->have_last = true;
		log_debug("audit checkpoint (%s): %lld rows up to row %lld",
			  event, h.rows, h.last_id);
	}
	pthread_mutex_unlock(&cp->mu);
	return rc;
}

static void *checkpointer_main(void *arg)
{
	struct cp_checkpointer *cp = arg;
	char err[512];

	pthread_mutex_lock(&cp->mu);
	while (!cp->stopping) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += cp->interval_s;
		while (!cp->stopping &&
		       pthread_cond_timedwait(&cp->cond, &cp->mu, &until) !=
			       ETIMEDOUT)
			;
		if (cp->stopping)
			break;
		pthread_mutex_unlock(&cp->mu);
		if (write_checkpoint(cp, "periodic", true, err, sizeof(err)))
			log_error("audit checkpoint not written: %s", err);
		pthread_mutex_lock(&cp->mu);
	}
	pthread_mutex_unlock(&cp->mu);
	return NULL;
}

static void checkpointer_free(struct cp_checkpointer *cp)
{
	if (!cp)
		return;
	cp_ckpt_signer_free(cp->signer);
	pthread_mutex_destroy(&cp->mu);
	pthread_cond_destroy(&cp->cond);
	free(cp->file);
	free(cp);
}

static int init_sync(struct cp_checkpointer *cp)
{
	pthread_condattr_t ca;
	int rc;

	if (pthread_mutex_init(&cp->mu, NULL))
		return -1;
	if (pthread_condattr_init(&ca)) {
		pthread_mutex_destroy(&cp->mu);
		return -1;
	}
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
		pthread_cond_init(&cp->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		pthread_mutex_destroy(&cp->mu);
	return rc ? -1 : 0;
}

/* Warn when the daemon's own role could change the audit log. */
static void check_role(struct cp_ctx *ctx)
{
	bool can_change = false;
	PGconn *conn = claw_db_acquire(ctx->db);

	if (!conn)
		return;
	if (!cp_store_audit_role_can_change(conn, &can_change) && can_change)
		log_warn("the daemon's database role can change or remove "
			 "audit rows (it owns the audit tables or may "
			 "UPDATE/DELETE them); set migration-database-url "
			 "and give database-url a role of its own "
			 "(docs/security.md)");
	claw_db_release(ctx->db, conn);
}

static int load_keys(struct cp_checkpointer *cp, const struct cp_config *cfg,
		     char *errbuf, size_t errlen)
{
	char *key = path_or_default(cfg->audit_signing_key_file, cfg->data_dir,
				    "audit-signing.key");
	char pk[2 * CLAW_CKPT_PK_BYTES + 1];
	enum claw_rc rc;

	if (!key) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	rc = cp_ckpt_signer_load(key, true, &cp->signer, errbuf, errlen);
	free(key);
	if (rc)
		return -1;
	claw_ckpt_keys_add(&cp->keys, cp_ckpt_signer_pk(cp->signer));
	if (cfg->audit_public_keys_file &&
	    claw_ckpt_keys_load(&cp->keys, cfg->audit_public_keys_file, errbuf,
				errlen))
		return -1;
	claw_hex_encode(cp_ckpt_signer_pk(cp->signer), CLAW_CKPT_PK_BYTES, pk);
	log_info("audit checkpoints go to %s, signed with key %s (public key "
		 "%s)",
		 cp->file, cp_ckpt_signer_key_id(cp->signer), pk);
	return 0;
}

int cp_checkpointer_start(struct cp_ctx *ctx, char *errbuf, size_t errlen)
{
	struct cp_checkpointer *cp = calloc(1, sizeof(*cp));

	if (!cp || init_sync(cp)) {
		free(cp);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	cp->db = ctx->db;
	cp->interval_s = ctx->cfg.audit_checkpoint_interval_s;
	cp->file =
		path_or_default(ctx->cfg.audit_checkpoint_file,
				ctx->cfg.data_dir, "audit-checkpoints.jsonl");
	if (!cp->file) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	if (load_keys(cp, &ctx->cfg, errbuf, errlen))
		goto fail;
	check_role(ctx);
	if (write_checkpoint(cp, "start", false, errbuf, errlen))
		goto fail;
	if (pthread_create(&cp->thread, NULL, checkpointer_main, cp)) {
		snprintf(errbuf, errlen,
			 "unable to start the checkpoint "
			 "thread");
		goto fail;
	}
	cp->running = true;
	ctx->checkpoints = cp;
	return 0;
fail:
	checkpointer_free(cp);
	return -1;
}

void cp_checkpointer_stop(struct cp_ctx *ctx)
{
	struct cp_checkpointer *cp = ctx->checkpoints;
	char err[512];

	if (!cp)
		return;
	if (cp->running) {
		pthread_mutex_lock(&cp->mu);
		cp->stopping = true;
		pthread_cond_broadcast(&cp->cond);
		pthread_mutex_unlock(&cp->mu);
		pthread_join(cp->thread, NULL);
	}
	if (write_checkpoint(cp, "stop", false, err, sizeof(err)))
		log_error("stop audit checkpoint not written: %s", err);
	ctx->checkpoints = NULL;
	checkpointer_free(cp);
}

const struct claw_ckpt_keys *cp_checkpointer_keys(
	const struct cp_checkpointer *cp)
{
	return &cp->keys;
}

enum claw_rc cp_checkpointer_read(struct cp_checkpointer *cp,
				  struct claw_ckpt_entry **out, size_t *n,
				  char *errbuf, size_t errlen)
{
	enum claw_rc rc;

	pthread_mutex_lock(&cp->mu);
	rc = cp_ckpt_file_read(cp->file, CKPT_FILE_MAX_LINES, out, n, errbuf,
			       errlen);
	pthread_mutex_unlock(&cp->mu);
	if (rc)
		return rc;
	for (size_t i = 0; i < *n; i++)
		if ((*out)[i].verdict == CLAW_CKPT_OK)
			(*out)[i].verdict =
				claw_ckpt_check_sig(&cp->keys, &(*out)[i].c);
	return CLAW_OK;
}
