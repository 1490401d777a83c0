/*
 * twilio.c - Twilio Programmable Messaging: SMS, and WhatsApp through
 * Twilio (the same webhook and API; a WhatsApp sender is
 * "whatsapp:+E164").
 *
 * Inbound: POST /twilio/webhook, a form (application/x-www-form-urlencoded)
 * signed in X-Twilio-Signature: the base64 of HMAC-SHA1, keyed with the
 * account's auth token, over the full URL Twilio requested followed by
 * every POST parameter's name and value, sorted by name (Twilio's
 * "Webhooks security"; tested against its published example). The URL
 * is the config's webhook_url, exactly as entered in the Twilio console
 * (the gateway sits behind the edge and cannot see the public URL
 * itself). HMAC-SHA1 is built on libwebsockets' SHA-1 (libsodium has no
 * SHA-1). The AccountSid parameter must be the configured account. The
 * dedupe key is MessageSid. Twilio signs no time and sends no date, so
 * a captured request can only be refused as a duplicate (the dedupe
 * memory, journaled, holds the last 20,000 answered ids). Status
 * callbacks (MessageStatus) posted to the same URL are acknowledged and
 * left. The answer is an empty TwiML <Response/>: the reply goes through
 * the API, not inline.
 *
 * Outbound: POST /2010-04-01/Accounts/{AccountSid}/Messages.json (a
 * form: To, From or MessagingServiceSid, Body; HTTP Basic auth with the
 * account SID and auth token). Long answers are split by segment: an SMS
 * reply is GSM-7 when every character is in GSM 03.38 (basic table 1
 * septet, extension table 2), else UCS-2 (UTF-16 units); a piece holds
 * at most max_segments (default 10) segments, 153 septets or 67 units
 * each (160 / 70 for a single segment), within Twilio's 1600-character
 * Body limit. WhatsApp pieces are 1600 characters. 429 waits for
 * Retry-After (or backs off); other 4xx (say 21610, an opted-out
 * recipient) are final.
 */
#include <libwebsockets.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/httpd.h"
#include "claw/log.h"
#include "errors.h"
#include "gw.h"

#define SHA1_BLOCK 64
#define SHA1_LEN 20
#define TW_ID_MAX 64

enum claw_rc gw_hmac_sha1(const void *key, size_t klen, const void *msg,
			  size_t mlen, uint8_t out[20])
{
	uint8_t k[SHA1_BLOCK] = {0}, inner[SHA1_LEN];
	uint8_t outer[SHA1_BLOCK + SHA1_LEN];
	if (klen > SHA1_BLOCK)
		lws_SHA1(key, klen, k);
	else if (klen)
		memcpy(k, key, klen);
	uint8_t *buf = malloc(SHA1_BLOCK + mlen);
	if (!buf)
		return CLAW_ERR_NOMEM;
	for (size_t i = 0; i < SHA1_BLOCK; i++) {
		buf[i] = k[i] ^ 0x36;
		outer[i] = k[i] ^ 0x5c;
	}
	if (mlen)
		memcpy(buf + SHA1_BLOCK, msg, mlen);
	lws_SHA1(buf, SHA1_BLOCK + mlen, inner);
	memcpy(outer + SHA1_BLOCK, inner, SHA1_LEN);
	lws_SHA1(outer, sizeof(outer), out);
	sodium_memzero(buf, SHA1_BLOCK);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(outer, SHA1_BLOCK);
	free(buf);
	return CLAW_OK;
}

static int pair_cmp(const void *a, const void *b)
{
	const json_t *pa = *(json_t *const *)a, *pb = *(json_t *const *)b;
	int n = strcmp(json_string_value(json_array_get(pa, 0)),
		       json_string_value(json_array_get(pb, 0)));
	if (n)
		return n;
	return strcmp(json_string_value(json_array_get(pa, 1)),
		      json_string_value(json_array_get(pb, 1)));
}

