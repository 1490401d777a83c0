/*
 * errors.h - the gateway's own HTTP error codes (channel webhooks, web
 * chat, the OpenAI-compatible endpoint, readiness), in the X-macro shape
 * of claw/err.h: X(NAME, "code", HTTP status, "hint").
 *
 * The enum and the table (errors.c) both come from GW_ERRORS, so a code
 * has exactly one status. Shared codes (not_found, bad_request,
 * rate_limited, forbidden, ...) are never listed here: they are sent with
 * claw_http_reply_std. The codes are part of the wire contract: channels
 * and clients see them, so a code is never renamed.
 */
#ifndef GW_ERRORS_H
#define GW_ERRORS_H

#include "claw/err.h"

#define GW_ERRORS(X)                                                           \
	X(CHANNEL_DISABLED, "channel_disabled", 404,                           \
	  "enable the channel in the gateway config, or use a channel that "   \
	  "is enabled")                                                        \
	X(BAD_SIGNATURE, "bad_signature", 401,                                 \
	  "sign the request with the channel's current secret or key")         \
	X(STALE_REQUEST, "stale_request", 401,                                 \
	  "send the request with a current timestamp and check the "           \
	  "sender's clock")                                                    \
	X(REPLAYED_REQUEST, "replayed_request", 401,                           \
	  "sign each request anew; an exact copy is refused")                  \
	X(VERIFICATION_FAILED, "verification_failed", 403,                     \
	  "subscribe with hub.mode=subscribe and the configured "              \
	  "verify token")                                                      \
	X(BAD_UPDATE, "bad_update", 400,                                       \
	  "send a Telegram Update object as the body")                         \
	X(BAD_EVENT, "bad_event", 400, "send a Slack Events API body")         \
	X(BAD_INTERACTION, "bad_interaction", 400,                             \
	  "send a Discord interaction object as the body")                     \
	X(BAD_NOTIFICATION, "bad_notification", 400,                           \
	  "send a WhatsApp Cloud API webhook notification as the body")        \
	X(NO_SESSION, "no_session", 401,                                       \
	  "open /chat first to get a session cookie")                          \
	X(MESSAGE_TOO_LARGE, "message_too_large", 413,                         \
	  "send a shorter message; the channel's max_message_bytes is the "    \
	  "limit")                                                             \
	X(TENANT_SUSPENDED, "tenant_suspended", 503,                           \
	  "the operator suspended this assistant; retry once it is resumed")   \
	X(RUNTIME_ERROR, "runtime_error", 502,                                 \
	  "the agent runtime failed; retry later")                             \
	X(RUNTIME_UNREACHABLE, "runtime_unreachable", 503,                     \
	  "check that the runtime runs and answers /healthz")                  \
	X(JOURNAL_UNWRITABLE, "journal_unwritable", 503,                       \
	  "check the data volume (space, permissions), then deliver again")    \
	X(MODEL_NOT_FOUND, "model_not_found", 404,                             \
	  "use a model id that GET /v1/models lists")                          \
	X(QUOTA_EXCEEDED, "quota_exceeded", 429,                               \
	  "the plan's quota is used up; it resets at the next period or "      \
	  "when the operator raises it")                                       \
	X(BACKLOG_FULL, "backlog_full", 503,                                   \
	  "the gateway holds as many unanswered messages as it may; deliver "  \
	  "again after Retry-After")                                           \
	X(BAD_MESSAGE, "bad_message", 400,                                     \
	  "send the channel's own webhook or event body (LINE, Twilio, "       \
	  "Mattermost, Teams, Google Chat, Feishu)")

enum gw_error {
#define GW_X_ENUM(name, code, status, hint) GW_E_##name,
	GW_ERRORS(GW_X_ENUM)
#undef GW_X_ENUM
	GW_E__COUNT
};

/* Static, never NULL (an out-of-range value gives the shared "internal"). */
const struct claw_error_def *gw_error_def(enum gw_error e);

struct claw_http_req;
/* Send e with its code and status and a printf message (fmt NULL: its
 * hint); the shared error shape of claw_http_reply_def. */
void gw_reply_error(struct claw_http_req *r, enum gw_error e, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

#endif
