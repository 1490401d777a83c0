/*
 * notify.h - the notifications of alerts to the operator's targets
 * (docs/alerts.md): the bodies (pure, unit-tested) and the senders.
 *
 *   webhook  POST JSON (cp_notify_webhook_body) with
 *            X-Claw-Timestamp: UNIX-SECONDS and
 *            X-Claw-Signature: sha256=HEX(HMAC-SHA256(key, TS "." BODY))
 *   slack    POST {"text": ..., "blocks": [section, context]} to the
 *            incoming webhook URL (Slack's documented payload; 200 "ok")
 *   email    SMTP through libcurl (smtp:// with STARTTLS when offered,
 *            smtps://), MAIL FROM and RCPT TO, a text/plain RFC 5322
 *            message with Date, Message-ID, From, To and Subject
 *
 * A target's secret (the HMAC key, the Slack URL, the SMTP password) is
 * passed in and never copied into an error text; error texts are fixed
 * phrases and a status, safe for logs and events.
 */
#ifndef CP_NOTIFY_H
#define CP_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <jansson.h>

#include "claw/buf.h"
#include "claw/err.h"

/* What one delivery tells: every string borrowed. */
struct cp_notice {
	long long alert_id;
	long long delivery_id;
	const char *kind;
	const char *subject;
	const char *status; /* "firing" or "resolved" */
	const char *summary;
	const char *tenant_id;   /* may be NULL */
	const char *node_id;     /* may be NULL */
	const char *fired_at;    /* RFC 3339 */
	const char *resolved_at; /* NULL while firing */
	long long occurrences;
};

/* The webhook's JSON body (malloc'd), NULL when out of memory:
 * {"version": 1, "delivery": ID, "alert": {id, kind, subject, status,
 *  summary, tenant_id, node_id, fired_at, resolved_at, occurrences}}. */
char *cp_notify_webhook_body(const struct cp_notice *n);
/* "sha256=" and 64 hex characters of HMAC-SHA256(key, ts "." body). */
#define CP_NOTIFY_SIG_LEN (7 + 64 + 1)
void cp_notify_sign(const void *key, size_t key_len, const char *ts,
		    const char *body, size_t body_len,
		    char out[CP_NOTIFY_SIG_LEN]);
/* Slack's payload (malloc'd), NULL when out of memory: "text" (the
 * fallback Slack shows in notifications) and two blocks; &, < and > are
 * escaped as Slack's mrkdwn asks. */
char *cp_notify_slack_body(const struct cp_notice *n);
/* The whole RFC 5322 message (CRLF line ends) into out: Date of now,
 * Message-ID <alert-A.D@claw-controlplane>, From, To (the addresses of
 * to, a JSON array of strings), Subject "[claw] STATUS KIND: SUBJECT",
 * MIME-Version, Content-Type text/plain; charset=utf-8, then the body.
 * CR and LF in header values are replaced by spaces. */
enum claw_rc cp_notify_email_message(const struct cp_notice *n,
				     const char *from, const json_t *to,
				     time_t now, struct claw_buf *out);
/* An address we put in MAIL FROM, RCPT TO and the headers: 3..254
 * characters, one '@', none of < > ( ) , ; : " \ space or control. */
bool cp_notify_address_valid(const char *s);

/* A target as the sender needs it. config is the stored non-secret part:
 * webhook {"url"}, slack {}, email {"smtp_url", "from", "to", "username"}.
 * secret is the sealed value opened (NUL-terminated), or NULL. */
struct cp_notify_target {
	const char *type; /* "webhook", "slack", "email" */
	const json_t *config;
	const char *secret;
	size_t secret_len;
};

/* Send n to t (10 s at most). CLAW_OK when the peer took it (2xx, or the
 * mail server accepted it); CLAW_ERR_INVALID when sending again cannot
 * help (the target is incomplete, or an HTTP 4xx other than 408 and 429);
 * else another error. errbuf says what (no secret in it). */
enum claw_rc cp_notify_send(const struct cp_notify_target *t,
			    const struct cp_notice *n, char *errbuf,
			    size_t errlen);

#endif
