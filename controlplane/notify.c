/*
 * notify.c - bodies and senders of alert notifications (notify.h). The
 * webhook and Slack go through libclaw's HTTP client; email through
 * libcurl's SMTP, the message fed from a buffer by a read callback.
 */
#include "notify.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <sodium.h>

#include "claw/httpc.h"
#include "claw/json.h"

#define SEND_TIMEOUT_MS 10000L
#define CONNECT_TIMEOUT_MS 5000L
#define REPLY_MAX 4096u

char *cp_notify_webhook_body(const struct cp_notice *n)
{
	json_t *o = json_pack(
		"{s:i, s:I, s:{s:I, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s?, "
		"s:I}}",
		"version", 1, "delivery", (json_int_t)n->delivery_id, "alert",
		"id", (json_int_t)n->alert_id, "kind", n->kind, "subject",
		n->subject, "status", n->status, "summary", n->summary,
		"tenant_id", n->tenant_id, "node_id", n->node_id, "fired_at",
		n->fired_at, "resolved_at", n->resolved_at, "occurrences",
		(json_int_t)n->occurrences);
	char *s = o ? claw_json_dumps(o) : NULL;

	json_decref(o);
	return s;
}

void cp_notify_sign(const void *key, size_t key_len, const char *ts,
		    const char *body, size_t body_len,
		    char out[CP_NOTIFY_SIG_LEN])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, key, key_len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts,
				      strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body,
				      body_len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, "sha256=", 7);
	sodium_bin2hex(out + 7, 65, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

/* s with &, < and > escaped for Slack's mrkdwn into b. */
static enum claw_rc slack_escape(struct claw_buf *b, const char *s)
{
	enum claw_rc rc = CLAW_OK;

	for (; !rc && s && *s; s++)
		rc = *s == '&'      ? claw_buf_puts(b, "&amp;")
			: *s == '<' ? claw_buf_puts(b, "&lt;")
			: *s == '>' ? claw_buf_puts(b, "&gt;")
				    : claw_buf_append(b, s, 1);
	return rc;
}

char *cp_notify_slack_body(const struct cp_notice *n)
{
	struct claw_buf text, ctx;
	bool fire = !strcmp(n->status, "firing");
	json_t *o = NULL;
	char *s = NULL;

	claw_buf_init(&text, 8192);
	claw_buf_init(&ctx, 8192);
	if (claw_buf_printf(&text, "%s [%s] ",
			    fire ? ":rotating_light:" : ":white_check_mark:",
			    fire ? "FIRING" : "RESOLVED") ||
	    slack_escape(&text, n->summary) ||
	    claw_buf_printf(&ctx, "alert %lld · kind `%s` · subject `",
			    n->alert_id, n->kind) ||
	    slack_escape(&ctx, n->subject) ||
	    claw_buf_printf(&ctx, "` · fired %s", n->fired_at))
		goto out;
	if (n->resolved_at &&
	    claw_buf_printf(&ctx, " · resolved %s", n->resolved_at))
		goto out;
	o = json_pack("{s:s, s:[{s:s, s:{s:s, s:s}}, {s:s, s:[{s:s, s:s}]}]}",
		      "text", text.data, "blocks", "type", "section", "text",
		      "type", "mrkdwn", "text", text.data, "type", "context",
		      "elements", "type", "mrkdwn", "text", ctx.data);
	s = o ? claw_json_dumps(o) : NULL;
out:
	json_decref(o);
	claw_buf_release(&text);
	claw_buf_release(&ctx);
	return s;
}

bool cp_notify_address_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	const char *at = s ? strchr(s, '@') : NULL;

	if (n < 3 || n > 254 || !at || at == s || !at[1] || strchr(at + 1, '@'))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s == 0x7f ||
		    strchr("<>(),;:\"\\[]", *s))
			return false;
	return true;
}

/* A header value with CR and LF (and other controls) as spaces. */
static enum claw_rc header_value(struct claw_buf *b, const char *s)
{
	enum claw_rc rc = CLAW_OK;

	for (; !rc && s && *s; s++)
		rc = claw_buf_append(b, (unsigned char)*s < ' ' ? " " : s, 1);
	return rc;
}

