/*
 * approval_report.c - a node agent's report of approval requests and
 * decisions checked into structs (see approval_report.h). Each event is
 * unpacked against one field spec (unknown fields refused), then its
 * values checked; the first problem names its place ("events[1].tool")
 * and ends the check, so nothing of a refused body is stored.
 */
#include "approval_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

#define TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

static int bad(struct claw_json_problem *p, enum claw_http_error e,
	       const char *where, const char *name, const char *msg)
{
	char field[sizeof(p->field)];

	snprintf(field, sizeof(field), "%s%s%s", where, name[0] ? "." : "",
		 name); /* name may be p->field */
	p->error = e;
	memcpy(p->field, field, sizeof(field));
	snprintf(p->message, sizeof(p->message), "%s: %s", p->field, msg);
	return -1;
}

/* Printable text (no control bytes), 1 to max bytes. */
static bool text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return n > 0 && n <= max;
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= CP_APR_ID_MAX &&
		strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static int event_parse(const json_t *o, size_t idx, struct cp_apr_event *e,
		       struct claw_json_problem *p)
{
	const char *tenant = NULL, *apr = NULL, *kind = NULL, *tool = NULL,
		   *cat = NULL, *chan = NULL, *sender = NULL, *dec = NULL,
		   *by = NULL;
	json_int_t at = -1, expires = 0;
	const struct claw_json_field f[] = {
		{"tenant", CLAW_JSON_STRING, true, &tenant, CP_SLUG_MAX},
		{"approval", CLAW_JSON_STRING, true, &apr, CP_APR_ID_MAX},
		{"event", CLAW_JSON_STRING, true, &kind, 16},
		{"tool", CLAW_JSON_STRING, true, &tool, CP_APR_TOOL_MAX},
		{"category", CLAW_JSON_STRING, false, &cat, CP_APR_NAME_MAX},
		{"channel", CLAW_JSON_STRING, false, &chan, CP_APR_NAME_MAX},
		{"sender", CLAW_JSON_STRING, false, &sender, CP_APR_SENDER_MAX},
		{"at", CLAW_JSON_INT, true, &at, 0},
		{"expires", CLAW_JSON_INT, false, &expires, 0},
		{"decision", CLAW_JSON_STRING, false, &dec, 16},
		{"decided_by", CLAW_JSON_STRING, false, &by, CP_APR_BY_MAX},
		{NULL, 0, false, NULL, 0},
	};
	char where[32], msg[sizeof(p->message)];
	bool request;

	snprintf(where, sizeof(where), "events[%zu]", idx);
	if (!json_is_object(o))
		return bad(p, CLAW_HE_INVALID_FIELD, where, "",
			   "must be an object");
	if (claw_json_unpack(o, f, p)) {
		snprintf(msg, sizeof(msg), "%s", p->message);
		return bad(p, p->error, where, p->field, msg);
	}
	if (!cp_slug_valid(tenant))
		return bad(p, CLAW_HE_INVALID_FIELD, where, "tenant",
			   "a tenant slug");
	if (!id_ok(apr))
		return bad(p, CLAW_HE_INVALID_FIELD, where, "approval",
			   "1 to 64 of a-z 0-9 _");
	request = !strcmp(kind, "request");
	if (!request && strcmp(kind, "decision"))
		return bad(p, CLAW_HE_INVALID_FIELD, where, "event",
			   "request or decision");
	if (!text_ok(tool, CP_APR_TOOL_MAX))
		return bad(p, CLAW_HE_INVALID_FIELD, where, "tool",
			   "1 to 200 bytes, no control characters");
	if ((cat && !text_ok(cat, CP_APR_NAME_MAX)) ||
	    (chan && !text_ok(chan, CP_APR_NAME_MAX)))
		return bad(p, CLAW_HE_INVALID_FIELD, where,
			   cat && !text_ok(cat, CP_APR_NAME_MAX) ? "category"
								 : "channel",
			   "1 to 64 bytes, no control characters");
	if (sender && !text_ok(sender, CP_APR_SENDER_MAX))
		return bad(p, CLAW_HE_INVALID_FIELD, where, "sender",
			   "1 to 256 bytes, no control characters");
	if (at < 0 || at > TIME_MAX || expires < 0 || expires > TIME_MAX)
		return bad(p, CLAW_HE_INVALID_FIELD, where,
			   at < 0 || at > TIME_MAX ? "at" : "expires",
			   "a Unix time in seconds");
	if (request && (dec || by))
		return bad(p, CLAW_HE_INVALID_FIELD, where,
			   dec ? "decision" : "decided_by",
			   "a request carries no decision");
	if (!request &&
	    (!dec ||
	     (strcmp(dec, "approved") && strcmp(dec, "denied") &&
	      strcmp(dec, "expired"))))
		return bad(p,
			   dec ? CLAW_HE_INVALID_FIELD : CLAW_HE_MISSING_FIELD,
			   where, "decision", "approved, denied or expired");
	if (!request && (!by || !text_ok(by, CP_APR_BY_MAX)))
		return bad(p,
			   by ? CLAW_HE_INVALID_FIELD : CLAW_HE_MISSING_FIELD,
			   where, "decided_by",
			   "who decided: 1 to 300 bytes, no control "
			   "characters");
	copy(e->tenant, sizeof(e->tenant), tenant);
	copy(e->approval, sizeof(e->approval), apr);
	e->kind = request ? CP_APR_REQUEST : CP_APR_DECISION;
	copy(e->tool, sizeof(e->tool), tool);
	copy(e->category, sizeof(e->category), cat);
	copy(e->channel, sizeof(e->channel), chan);
	copy(e->sender, sizeof(e->sender), sender);
	copy(e->decision, sizeof(e->decision), dec);
	copy(e->decided_by, sizeof(e->decided_by), by);
	e->at = (long long)at;
	e->expires = (long long)expires;
	return 0;
}

int cp_apr_parse(const json_t *body, struct cp_apr_batch *out,
		 struct claw_json_problem *p)
{
	json_t *events = NULL, *ev;
	const struct claw_json_field f[] = {
		{"events", CLAW_JSON_ARRAY, true, &events, 0},
		{NULL, 0, false, NULL, 0},
	};
	size_t i;

	memset(out, 0, sizeof(*out));
	if (claw_json_unpack(body, f, p))
		return -1;
	if (json_array_size(events) > CP_APR_EVENTS_MAX)
		return bad(p, CLAW_HE_INVALID_FIELD, "events", "",
			   "at most 500 events a request");
	out->events = calloc(json_array_size(events) + 1, sizeof(*out->events));
	if (!out->events)
		return bad(p, CLAW_HE_INTERNAL, "events", "", "out of memory");
	json_array_foreach(events, i, ev) {
		if (event_parse(ev, i, &out->events[i], p)) {
			cp_apr_batch_release(out);
			return -1;
		}
		out->n++;
	}
	return 0;
}

void cp_apr_batch_release(struct cp_apr_batch *b)
{
	free(b->events);
	b->events = NULL;
	b->n = 0;
}

const char *cp_apr_action(const struct cp_apr_event *e)
{
	if (e->kind == CP_APR_REQUEST)
		return "approval.request";
	return strcmp(e->decision, "expired") ? "approval.decided"
					      : "approval.expired";
}
