/*
 * usage_quota.c - a tenant's quotas for its assignment, and their
 * crossings; see usage_quota.h.
 */
#include "usage_quota.h"

#include <string.h>

#include "events.h"

bool cp_quota_message_valid(const char *s, size_t len)
{
	if (!s || len < 1 || len > CP_QUOTA_MESSAGE_MAX || strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

static json_t *lim_json(long long limit, long long used, const char *reset)
{
	if (limit < 0)
		return json_null();
	return json_pack("{s:I, s:I, s:s}", "limit", (json_int_t)limit, "used",
			 (json_int_t)used, "resets_at", reset);
}

json_t *cp_usage_quota_json(const struct cp_usage_quota *q)
{
	return json_pack(
		"{s:o, s:o, s:s}", "turns_per_day",
		lim_json(q->turns_limit, q->turns_used, q->day_reset),
		"tokens_per_month",
		lim_json(q->tokens_limit, q->tokens_used, q->month_reset),
		"message",
		q->message[0] ? q->message : CP_QUOTA_MESSAGE_DEFAULT);
}

/* One quota's crossing as an event, when it crossed. */
static enum claw_rc crossing(PGconn *c, const char *tenant_id, const char *name,
			     bool was, bool now, long long limit,
			     long long used)
{
	if (was == now)
		return CLAW_OK;
	return cp_event_add(
		c, now ? "quota.exhausted" : "quota.restored", tenant_id, NULL,
		json_pack("{s:s, s:I, s:I}", "quota", name, "limit",
			  (json_int_t)limit, "used", (json_int_t)used));
}

enum claw_rc cp_usage_quota_sync(PGconn *c, const char *tenant_id,
				 bool limits_changed, bool *woke)
{
	struct cp_usage_quota q;
	bool turns_out, tokens_out, was_turns = false, was_tokens = false;
	enum claw_rc rc = cp_store_usage_quota(c, tenant_id, &q);

	if (rc)
		return rc;
	turns_out = q.turns_limit >= 0 && q.turns_used >= q.turns_limit;
	tokens_out = q.tokens_limit >= 0 && q.tokens_used >= q.tokens_limit;
	rc = cp_store_quota_mark(c, tenant_id, turns_out, tokens_out,
				 &was_turns, &was_tokens);
	if (!rc)
		rc = crossing(c, tenant_id, "turns_per_day", was_turns,
			      turns_out, q.turns_limit, q.turns_used);
	if (!rc)
		rc = crossing(c, tenant_id, "tokens_per_month", was_tokens,
			      tokens_out, q.tokens_limit, q.tokens_used);
	if (!rc &&
	    (limits_changed || was_turns != turns_out ||
	     was_tokens != tokens_out)) {
		rc = cp_store_quota_wake(c, tenant_id);
		*woke = true;
	}
	return rc;
}