enum claw_rc cp_notify_email_message(const struct cp_notice *n,
				     const char *from, const json_t *to,
				     time_t now, struct claw_buf *out)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
					   "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
					     "May", "Jun", "Jul", "Aug",
					     "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	enum claw_rc rc;
	size_t i;
	json_t *v;

	if (!gmtime_r(&now, &tm))
		return CLAW_ERR_INTERNAL;
	/* RFC 5322 3.3, in English whatever the locale */
	rc = claw_buf_printf(out,
			     "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n"
			     "Message-ID: <alert-%lld.%lld@claw-controlplane>"
			     "\r\nFrom: ",
			     days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
			     tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, n->alert_id, n->delivery_id);
	if (!rc)
		rc = header_value(out, from);
	if (!rc)
		rc = claw_buf_puts(out, "\r\nTo: ");
	json_array_foreach((json_t *)to, i, v) {
		if (!rc && i)
			rc = claw_buf_puts(out, ", ");
		if (!rc)
			rc = header_value(out, json_string_value(v));
	}
	if (!rc)
		rc = claw_buf_printf(out, "\r\nSubject: [claw] %s %s: ",
				     !strcmp(n->status, "firing") ? "FIRING"
								  : "RESOLVED",
				     n->kind);
	if (!rc)
		rc = header_value(out, n->subject);
	if (!rc)
		rc = claw_buf_puts(out,
				   "\r\nMIME-Version: 1.0\r\n"
				   "Content-Type: text/plain; "
				   "charset=utf-8\r\n"
				   "Content-Transfer-Encoding: 8bit\r\n\r\n");
	if (!rc)
		rc = header_value(out, n->summary);
	if (!rc)
		rc = claw_buf_printf(
			out,
			"\r\n\r\nalert: %lld\r\nkind: %s\r\nstatus: %s\r\n"
			"fired at: %s\r\n",
			n->alert_id, n->kind, n->status, n->fired_at);
	if (!rc && n->resolved_at)
		rc = claw_buf_printf(out, "resolved at: %s\r\n",
				     n->resolved_at);
	if (!rc)
		rc = claw_buf_printf(out, "occurrences: %lld\r\n",
				     n->occurrences);
	return rc;
}

/* ---- senders */

static enum claw_rc post_json(const char *what, const char *url,
			      const char *const *headers, const char *body,
			      bool quote_transport, char *errbuf, size_t errlen)
{
	struct claw_httpc_req rq = {.method = "POST",
				    .url = url,
				    .headers = headers,
				    .body = body,
				    .body_len = strlen(body),
				    .timeout_ms = SEND_TIMEOUT_MS,
				    .connect_timeout_ms = CONNECT_TIMEOUT_MS,
				    .max_response = REPLY_MAX};
	struct claw_httpc_resp resp = {0};
	enum claw_rc rc = claw_httpc_do(&rq, &resp);

	if (rc)
		snprintf(errbuf, errlen, "%s: no answer%s%s", what,
			 quote_transport ? ": " : "",
			 quote_transport ? resp.error : "");
	else if (resp.status < 200 || resp.status > 299) {
		snprintf(errbuf, errlen, "%s answered HTTP %ld", what,
			 resp.status);
		/* a 4xx but 408 and 429 says the request itself is wrong */
		rc = resp.status >= 400 && resp.status < 500 &&
				resp.status != 408 && resp.status != 429
			? CLAW_ERR_INVALID
			: CLAW_ERR_IO;
	}
	claw_httpc_resp_release(&resp);
	return rc;
}

static enum claw_rc send_webhook(const struct cp_notify_target *t,
				 const struct cp_notice *n, char *errbuf,
				 size_t errlen)
{
	const char *url = json_string_value(json_object_get(t->config, "url"));
	char *body = cp_notify_webhook_body(n);
	char ts[32], sig[CP_NOTIFY_SIG_LEN], h_ts[64], h_sig[128], h_id[64];
	const char *headers[5] = {"Content-Type: application/json", h_ts, h_sig,
				  h_id, NULL};
	enum claw_rc rc;

	if (!body || !url) {
		free(body);
		snprintf(errbuf, errlen, "webhook: target incomplete");
		return CLAW_ERR_INVALID;
	}
	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	cp_notify_sign(t->secret ? t->secret : "", t->secret_len, ts, body,
		       strlen(body), sig);
	snprintf(h_ts, sizeof(h_ts), "X-Claw-Timestamp: %s", ts);
	snprintf(h_sig, sizeof(h_sig), "X-Claw-Signature: %s", sig);
	snprintf(h_id, sizeof(h_id), "X-Claw-Delivery: %lld", n->delivery_id);
	rc = post_json("webhook", url, headers, body, true, errbuf, errlen);
	free(body);
	return rc;
}

