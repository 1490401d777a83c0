/*
 * usage_quota.h - a tenant's quotas as its node is told them, and the
 * crossings (docs/fleet.md, "Quotas"). usage_quota.c.
 *
 * Each assignment entry carries "quota": {"turns_per_day": {"limit",
 * "used", "resets_at"} | null, "tokens_per_month": {...} | null,
 * "message"}: the plan's limits, the stored usage of this UTC day and
 * month, when each period ends, and the text a refused chat user reads
 * (the plan's quota_message, else CP_QUOTA_MESSAGE_DEFAULT). The node
 * agent puts it into the gateway's config; the gateway enforces it.
 *
 * cp_usage_quota_sync runs after a usage report and after a plan change,
 * in their transaction: it records whether each quota is exhausted
 * (quota_state), emits "quota.exhausted" / "quota.restored" once per
 * crossing, and gives the tenant's node a new generation when a quota
 * crossed or its limits changed, so the gateway learns it without a
 * redeploy (the caller wakes the long polls after the commit).
 */
#ifndef CP_USAGE_QUOTA_H
#define CP_USAGE_QUOTA_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "store/usage.h"

#define CP_QUOTA_MESSAGE_MAX 1024
#define CP_QUOTA_MESSAGE_DEFAULT                                               \
	"This assistant has reached its usage limit for now. Please try "      \
	"again later."

/* Whether s is a valid quota_message: UTF-8 (jansson strings are), 1 to
 * CP_QUOTA_MESSAGE_MAX bytes, no NUL and no control character but
 * newline and tab. */
bool cp_quota_message_valid(const char *s, size_t len);
/* The assignment's "quota" of q (new reference, NULL on no memory). */
json_t *cp_usage_quota_json(const struct cp_usage_quota *q);
/* See above. *woke is set true when a node got a new generation (left
 * alone otherwise). */
enum claw_rc cp_usage_quota_sync(PGconn *c, const char *tenant_id,
				 bool limits_changed, bool *woke);

#endif