bool gw_twilio_signature(const char *auth_token, const char *url,
			 const json_t *pairs, char out[29])
{
	struct claw_buf b;
	uint8_t mac[SHA1_LEN];
	size_t n = json_array_size(pairs);
	bool ok = false;
	json_t **sorted = calloc(n ? n : 1, sizeof(*sorted));
	claw_buf_init(&b, 0);
	if (!sorted || !auth_token || !url || claw_buf_puts(&b, url))
		goto out;
	for (size_t i = 0; i < n; i++)
		sorted[i] = json_array_get(pairs, i);
	qsort(sorted, n, sizeof(*sorted), pair_cmp);
	for (size_t i = 0; i < n; i++)
		if (claw_buf_puts(
			    &b,
			    json_string_value(json_array_get(sorted[i], 0))) ||
		    claw_buf_puts(
			    &b,
			    json_string_value(json_array_get(sorted[i], 1))))
			goto out;
	if (gw_hmac_sha1(auth_token, strlen(auth_token), b.data, b.len, mac))
		goto out;
	sodium_bin2base64(out, 29, mac, sizeof(mac),
			  sodium_base64_VARIANT_ORIGINAL);
	ok = true;
out:
	free(sorted);
	claw_buf_release(&b);
	return ok;
}

bool gw_twilio_verify(const char *auth_token, const char *url,
		      const json_t *pairs, const char *sig_hdr)
{
	char expect[29];
	if (!sig_hdr || !gw_twilio_signature(auth_token, url, pairs, expect))
		return false;
	return strlen(sig_hdr) == strlen(expect) &&
		claw_ct_equal(sig_hdr, expect, strlen(expect));
}

/* --------------------------------------------------------- SMS text */
/* GSM 03.38: the basic table (beyond the ASCII letters and digits, which
 * are all in it) and the extension table (an escape and a septet). */
static const uint32_t gsm_basic[] = {
	'@',   0xA3,  '$',   0xA5,  0xE8,  0xE9,  0xF9,  0xEC, 0xF2,  0xC7,
	'\n',  0xD8,  0xF8,  '\r',  0xC5,  0xE5,  0x394, '_',  0x3A6, 0x393,
	0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E, 0xC6, 0xE6,  0xDF,
	0xC9,  ' ',   '!',   '"',   '#',   0xA4,  '%',   '&',  '\'',  '(',
	')',   '*',   '+',   ',',   '-',   '.',   '/',   ':',  ';',   '<',
	'=',   '>',   '?',   0xA1,  0xC4,  0xD6,  0xD1,  0xDC, 0xA7,  0xBF,
	0xE4,  0xF6,  0xF1,  0xFC,  0xE0,
};
static const uint32_t gsm_ext[] = {
	0x0C, '^', '{', '}', '\\', '[', '~', ']', '|', 0x20AC,
};