static enum claw_rc send_slack(const struct cp_notify_target *t,
			       const struct cp_notice *n, char *errbuf,
			       size_t errlen)
{
	static const char *const headers[] = {"Content-Type: application/json",
					      NULL};
	char *body = cp_notify_slack_body(n);
	enum claw_rc rc;

	if (!body || !t->secret) {
		free(body);
		snprintf(errbuf, errlen, "slack: target incomplete");
		return CLAW_ERR_INVALID;
	}
	/* the URL is the secret: curl's words may quote it, so not them */
	rc = post_json("slack", t->secret, headers, body, false, errbuf,
		       errlen);
	free(body);
	return rc;
}

struct feed {
	const char *p;
	size_t left;
};

static size_t feed_read(char *buf, size_t size, size_t nmemb, void *cls)
{
	struct feed *f = cls;
	size_t n = size * nmemb < f->left ? size * nmemb : f->left;

	memcpy(buf, f->p, n);
	f->p += n;
	f->left -= n;
	return n;
}

static enum claw_rc send_email(const struct cp_notify_target *t,
			       const struct cp_notice *n, char *errbuf,
			       size_t errlen)
{
	const json_t *c = t->config;
	const char *url = json_string_value(json_object_get(c, "smtp_url"));
	const char *from = json_string_value(json_object_get(c, "from"));
	const char *user = json_string_value(json_object_get(c, "username"));
	const json_t *to = json_object_get(c, "to");
	struct curl_slist *rcpt = NULL;
	struct claw_buf msg;
	struct feed f;
	char addr[300];
	CURL *h = NULL;
	CURLcode cc;
	enum claw_rc rc = CLAW_ERR_INVALID;
	size_t i;
	json_t *v;

	claw_buf_init(&msg, 65536);
	if (!url || !from || !json_is_array(to) ||
	    cp_notify_email_message(n, from, to, time(NULL), &msg)) {
		snprintf(errbuf, errlen, "email: target incomplete");
		goto out;
	}
	json_array_foreach((json_t *)to, i, v) {
		struct curl_slist *l;

		snprintf(addr, sizeof(addr), "<%s>", json_string_value(v));
		l = curl_slist_append(rcpt, addr);
		if (!l)
			goto out;
		rcpt = l;
	}
	h = curl_easy_init();
	if (!h)
		goto out;
	f = (struct feed){msg.data, msg.len};
	snprintf(addr, sizeof(addr), "<%s>", from);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, feed_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &f);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, SEND_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	/* a password travels only under TLS (STARTTLS required on smtp://) */
	curl_easy_setopt(h, CURLOPT_USE_SSL,
			 t->secret ? (long)CURLUSESSL_ALL
				   : (long)CURLUSESSL_TRY);
	if (user)
		curl_easy_setopt(h, CURLOPT_USERNAME, user);
	if (t->secret)
		curl_easy_setopt(h, CURLOPT_PASSWORD, t->secret);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK) {
		rc = CLAW_OK;
	} else {
		long code = 0;

		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		snprintf(errbuf, errlen, "email: %s (SMTP %ld)",
			 curl_easy_strerror(cc), code);
		rc = CLAW_ERR_IO;
	}
out:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
	claw_buf_release(&msg);
	return rc;
}

enum claw_rc cp_notify_send(const struct cp_notify_target *t,
			    const struct cp_notice *n, char *errbuf,
			    size_t errlen)
{
	errbuf[0] = '\0';
	if (!strcmp(t->type, "webhook"))
		return send_webhook(t, n, errbuf, errlen);
	if (!strcmp(t->type, "slack"))
		return send_slack(t, n, errbuf, errlen);
	if (!strcmp(t->type, "email"))
		return send_email(t, n, errbuf, errlen);
	snprintf(errbuf, errlen, "unknown target type");
	return CLAW_ERR_INVALID;
}
