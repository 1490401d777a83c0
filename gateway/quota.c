/*
 * quota.c - the plan's quotas, enforced before a message reaches the
 * runtime (docs/gateway.md, "Quotas").
 *
 * The control plane's figures arrive in the config ("quota", written by
 * the node agent, applied by SIGHUP): for turns per day and tokens per
 * month each a limit, what the control plane counted ("used") and when
 * the period ends ("resets_at"); and the message a refused user gets.
 * The control plane's figure is authoritative but lags (the node agent
 * reports usage every 10 s), so the gateway adds the turns it forwarded
 * since that figure arrived: a new figure (another used or resets_at)
 * starts that local count again at 0. The local count has its own period
 * (the figure's resets_at, else the next UTC midnight), so a stale figure
 * after midnight counts for nothing and the new day starts empty.
 * Tokens are counted by the runtime only: their check uses the figure.
 *
 * The count (figure seen, local turns, its period's end, refusals) is one
 * line in DATA-DIR/gateway/quota.state, saved (fsync, rename) after each
 * change, so a restarted gateway goes on where it stopped. One mutex
 * guards it; a check and its count are one step, so concurrent messages
 * cannot both take the last turn.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/log.h"
#include "gw.h"

#define STATE_FILE "quota.state"
#define DAY_S 86400LL

const char gw_quota_default_message[] =
	"This assistant has reached its usage limit for now. Please try "
	"again later.";

struct gw_quota {
	pthread_mutex_t mu;
	struct gw_quota_count count;
};

static long long next_midnight(long long now)
{
	return (now / DAY_S + 1) * DAY_S;
}

void gw_quota_rebase(struct gw_quota_count *q, const struct gw_quota_lim *turns,
		     long long now)
{
	if (q->fig_used == turns->used && q->fig_reset == turns->resets_at)
		return;
	q->fig_used = turns->used;
	q->fig_reset = turns->resets_at;
	q->local = 0;
	q->period_end =
		turns->resets_at > now ? turns->resets_at : next_midnight(now);
}

long long gw_quota_turns_used(const struct gw_quota_count *q, long long now)
{
	return (now < q->fig_reset ? q->fig_used : 0) +
		(now < q->period_end ? q->local : 0);
}

long long gw_quota_tokens_used(const struct gw_quota_lim *tokens, long long now)
{
	return now < tokens->resets_at ? tokens->used : 0;
}

const char *gw_quota_check(const struct gw_quota_conf *qc,
			   const struct gw_quota_count *q, long long now)
{
	if (qc->turns.limit >= 0 &&
	    gw_quota_turns_used(q, now) >= qc->turns.limit)
		return "turns_per_day";
	if (qc->tokens.limit >= 0 &&
	    gw_quota_tokens_used(&qc->tokens, now) >= qc->tokens.limit)
		return "tokens_per_month";
	return NULL;
}

void gw_quota_count_turn(struct gw_quota_count *q, long long now)
{
	if (now >= q->period_end) {
		q->local = 0;
		q->period_end = next_midnight(now);
	}
	q->local++;
}

void gw_quota_count_text(const struct gw_quota_count *q, char *out,
			 size_t outlen)
{
	snprintf(out, outlen, "v1 %lld %lld %lld %lld %lld", q->fig_used,
		 q->fig_reset, q->local, q->period_end, q->refusals);
}

bool gw_quota_count_parse(const char *line, struct gw_quota_count *q)
{
	struct gw_quota_count t;
	int n = 0;
	if (!line ||
	    sscanf(line, "v1 %lld %lld %lld %lld %lld%n", &t.fig_used,
		   &t.fig_reset, &t.local, &t.period_end, &t.refusals,
		   &n) != 5 ||
	    line[n] || t.fig_used < 0 || t.local < 0 || t.refusals < 0)
		return false;
	*q = t;
	return true;
}

/* ---- the config's "quota" */

static enum claw_rc refuse(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum claw_rc refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return CLAW_ERR_INVALID;
}

static enum claw_rc parse_lim(const json_t *o, const char *name,
			      struct gw_quota_lim *l, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, name);
	const json_t *lim, *used;
	const char *at;
	l->limit = -1;
	l->used = 0;
	l->resets_at = 0;
	if (!v || json_is_null(v))
		return CLAW_OK;
	lim = json_object_get(v, "limit");
	used = json_object_get(v, "used");
	at = json_string_value(json_object_get(v, "resets_at"));
	if (!json_is_object(v) || json_object_size(v) != 3 ||
	    !json_is_integer(lim) || json_integer_value(lim) < 0 ||
	    !json_is_integer(used) || json_integer_value(used) < 0 || !at ||
	    (l->resets_at = gw_rfc3339_parse(at)) < 0)
		return refuse(err, errlen,
			      "quota.%s must be {\"limit\": N >= 0, \"used\": "
			      "N >= 0, \"resets_at\": RFC 3339} or null",
			      name);
	l->limit = json_integer_value(lim);
	l->used = json_integer_value(used);
	return CLAW_OK;
}