unsigned gw_gsm7_septets(uint32_t cp)
{
	if ((cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') ||
	    (cp >= 'a' && cp <= 'z'))
		return 1;
	for (size_t i = 0; i < sizeof(gsm_basic) / sizeof(gsm_basic[0]); i++)
		if (gsm_basic[i] == cp)
			return 1;
	for (size_t i = 0; i < sizeof(gsm_ext) / sizeof(gsm_ext[0]); i++)
		if (gsm_ext[i] == cp)
			return 2;
	return 0;
}

bool gw_sms_gsm7(const char *text)
{
	size_t len = strlen(text), i = 0, w;
	bool cut;
	while (i < len) {
		uint32_t cp = gw_utf8_next(text + i, len - i, &w, &cut);
		if (cut || !gw_gsm7_septets(cp))
			return false;
		i += w;
	}
	return true;
}

static unsigned septets(uint32_t cp)
{
	unsigned n = gw_gsm7_septets(cp);
	return n ? n : 1;
}

json_t *gw_sms_split(const char *text, long max_segments)
{
	bool gsm = gw_sms_gsm7(text);
	size_t single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
	size_t max = max_segments <= 1 ? single : multi * (size_t)max_segments;
	if (max > 1600)
		max = 1600;
	return gw_split_text_w(text, max, gsm ? septets : gw_utf16_units);
}

json_t *gw_twilio_split(const struct gw_conf *c, const json_t *env,
			const char *text)
{
	const char *to = json_string_value(
		json_object_get(json_object_get(env, GW_ENV_ROUTE), "to"));
	if (to && strncmp(to, "whatsapp:", 9) == 0)
		return gw_split_text(text, 1600);
	return gw_sms_split(text, c->ch[GW_CH_TWILIO].max_segments);
}

/* ------------------------------------------------------------ inbound */
static bool sid_ok(const char *s)
{
	return s && strlen(s) == 34 &&
		strspn(s + 2, "0123456789abcdefABCDEF") == 32;
}

/* Media parameters (NumMedia, MediaUrlN, MediaContentTypeN) as
 * twilio-media:<url> attachments. */
static enum claw_rc add_media(json_t *env, const json_t *pairs)
{
	const char *num = gw_form_get(pairs, "NumMedia");
	long n = num && *num && strlen(num) <= 2 &&
			strspn(num, "0123456789") == strlen(num)
		? strtol(num, NULL, 10)
		: 0;
	for (long i = 0; i < n && i < 10; i++) {
		char k[32], url[600];
		snprintf(k, sizeof(k), "MediaUrl%ld", i);
		const char *u = gw_form_get(pairs, k);
		snprintf(k, sizeof(k), "MediaContentType%ld", i);
		const char *t = gw_form_get(pairs, k);
		if (!u || strlen(u) > 512)
			return CLAW_ERR_PARSE;
		const char *kind = !t              ? "file"
			: !strncmp(t, "image/", 6) ? "image"
			: !strncmp(t, "audio/", 6) ? "audio"
			: !strncmp(t, "video/", 6) ? "video"
						   : "file";
		snprintf(url, sizeof(url), "twilio-media:%s", u);
		json_array_append_new(
			json_object_get(env, "attachments"),
			json_pack("{s:s, s:s}", "type", kind, "url", url));
	}
	return CLAW_OK;
}

enum claw_rc gw_twilio_parse(const struct gw_chan_conf *cc, const json_t *pairs,
			     json_t **env_out)
{
	char id[64], conv[160];
	const char *sid = gw_form_get(pairs, "MessageSid");
	const char *acct = gw_form_get(pairs, "AccountSid");
	const char *from = gw_form_get(pairs, "From");
	const char *to = gw_form_get(pairs, "To");
	const char *body = gw_form_get(pairs, "Body");
	const char *name = gw_form_get(pairs, "ProfileName");
	*env_out = NULL;
	if (!sid_ok(sid) || !sid_ok(acct) || !from || !to || !*from || !*to ||
	    strlen(from) > TW_ID_MAX || strlen(to) > TW_ID_MAX ||
	    (name && strlen(name) > 128))
		return CLAW_ERR_PARSE;
	if (cc->account_sid && strcmp(acct, cc->account_sid) != 0)
		return CLAW_ERR_INVALID;
	if (gw_form_get(pairs, "MessageStatus"))
		return CLAW_OK; /* a status callback, not a message */
	snprintf(id, sizeof(id), "twilio:%s", sid);
	snprintf(conv, sizeof(conv), "twilio:%s:%s", to, from);
	json_t *env = gw_env_new(GW_CH_TWILIO, id, to, conv, from, name,
				 body ? body : "", gw_unix_now());
	if (!env)
		return CLAW_ERR_NOMEM;
	if (add_media(env, pairs)) {
		json_decref(env);
		return CLAW_ERR_PARSE;
	}
	json_object_set_new(env, GW_ENV_ROUTE,
			    json_pack("{s:s, s:s}", "to", from, "from", to));
	json_object_set_new(env, GW_ENV_GROUP, json_false());
	json_object_set_new(env, GW_ENV_MENTIONED, json_false());
	*env_out = env;
	return CLAW_OK;
}

static const char empty_twiml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

void gw_twilio_webhook(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	size_t len;
	json_t *pairs = NULL, *env = NULL;
	const char *body = claw_http_body(r, &len);
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_TWILIO];
	if (!cc->enabled) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the twilio channel is not enabled");
		goto out;
	}
	/* a body that is no form cannot be verified either */
	if (gw_form_parse(body ? body : "", len, &pairs) ||
	    !gw_twilio_verify(cc->s1.val, cc->webhook_url, pairs,
			      claw_http_header(r, "X-Twilio-Signature"))) {
		gw_metrics_refused(GW_CH_TWILIO, GW_REF_BAD_SIGNATURE);
		gw_reply_error(r, GW_E_BAD_SIGNATURE,
			       "X-Twilio-Signature does not verify for the "
			       "configured webhook_url");
		goto out;
	}
	enum claw_rc rc = gw_twilio_parse(cc, pairs, &env);
	if (rc) {
		gw_reply_error(r, GW_E_BAD_MESSAGE,
			       rc == CLAW_ERR_INVALID
				       ? "the message is for another Twilio "
					 "account"
				       : "the body is not a Twilio message");
		goto out;
	}
	gw_conf_put(c);
	c = NULL;
	if (env && gw_ingest(g, env, true, NULL, 0) == GW_IN_ERROR) {
		gw_ack(r, GW_IN_ERROR);
		goto out;
	}
	claw_http_reply_raw(r, 200, "text/xml", empty_twiml,
			    sizeof(empty_twiml) - 1);
out:
	json_decref(pairs);
	gw_conf_put(c);
}

/* ----------------------------------------------------------- outbound */
void gw_twilio_send(GW_SEND_ARGS)
{
	(void)g;
	char url[700], auth[600], cred[400];
	struct claw_buf form;
	json_t *reply = NULL;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_TWILIO];
	const char *to = gw_route_str(env, "to");
	const char *from = gw_route_str(env, "from");
	if (!cc->s1.val || !cc->account_sid || !to || !from) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the twilio channel is not configured");
		return;
	}
	int n = snprintf(cred, sizeof(cred), "%s:%s", cc->account_sid,
			 cc->s1.val);
	if (n < 0 || (size_t)n >= sizeof(cred)) {
		sodium_memzero(cred, sizeof(cred));
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the twilio auth token is too long");
		return;
	}
	claw_buf_init(&form, 0);
	bool whatsapp = strncmp(to, "whatsapp:", 9) == 0;
	if (gw_form_add(&form, "To", to) ||
	    (cc->messaging_service_sid && !whatsapp
		     ? gw_form_add(&form, "MessagingServiceSid",
				   cc->messaging_service_sid)
		     : gw_form_add(&form, "From", from)) ||
	    gw_form_add(&form, "Body", text)) {
		claw_buf_release(&form);
		sodium_memzero(cred, sizeof(cred));
		res->st = GW_SEND_RETRY;
		snprintf(res->detail, sizeof(res->detail), "out of memory");
		return;
	}
	memcpy(auth, "Basic ", 6);
	sodium_bin2base64(auth + 6, sizeof(auth) - 6, (unsigned char *)cred,
			  (size_t)n, sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(cred, sizeof(cred));
	snprintf(url, sizeof(url), "%s/2010-04-01/Accounts/%s/Messages.json",
		 cc->api_base, cc->account_sid);
	struct gw_http_out o = {
		.url = url,
		.content_type = "application/x-www-form-urlencoded",
		.body = form.data,
		.body_len = form.len,
		.auth = auth,
	};
	gw_http_send(c, &o, res, &reply);
	sodium_memzero(auth, sizeof(auth));
	if (res->st != GW_SEND_OK && json_object_get(reply, "code")) {
		const char *m = gw_json_str(reply, "message");
		snprintf(res->detail, sizeof(res->detail),
			 "twilio: %lld: %.100s",
			 (long long)json_integer_value(
				 json_object_get(reply, "code")),
			 m ? m : "");
	}
	json_decref(reply);
	claw_buf_release(&form);
}