enum claw_rc gw_quota_conf_parse(const json_t *o, struct gw_quota_conf *qc,
				 char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	qc->message = gw_quota_default_message;
	qc->turns.limit = qc->tokens.limit = -1;
	if (!o)
		return CLAW_OK;
	if (!json_is_object(o))
		return refuse(err, errlen, "quota must be an object");
	json_object_foreach((json_t *)o, key, v) {
		if (strcmp(key, "turns_per_day") &&
		    strcmp(key, "tokens_per_month") && strcmp(key, "message"))
			return refuse(err, errlen,
				      "quota: unknown field '%.64s'", key);
	}
	v = json_object_get(o, "message");
	if (v &&
	    (!json_is_string(v) || json_string_length(v) < 1 ||
	     json_string_length(v) > GW_QUOTA_MESSAGE_MAX))
		return refuse(err, errlen,
			      "quota.message must be a string of 1-%d bytes",
			      GW_QUOTA_MESSAGE_MAX);
	if (v)
		qc->message = json_string_value(v);
	enum claw_rc rc =
		parse_lim(o, "turns_per_day", &qc->turns, err, errlen);
	return rc ? rc
		  : parse_lim(o, "tokens_per_month", &qc->tokens, err, errlen);
}

/* ---- the running count */

static void save(const struct gw *g, const struct gw_quota_count *q)
{
	char line[160];
	gw_quota_count_text(q, line, sizeof(line));
	gw_mark_save(g, STATE_FILE, line, "the quota count");
}

enum claw_rc gw_quota_open(const struct gw *g, struct gw_quota **out)
{
	struct gw_quota *q = calloc(1, sizeof(*q));
	char *line;
	*out = NULL;
	if (!q)
		return CLAW_ERR_NOMEM;
	pthread_mutex_init(&q->mu, NULL);
	line = gw_mark_load(g, STATE_FILE, 160);
	if (line && !gw_quota_count_parse(line, &q->count))
		log_warn("ignoring a malformed %s/gateway/%s", g->data_dir,
			 STATE_FILE);
	free(line);
	*out = q;
	return CLAW_OK;
}

void gw_quota_free(struct gw_quota *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->mu);
	free(q);
}

char *gw_quota_admit(struct gw *g, enum gw_channel ch)
{
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_quota_conf *qc = &c->quota;
	long long now = gw_unix_now();
	char *refusal = NULL;
	const char *which;
	if (!g->quota || (qc->turns.limit < 0 && qc->tokens.limit < 0)) {
		gw_conf_put(c);
		return NULL;
	}
	pthread_mutex_lock(&g->quota->mu);
	gw_quota_rebase(&g->quota->count, &qc->turns, now);
	which = gw_quota_check(qc, &g->quota->count, now);
	if (which) {
		g->quota->count.refusals++;
		refusal = strdup(qc->message);
		log_info("quota %s exhausted: a message on %s refused", which,
			 gw_channel_name(ch));
	} else {
		gw_quota_count_turn(&g->quota->count, now);
	}
	save(g, &g->quota->count);
	pthread_mutex_unlock(&g->quota->mu);
	gw_conf_put(c);
	if (which) {
		gw_metrics_refused(ch, GW_REF_QUOTA);
		if (!refusal)
			refusal = strdup(gw_quota_default_message);
	}
	return refusal;
}

long long gw_quota_refusals(struct gw *g)
{
	long long n = 0;
	if (g->quota) {
		pthread_mutex_lock(&g->quota->mu);
		n = g->quota->count.refusals;
		pthread_mutex_unlock(&g->quota->mu);
	}
	return n;
}

static json_t *lim_json(const struct gw_quota_lim *l, long long used)
{
	if (l->limit < 0)
		return json_null();
	return json_pack("{s:I, s:I}", "limit", (json_int_t)l->limit, "used",
			 (json_int_t)used);
}

json_t *gw_quota_status_new(struct gw *g)
{
	struct gw_conf *c = gw_conf_get(g);
	long long now = gw_unix_now();
	struct gw_quota_count q = {0};
	if (g->quota) {
		pthread_mutex_lock(&g->quota->mu);
		q = g->quota->count;
		pthread_mutex_unlock(&g->quota->mu);
		gw_quota_rebase(&q, &c->quota.turns, now);
	}
	json_t *o = json_pack(
		"{s:o, s:o, s:I}", "turns_per_day",
		lim_json(&c->quota.turns, gw_quota_turns_used(&q, now)),
		"tokens_per_month",
		lim_json(&c->quota.tokens,
			 gw_quota_tokens_used(&c->quota.tokens, now)),
		"refusals", (json_int_t)q.refusals);
	gw_conf_put(c);
	return o;
}
