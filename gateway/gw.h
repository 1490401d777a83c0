/*
 * gw.h - the per-tenant gateway's internal interfaces.
 *
 * Pipeline: a channel adapter verifies and parses an inbound request into
 * an envelope (a jansson object in the runtime's message shape plus a
 * "route" object that says how to reply), gw_ingest applies the tenant's
 * policies, drops duplicates, appends the envelope to the durable journal
 * (group commit), and hands it to the scheduler; the adapter acknowledges
 * only after that. Workers call the runtime, send the reply through the
 * channel with retry and backoff, then journal "done".
 *
 * Ownership: functions named *_new return a new reference / allocation the
 * caller frees; json_t parameters are borrowed unless suffixed _steal.
 */
#ifndef GW_H
#define GW_H

#include <jansson.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "claw/err.h"

/* ------------------------------------------------------------ channels */
enum gw_channel {
	GW_CH_TELEGRAM,
	GW_CH_SLACK,
	GW_CH_DISCORD,
	GW_CH_WHATSAPP,
	GW_CH_WEBCHAT,
	GW_CH_OPENAI,
	GW_CH_LINE,
	GW_CH_TWILIO,
	GW_CH_MATTERMOST,
	GW_CH_TEAMS,
	GW_CH_GOOGLECHAT,
	GW_CH_FEISHU,
	GW_CH_MATRIX,
	GW_CH_SIGNAL,
	GW_CH_IRC,
	GW_CH_EMAIL,
	GW_CH__COUNT
};
const char *gw_channel_name(enum gw_channel c);
/* Returns the channel or -1. */
int gw_channel_parse(const char *name);

/* ---------------------------------------------------------------- map */
/* A string-keyed hash map (keys copied, values borrowed). Not locked. */
struct gw_map;
struct gw_map *gw_map_new(void);
/* free_fn (may be NULL) is called on every value. */
void gw_map_free(struct gw_map *m, void (*free_fn)(void *));
void *gw_map_get(const struct gw_map *m, const char *key);
/* Insert or replace; returns the previous value or NULL. */
enum claw_rc gw_map_put(struct gw_map *m, const char *key, void *val,
			void **old);
void *gw_map_del(struct gw_map *m, const char *key);
size_t gw_map_count(const struct gw_map *m);
/* Visit every entry; fn returns true to delete the entry (after which the
 * value is the visitor's to free). */
void gw_map_each(struct gw_map *m,
		 bool (*fn)(const char *key, void *val, void *cls), void *cls);

/* --------------------------------------------------------------- config */
enum gw_dm_policy {
	GW_DM_OPEN,
	GW_DM_ALLOWLIST,
	GW_DM_PAIRING
};
enum gw_group_policy {
	GW_GROUP_MENTION,
	GW_GROUP_ALL,
	GW_GROUP_OFF
};

struct gw_secret {
	char *val; /* sodium_malloc'd, NUL-terminated; NULL when absent */
	size_t len;
};

struct gw_chan_conf {
	bool enabled;
	const char *api_base; /* borrowed from the config JSON */
	enum gw_dm_policy dm;
	enum gw_group_policy groups;
	json_t *allow_from; /* array of sender ids (borrowed) */
	long rate_per_min;  /* 0: unlimited */
	long max_bytes;     /* maximum inbound text */
	/* channel specifics */
	const char *mode;            /* telegram: webhook|polling;
					slack: events|socket */
	bool gateway;                /* discord: use the Gateway WebSocket */
	const char *api_version;     /* whatsapp: v21.0 */
	const char *phone_number_id; /* whatsapp */
	const char *public_key_hex;  /* discord */
	const char *application_id;  /* discord */
	const char *bot_user_id;     /* slack: for mentions */
	const char *bot_username;    /* telegram, mattermost: mentions */
	const char *account_sid;     /* twilio: AC + 32 hex; signal: the
					account (+E164 or UUID) */
	const char *webhook_url;     /* twilio: the URL Twilio signs;
					telegram: given to setWebhook */
	const char *messaging_service_sid; /* twilio: send through it */
	long max_segments;                 /* twilio: SMS segments a piece */
	const char *app_id;           /* teams: the bot's Microsoft app id (the
				   tokens' audience); feishu: cli_… */
	const char *keys_url;         /* teams: OpenID metadata URL; googlechat:
				   the signing certificates' URL */
	const char *token_url;        /* teams: client-credentials endpoint */
	json_t *service_url_prefixes; /* teams: where replies may go */
	const char *project_number;   /* googlechat: the tokens' audience */
	/* feishu: bot_user_id is the bot's open_id; matrix: its user id */
	json_t *models; /* openai: model ids (borrowed) */
	/* irc (irc.c): server "host:port" (TLS), the SASL PLAIN login
	   (default the nick, which is bot_username), channels to join, the
	   flood control's burst and refill interval */
	const char *server;
	const char *login;
	json_t *rooms;
	json_int_t flood_burst, flood_interval_ms;
	/* email (email.c): IMAP in, SMTP out (login: their username,
	   default address), the bot's address, the authserv-id of the
	   user's server's Authentication-Results, the mailbox polled */
	const char *imap_url, *smtp_url, *address, *authserv_id, *mailbox;
	json_int_t poll_interval_ms;
	/* secrets (files in the secrets dir, see docs/gateway.md) */
	struct gw_secret s1, s2, s3;
};
/* secret slots per channel:
 *   telegram: s1 bot token, s2 webhook secret token
 *   slack: s1 signing secret, s2 bot token, s3 app-level token
 *   discord: s1 bot token
 *   whatsapp: s1 app secret, s2 verify token, s3 access token
 *   openai: s1 bearer token
 *   line: s1 channel secret, s2 channel access token
 *   twilio: s1 auth token
 *   mattermost: s1 outgoing webhook token, s2 bot access token
 *   teams: s1 the app's client secret (password)
 *   googlechat: s1 the service account's JSON key (one line)
 *   feishu: s1 app secret, s2 verification token, s3 encrypt key
 *   matrix: s1 access token (sync), s2 as_token, s3 hs_token
 *     (appservice)
 *   irc: s1 SASL password
 *   email: s1 the IMAP/SMTP password */

/* ---------------------------------------------------------------- quotas
 * quota.c: the plan's quotas as the control plane sends them in the
 * config's "quota", and the gateway's own count since that figure. */
#define GW_QUOTA_MESSAGE_MAX 1024
struct gw_quota_lim {
	long long limit;     /* -1: no quota */
	long long used;      /* the control plane's count */
	long long resets_at; /* unix time the period ends (0: unknown) */
};
struct gw_quota_conf {
	struct gw_quota_lim turns, tokens; /* per UTC day, per UTC month */
	const char *message;               /* what a refused user reads */
};
/* The persisted count: the turns figure last seen, turns forwarded since
 * (within the period ending period_end), refusals ever. */
struct gw_quota_count {
	long long fig_used, fig_reset, local, period_end, refusals;
};
extern const char gw_quota_default_message[];
/* The config's "quota" object (NULL: none) into qc (borrowing strings
 * from it); INVALID with err filled when malformed. */
enum claw_rc gw_quota_conf_parse(const json_t *o, struct gw_quota_conf *qc,
				 char *err, size_t errlen);
/* A new turns figure (another used or resets_at) restarts the local
 * count in the figure's period. */
void gw_quota_rebase(struct gw_quota_count *q, const struct gw_quota_lim *turns,
		     long long now);
long long gw_quota_turns_used(const struct gw_quota_count *q, long long now);
long long gw_quota_tokens_used(const struct gw_quota_lim *tokens,
			       long long now);
/* The name of the exhausted quota ("turns_per_day", "tokens_per_month")
 * or NULL. */
const char *gw_quota_check(const struct gw_quota_conf *qc,
			   const struct gw_quota_count *q, long long now);
/* One forwarded turn (a new period starts the local count at 0). */
void gw_quota_count_turn(struct gw_quota_count *q, long long now);
/* The state file's one line, and back (false: malformed). */
void gw_quota_count_text(const struct gw_quota_count *q, char *out,
			 size_t outlen);
bool gw_quota_count_parse(const char *line, struct gw_quota_count *q);
struct gw;
struct gw_quota;
/* Load DATA-DIR/gateway/quota.state (a missing or malformed one: 0). */
enum claw_rc gw_quota_open(const struct gw *g, struct gw_quota **out);
void gw_quota_free(struct gw_quota *q);
/* Before a message goes to the runtime: NULL when it may (its turn is
 * counted), else the refusal text (new string; the refusal counted and
 * saved). */
char *gw_quota_admit(struct gw *g, enum gw_channel ch);
/* {"turns_per_day": {limit, used}|null, "tokens_per_month": ..., 
 * "refusals": N} (new reference). */
json_t *gw_quota_status_new(struct gw *g);
/* Refusals ever (kept in quota.state: it survives restarts). */
long long gw_quota_refusals(struct gw *g);

struct gw_conf {
	atomic_int refs;
	json_t *root;
	const char *tenant;
	bool suspended;
	const char *unavailable_text;
	const char *ca_file;
	long workers;
	long compact_bytes;
	long max_event_age_s; /* older messages of channels whose signature
				 carries no time (Telegram, WhatsApp, LINE,
				 Mattermost) are dropped */
	/* floods (journal.c): accepted messages held in memory, and the
	 * unanswered ones past which new ones are refused */
	long max_backlog;
	long max_journal_pending;
	long long loaded_at;  /* unix time the config was loaded */
	json_t *egress_allow; /* array of "host:port" (borrowed) */
	struct gw_chan_conf ch[GW_CH__COUNT];
	struct gw_secret admin_token;
	struct gw_quota_conf quota; /* the plan's quotas (quota.c) */
};

/* Load and validate the JSON config and the secrets it needs. On failure
 * errbuf says what is wrong (never a secret value). */
enum claw_rc gw_conf_load(const char *path, const char *secrets_dir,
			  struct gw_conf **out, char *errbuf, size_t errlen);
/* Validate an already-parsed config object (used by the fuzzer); secrets
 * are not read. Returns 0 or fills errbuf. */
enum claw_rc gw_conf_check(json_t *root, struct gw_conf *c, char *errbuf,
			   size_t errlen);
void gw_conf_put(struct gw_conf *c); /* drop one reference */
/* Is sender in the channel's allow_from list? */
bool gw_conf_allowed(const struct gw_chan_conf *cc, const char *sender);

/* ------------------------------------------------------------- envelope */
/* A new envelope in the runtime's shape; text and names copied. */
json_t *gw_env_new(enum gw_channel ch, const char *id, const char *account,
		   const char *conversation, const char *sender_id,
		   const char *sender_name, const char *text,
		   long long unix_time);
/* Check an envelope read back from the journal (or the fuzzer). */
enum claw_rc gw_env_check(const json_t *env);
/* A webhook body that carries several messages (LINE, WhatsApp): each
 * appends its envelopes to out from the parsed body o (an object or
 * anything else), or fails. */
typedef enum claw_rc (*gw_envs_fn)(const json_t *o, json_t *out);
/* The body as JSON through each: its array of envelopes into *envs_out,
 * or CLAW_ERR_PARSE (or each's error) and NULL. */
enum claw_rc gw_envs_parse(const char *body, size_t len, gw_envs_fn each,
			   json_t **envs_out);
const char *gw_env_str(const json_t *env, const char *key);
/* o[key] when it is a string, else NULL (o may be NULL or no object). */
const char *gw_json_str(const json_t *o, const char *key);
/* The same of the envelope's route (how to answer). */
const char *gw_route_str(const json_t *env, const char *key);
enum gw_channel gw_env_channel(const json_t *env);
/* The body sent to the runtime: the envelope without gateway-only keys.
 * Caller frees. */
char *gw_env_runtime_body_new(const json_t *env);
/* The gateway-only part: route (how to reply), is_group, mentioned. */
#define GW_ENV_ROUTE "route"
#define GW_ENV_GROUP "is_group"
#define GW_ENV_MENTIONED "mentioned"

/* The envelope's time as unix seconds, -1 when it is malformed. */
long long gw_env_unix_time(const json_t *env);
/* Is the message dated more than max_age_s seconds before now? (A
 * malformed time is not judged stale.) */
bool gw_env_stale(const json_t *env, long max_age_s, long long now);

/* Split text into pieces of at most max code points, preferring newlines
 * and spaces. Returns a new array of strings. */
json_t *gw_split_text(const char *text, size_t max);
/* The same with each code point weighing weight(cp) (1 or more): LINE
 * counts UTF-16 units, SMS counts GSM-7 septets. */
json_t *gw_split_text_w(const char *text, size_t max,
			unsigned (*weight)(uint32_t cp));
/* The code point at s (UTF-8, at most len bytes) and its byte width in
 * *w; malformed bytes count as one code point of their own width, and a
 * sequence that len cuts short sets *cut (cut may be NULL). */
uint32_t gw_utf8_next(const char *s, size_t len, size_t *w, bool *cut);
/* Weight of a code point in UTF-16 units (1, or 2 above U+FFFF). */
unsigned gw_utf16_units(uint32_t cp);
/* The pieces of a reply for env's channel under config c: its size rule
 * (a limit in code points, UTF-16 units, or SMS segments for Twilio).
 * New array. */
struct gw_conf;
json_t *gw_channel_split(const struct gw_conf *c, const json_t *env,
			 const char *text);

/* ---------------------------------------------------- form bodies */
#define GW_FORM_MAX_PAIRS 512
/* application/x-www-form-urlencoded into a new array of [name, value]
 * pairs in the order sent; CLAW_ERR_PARSE on a bad escape, a NUL, text
 * that is not UTF-8, a pair without a name or too many pairs. */
enum claw_rc gw_form_parse(const char *body, size_t len, json_t **pairs_out);
/* The first value of name, or NULL (borrowed). */
const char *gw_form_get(const json_t *pairs, const char *name);
struct claw_buf;
/* Append "name=value" (percent-encoded, '&' between pairs) to b. */
enum claw_rc gw_form_add(struct claw_buf *b, const char *name,
			 const char *value);

/* --------------------------------------------------------------- metrics */
enum gw_refuse {
	GW_REF_SUSPENDED,
	GW_REF_RATE,
	GW_REF_SIZE,
	GW_REF_NOT_ALLOWED,
	GW_REF_PAIRING,
	GW_REF_NOT_MENTIONED,
	GW_REF_BAD_SIGNATURE,
	GW_REF_STALE,
	GW_REF_DUPLICATE,
	GW_REF_REPLAY,
	GW_REF_QUOTA,
	GW_REF_BACKLOG, /* the journal holds max_journal_pending already */
	GW_REF__COUNT
};
void gw_metrics_in(enum gw_channel c);
void gw_metrics_out(enum gw_channel c);
void gw_metrics_refused(enum gw_channel c, enum gw_refuse r);
void gw_metrics_reply_latency(double seconds);
void gw_metrics_send_retry(enum gw_channel c);
enum gw_proxy_decision {
	GW_PROXY_ALLOWED,
	GW_PROXY_NOT_LISTED, /* not in egress_allow */
	GW_PROXY_INTERNAL,   /* resolves to an internal address not named */
	GW_PROXY__COUNT
};
void gw_metrics_proxy(enum gw_proxy_decision d);
/* A WebSocket channel stopped reconnecting (a non-resumable close). */
void gw_metrics_ws_stopped(enum gw_channel c);
void gw_metrics_journal_error(void);
/* Unanswered messages held in memory and only in the journal file. */
void gw_metrics_backlog(size_t in_memory, size_t in_file);
/* Prometheus text; caller frees. */
char *gw_metrics_render_new(size_t journal_depth, bool journal_ok);

/* ------------------------------------------------------------ seen ids */
#define GW_SEEN_CAP 20000
#define GW_SEEN_HASH 16
struct gw_seen;
struct gw_seen *gw_seen_new(void);
void gw_seen_free(struct gw_seen *s);
void gw_seen_hash(const char *id, uint8_t out[GW_SEEN_HASH]);
bool gw_seen_has(const struct gw_seen *s, const uint8_t h[GW_SEEN_HASH]);
/* Remember h; the oldest is forgotten past GW_SEEN_CAP. */
void gw_seen_add(struct gw_seen *s, const uint8_t h[GW_SEEN_HASH]);
size_t gw_seen_count(const struct gw_seen *s);
/* The i-th remembered hash, oldest first. */
const uint8_t *gw_seen_at(const struct gw_seen *s, size_t i);

/* --------------------------------------------------------------- journal */
struct gw_journal;
/* Open (create) dir/journal.log, replay it: calls fn for every accepted
 * entry not yet done, in the order written (env borrowed). peer_dir (may
 * be NULL) holds the journal of the other blue/green slot's gateway, read
 * only: an entry it answered is not replayed here. */
enum claw_rc gw_journal_open(const char *dir, const char *peer_dir,
			     long compact_bytes, struct gw_journal **out,
			     void (*fn)(json_t *env, void *cls), void *cls,
			     char *errbuf, size_t errlen);
/* Durably record an accepted envelope (waits for the group commit).
 * CLAW_ERR_INVALID when its id was seen before (duplicate). */
enum claw_rc gw_journal_accept(struct gw_journal *j, json_t *env);
/* Durably record that the envelope with this id is answered. */
enum claw_rc gw_journal_done(struct gw_journal *j, const char *id);
size_t gw_journal_depth(struct gw_journal *j);
/* False while the journal cannot be written. A write error is not
 * sticky: the committer rewrites the file from memory every
 * GW_JOURNAL_RECOVER_MS until that works, then this is true again. */
bool gw_journal_ok(struct gw_journal *j);
void gw_journal_close(struct gw_journal *j);
#define GW_JOURNAL_RECOVER_MS 1000
/* Floods (journal.c): at most max_backlog accepted entries are held in
 * memory (queued in the scheduler); the rest stay only in the file and
 * are read back, in order, as answered ones leave. Past max_pending
 * unanswered entries gw_journal_admit refuses with CLAW_ERR_TOO_LARGE,
 * writing nothing. */
#define GW_MAX_BACKLOG_DEFAULT 2000
#define GW_MAX_JOURNAL_PENDING_DEFAULT 50000
struct gw_sched;
/* Set the bounds, and the scheduler that read-back entries go to when
 * gw_journal_done is not called from one of its workers. */
void gw_journal_bound(struct gw_journal *j, struct gw_sched *s,
		      long max_backlog, long max_pending);
/* gw_journal_accept that may keep the entry only in the file: *queue
 * says whether the caller queues env (true) or the journal will read it
 * back later (false). */
enum claw_rc gw_journal_admit(struct gw_journal *j, json_t *env, bool *queue);

/* -------------------------------------------------------------- scheduler */
/* Append node to the singly linked FIFO (head, tail) through its field
 * next (the scheduler's queues, the journal's spilled entries). */
#define GW_FIFO_APPEND(head, tail, node, next)                                 \
	do {                                                                   \
		(node)->next = NULL;                                           \
		if (tail)                                                      \
			(tail)->next = (node);                                 \
		else                                                           \
			(head) = (node);                                       \
		(tail) = (node);                                               \
	} while (0)
struct gw_job {
	json_t *env;        /* owned */
	char *notice;       /* owned: send this text, do not call the runtime */
	bool journaled;     /* mark done when answered */
	double accepted_at; /* monotonic seconds */
	struct gw_job *next;
};
struct gw_sched;
typedef void (*gw_job_fn)(struct gw_job *job, void *cls);
enum claw_rc gw_sched_start(unsigned workers, gw_job_fn fn, void *cls,
			    struct gw_sched **out);
/* Queue a job (ownership passes); jobs of one conversation run in order. */
void gw_sched_push(struct gw_sched *s, struct gw_job *job_steal);
/* Stop the workers after their current job; queued jobs are dropped (the
 * journal keeps them). */
void gw_sched_stop(struct gw_sched *s);
void gw_job_free(struct gw_job *job);
/* The scheduler whose worker runs the calling thread, or NULL. */
struct gw_sched *gw_sched_self(void);

/* ----------------------------------------------------------- the gateway */
struct gw_webchat;
struct gw_policy;

/* A channel's connection state (chanstate.c): state "" until a bg
 * thread sets one; since and last_event in Unix seconds, 0: never. */
struct gw_chan_state {
	char state[16];
	time_t since;
	time_t last_event;
};

struct gw {
	pthread_mutex_t conf_mu;
	struct gw_conf *conf; /* current; gw_conf_get to use */
	const char *runtime_url;
	const char *data_dir;
	struct gw_journal *journal;
	struct gw_sched *sched;
	struct gw_policy *policy;
	struct gw_webchat *webchat;
	atomic_bool stopping;
	long runtime_timeout_ms;
	long send_retry_max_ms; /* ceiling on one backoff sleep */
	/* token.c: per channel, the JWT signing keys (teams, googlechat)
	 * and the API access token (teams, googlechat, feishu) */
	struct gw_keycache *keys[GW_CH__COUNT];
	struct gw_token *tokens[GW_CH__COUNT];
	/* tghook.c: the setWebhook state (NULL: not in webhook mode) */
	struct gw_tghook *tghook;
	/* chanstate.c: each channel's connection state */
	struct gw_chan_state chan_state[GW_CH__COUNT];
	struct gw_quota *quota; /* quota.c (NULL: not enforced) */
};

/* A referenced snapshot of the current config; gw_conf_put when done. */
struct gw_conf *gw_conf_get(struct gw *g);
/* Install a new config (SIGHUP). */
void gw_conf_swap(struct gw *g, struct gw_conf *c_steal);

/* Every thread of the gateway starts through this (pthread_create; a
 * test points it at a failing stand-in to prove each failure is
 * handled). */
extern int (*gw_thread_create)(pthread_t *thr, const pthread_attr_t *attr,
			       void *(*fn)(void *), void *arg);

double gw_now(void);         /* monotonic seconds */
long long gw_unix_now(void); /* wall clock seconds */
/* Sleep up to ms, returning early when the gateway stops. */
void gw_sleep_ms(struct gw *g, long ms);
/* Set g->stopping and wake every gw_sleep_ms at once. */
void gw_stop(struct gw *g);
/* A stream's saved position (Matrix's since token, Signal's last event
 * id): one line in DATA_DIR/gateway/name. Load: a new string of at
 * most max bytes, or NULL (none, unreadable, or not one line). Save:
 * temporary file, fsync, rename, so a crash leaves the old or the new
 * one; false (logged, what names it) when it could not. */
char *gw_mark_load(const struct gw *g, const char *name, size_t max);
bool gw_mark_save(const struct gw *g, const char *name, const char *value,
		  const char *what);

/* ---------------------------------------------------------------- ingest */
enum gw_ingest_result {
	GW_IN_ACCEPTED,  /* journaled and queued */
	GW_IN_DUPLICATE, /* seen before: acknowledge, do nothing */
	GW_IN_REFUSED,   /* a policy refused it (a notice may be queued) */
	GW_IN_IGNORED,   /* a group message not for us */
	GW_IN_SUSPENDED, /* tenant suspended (a notice is queued) */
	GW_IN_ERROR,     /* journal failed: do not acknowledge */
};
/* Run policies, dedupe, journal and queue. env is consumed. When notice is
 * false, a refusal's polite text is not queued but copied to refusal (for
 * channels that answer inline: Discord interactions, web chat); refusal
 * is "" when there is none. */
enum gw_ingest_result gw_ingest(struct gw *g, json_t *env_steal, bool notice,
				char *refusal, size_t refusal_len);
struct claw_http_req;
/* After gw_ingest gave GW_IN_ERROR on this thread because the journal is
 * full: answer 503 backlog_full with Retry-After and return true. */
bool gw_reply_backlog_full(struct claw_http_req *r);

/* --------------------------------------------------------------- policy */
enum gw_verdict {
	GW_PASS,
	GW_DROP,   /* ignore silently */
	GW_REFUSE, /* refuse with *text */
};
enum claw_rc gw_policy_new(struct gw_policy **out);
void gw_policy_free(struct gw_policy *p);
/* Decide for one inbound envelope under config c: on GW_REFUSE, text gets
 * the polite answer; *reason is the metric label for GW_DROP/GW_REFUSE. */
enum gw_verdict gw_policy_check(struct gw_policy *p, const struct gw_conf *c,
				const json_t *env, char *text, size_t textlen,
				enum gw_refuse *reason);
/* Drop pairing requests of senders now approved (after a reload). */
void gw_policy_prune(struct gw_policy *p, const struct gw_conf *c);
/* Pending pairing requests as a new JSON array. */
json_t *gw_policy_pairing_new(struct gw_policy *p);

/* ---------------------------------------------------------- delivery */
enum gw_send_status {
	GW_SEND_OK,
	GW_SEND_RETRY,
	GW_SEND_FAIL
};
struct gw_send_res {
	enum gw_send_status st;
	int part;            /* in: index of the piece being sent */
	long retry_after_ms; /* from 429 Retry-After, or -1 */
	long http_status;    /* the API's answer, 0 without one */
	char detail[160];    /* for the log; never a secret */
};
/* Send one piece of text in reply to env through its channel. */
void gw_channel_send(struct gw *g, const struct gw_conf *c, const json_t *env,
		     const char *text, struct gw_send_res *res);
/* A Telegram or WhatsApp message older than the config's
 * max_event_age_seconds: counted (refused, "stale"), logged, and true:
 * the caller drops it and acknowledges (the channel must not retry it). */
bool gw_drop_stale(const struct gw_conf *c, const json_t *env);
/* env, or NULL when env is NULL or stale (gw_drop_stale: counted and
 * logged; env freed). */
json_t *gw_unless_stale(const struct gw_conf *c, json_t *env);

/* Best effort "typing..." while the agent works (Telegram). */
void gw_channel_typing(struct gw *g, const struct gw_conf *c,
		       const json_t *env);
/* per-channel senders (same contract as gw_channel_send) */
#define GW_SEND_ARGS                                                           \
	struct gw *g, const struct gw_conf *c, const json_t *env,              \
		const char *text, struct gw_send_res *res
void gw_telegram_send(GW_SEND_ARGS);
void gw_slack_send(GW_SEND_ARGS);
void gw_discord_send(GW_SEND_ARGS);
void gw_whatsapp_send(GW_SEND_ARGS);
void gw_webchat_send(GW_SEND_ARGS);
void gw_line_send(GW_SEND_ARGS);
void gw_twilio_send(GW_SEND_ARGS);
void gw_mattermost_send(GW_SEND_ARGS);
void gw_teams_send(GW_SEND_ARGS);
void gw_googlechat_send(GW_SEND_ARGS);
void gw_feishu_send(GW_SEND_ARGS);
void gw_matrix_send(GW_SEND_ARGS);
void gw_signal_send(GW_SEND_ARGS);
void gw_irc_send(GW_SEND_ARGS);
void gw_email_send(GW_SEND_ARGS);
/* POST body to the Bot API method (the URL holds the token: never
 * logged, wiped): res classified, with Telegram's parameters.retry_after
 * and its description in res->detail on failure; the answer into
 * *reply_out (decref) when it is not NULL. */
void gw_telegram_call(const struct gw_conf *c, const char *method, json_t *body,
		      struct gw_send_res *res, json_t **reply_out);
void gw_telegram_typing(struct gw *g, const struct gw_conf *c,
			const json_t *env);
/* The job function the workers run. */
void gw_deliver(struct gw_job *job, void *cls);

/* Classify an outbound HTTP result: 2xx ok; 429 retry after Retry-After;
 * 408, 5xx and transport errors retry; other 4xx fail. */
struct claw_httpc_resp;
void gw_send_classify(enum claw_rc rc, const struct claw_httpc_resp *resp,
		      struct gw_send_res *res);
/* One outbound call to a channel's API. */
struct gw_http_out {
	const char *method;       /* NULL: POST with a body, else GET */
	const char *url;          /* may hold a token: never logged */
	const char *content_type; /* NULL: application/json; charset=utf-8 */
	const char *body;
	size_t body_len;
	const char *auth;  /* the Authorization value ("Bearer x"), or NULL */
	const char *extra; /* one more "Name: value" header, or NULL */
	/* a 429 without Retry-After waits this header's seconds (say
	 * Mattermost's X-Ratelimit-Reset), or NULL */
	const char *reset_header;
};
/* Send o; res classified (gw_send_classify); *reply_out (may be NULL)
 * the answer's JSON, or NULL. */
void gw_http_send(const struct gw_conf *c, const struct gw_http_out *o,
		  struct gw_send_res *res, json_t **reply_out);
/* POST a JSON body; res classified. auth may be NULL ("Bearer x" value). */
void gw_post_json(const struct gw_conf *c, const char *url, const char *auth,
		  const char *method, json_t *body, struct gw_send_res *res,
		  json_t **reply_out);

/* --------------------------------------------------------------- runtime */
/* Ask the runtime for a reply. *reply_out: new string; *answer_out (may
 * be NULL): the runtime's whole answer (usage, truncated), a new
 * reference. Transport errors and 5xx are CLAW_ERR_IO (retry); 4xx
 * CLAW_ERR_INVALID (give up). */
enum claw_rc gw_runtime_ask(struct gw *g, const struct gw_conf *c,
			    const json_t *env, char **reply_out,
			    json_t **answer_out);
/* The same with Accept: text/event-stream: on_delta gets each piece as
 * it comes; *reply_out the whole reply (from the done event). */
enum claw_rc gw_runtime_ask_stream(struct gw *g, const json_t *env,
				   void (*on_delta)(const char *text,
						    void *cls),
				   void *cls, char **reply_out);
bool gw_runtime_ready(struct gw *g);

/* ------------------------------------------------------------- HTTP side */
struct claw_route;
struct claw_http_req;
extern const struct claw_route *const gw_routes;
extern const size_t gw_n_routes;

/* One reply for an ingest result on a webhook (200 {"ok":true}, 503). */
void gw_ack(struct claw_http_req *r, enum gw_ingest_result res);
/* Give back c (the handler's config reference), ingest env (stolen; may
 * be NULL) unless it is stale, and answer 200 {} (what Google Chat,
 * Mattermost and Feishu expect when the reply comes later) or 503 when
 * it could not be stored. */
void gw_ack_empty(struct claw_http_req *r, struct gw *g, struct gw_conf *c,
		  json_t *env);
/* Ingest each envelope of a webhook's array that is not stale, then one
 * gw_ack: 503 if any could not be stored. */
void gw_ack_all(struct claw_http_req *r, struct gw *g, const struct gw_conf *c,
		const json_t *envs);

/* webhook handlers (ctx is struct gw *) */
void gw_telegram_webhook(struct claw_http_req *r, void *ctx);
void gw_slack_events(struct claw_http_req *r, void *ctx);
void gw_whatsapp_verify(struct claw_http_req *r, void *ctx);
void gw_whatsapp_webhook(struct claw_http_req *r, void *ctx);
void gw_discord_interactions(struct claw_http_req *r, void *ctx);
void gw_webchat_page(struct claw_http_req *r, void *ctx);
void gw_webchat_post(struct claw_http_req *r, void *ctx);
void gw_webchat_events(struct claw_http_req *r, void *ctx);
void gw_openai_chat(struct claw_http_req *r, void *ctx);
void gw_openai_responses(struct claw_http_req *r, void *ctx);
void gw_openai_models(struct claw_http_req *r, void *ctx);
void gw_openai_model(struct claw_http_req *r, void *ctx);
void gw_line_webhook(struct claw_http_req *r, void *ctx);
void gw_twilio_webhook(struct claw_http_req *r, void *ctx);
void gw_mattermost_webhook(struct claw_http_req *r, void *ctx);
void gw_teams_messages(struct claw_http_req *r, void *ctx);
void gw_googlechat_events(struct claw_http_req *r, void *ctx);
void gw_feishu_events(struct claw_http_req *r, void *ctx);
void gw_matrix_transaction(struct claw_http_req *r, void *ctx);
void gw_matrix_ping(struct claw_http_req *r, void *ctx);
void gw_matrix_query(struct claw_http_req *r, void *ctx);

/* ------------------------------------- OpenAI-compatible endpoints */
struct claw_error_def;
struct claw_buf;
/* OpenAI's class of an error status: "requests" (429), "server_error"
 * (5xx), else "invalid_request_error". */
const char *gw_openai_error_type(unsigned status);
/* OpenAI's error object {"message","type","param","code"} (plus
 * "request_id" when given) for def; param NULL or the request field at
 * fault. New reference. */
json_t *gw_openai_error_new(const struct claw_error_def *def, const char *param,
			    const char *message, const char *request_id);
/* Reply with {"error": that object} and def's status; fmt NULL: its
 * hint. */
void gw_openai_error(struct claw_http_req *r, const struct claw_error_def *def,
		     const char *param, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The endpoint enabled, the bearer token right, the tenant not
 * suspended: the config (gw_conf_put it), or NULL with the error sent. */
struct gw_conf *gw_openai_open(struct claw_http_req *r, struct gw *g);
/* The policies for env (size, rate, ...): true, or false with the error
 * sent (429 with Retry-After, 413, 403). */
bool gw_openai_admit(struct claw_http_req *r, struct gw *g,
		     const struct gw_conf *c, const json_t *env);
/* A new request id: "openai:" and 24 hex digits (id: 32 bytes or more). */
void gw_openai_id(char *id);
/* A new envelope of the OpenAI endpoints: id, conversation conv, sender,
 * text (the buffer's; "" when empty) and the earlier messages (history,
 * set when not empty). */
json_t *gw_openai_env_new(const char *id, const char *conv, const char *sender,
			  const struct claw_buf *text, json_t *history);
/* Text of a message's content: a string, or the "text" of each part of
 * an array; false when it is neither (or too large for b). */
bool gw_openai_content_text(const json_t *content, struct claw_buf *b);
/* The runtime's usage ({input_tokens, output_tokens}) in Chat
 * Completions' or (responses) the Responses API's shape. New. */
json_t *gw_openai_usage_new(const json_t *usage, bool responses);
/* An endpoint's answer (new) of the runtime's reply text, its usage and
 * whether the reply was cut off. */
typedef json_t *(*gw_openai_whole_fn)(const void *cls, const char *reply,
				      const json_t *usage, bool truncated);
/* Ask the runtime (no stream) and reply 200 with make's answer, or the
 * error. */
void gw_openai_whole(struct claw_http_req *r, struct gw *g, const json_t *env,
		     gw_openai_whole_fn make, const void *cls);
extern const char gw_openai_runtime_failed[];
/* What is wrong with a request body: the field at fault (or NULL) and
 * why (static text). */
struct gw_openai_fault {
	const char *param, *why;
};
/* An endpoint's reading of its body: the envelope, or NULL with the
 * fault (in q, given to gw_openai_serve/gw_openai_parse) set. */
typedef json_t *(*gw_openai_env_fn)(json_t *req, void *q);
/* An endpoint's answer for an admitted envelope (q's strings borrow
 * from the body until it returns). */
typedef void (*gw_openai_answer_fn)(struct claw_http_req *r, struct gw *g,
				    json_t *env, void *q);
/* Serve a POST: gw_openai_open, the body as a JSON object, env_of (400
 * with the fault's param and why when it is not one; fault is in q, its
 * why set beforehand to what a body that is no JSON object gets), the
 * policies, then answer. */
void gw_openai_serve(struct claw_http_req *r, void *ctx,
		     gw_openai_env_fn env_of, gw_openai_answer_fn answer,
		     void *q, struct gw_openai_fault *fault);
/* A body into its envelope without a request (for the fuzzer and
 * tests): NULL when it is not one, *param then the fault's param. */
json_t *gw_openai_parse(const char *body, size_t len, gw_openai_env_fn env_of,
			void *q, const struct gw_openai_fault *fault,
			const char **param);
/* A Chat Completions / Responses request body into its envelope (for the
 * fuzzer and tests): NULL when it is not one, *param then the field at
 * fault (static text) or NULL. */
json_t *gw_openai_chat_parse(const char *body, size_t len, const char **param);
json_t *gw_openai_responses_parse(const char *body, size_t len,
				  const char **param);
/* The model ids of the config (channels.openai.models, default
 * ["claw"]): a new array. */
json_t *gw_openai_model_ids(const struct gw_conf *c);

/* A streamed answer: the runtime's events become the endpoint's events
 * through these callbacks, called with the stream's lock held; they
 * queue events with gw_ostream_emit. */
struct gw_ostream;
struct gw_ostream_ops {
	void (*begin)(struct gw_ostream *s); /* may be NULL */
	void (*delta)(struct gw_ostream *s, const char *text);
	/* the whole reply, the runtime's usage (may be NULL) */
	void (*done)(struct gw_ostream *s, const char *reply,
		     const json_t *usage, bool truncated);
	void (*fail)(struct gw_ostream *s); /* no done event came */
	void (*release)(void *cls);         /* may be NULL */
	bool done_marker;                   /* end with "data: [DONE]" */
};
/* Queue one event: "event: NAME" (when event is not NULL) and "data:"
 * with the JSON. */
void gw_ostream_emit(struct gw_ostream *s, const char *event, json_t *o_steal);
void *gw_ostream_cls(struct gw_ostream *s);
/* Reply to r with a stream of env's answer; cls_steal is ops'
 * (released with ops->release). */
void gw_openai_stream(struct claw_http_req *r, struct gw *g, const json_t *env,
		      const struct gw_ostream_ops *ops, void *cls_steal);

/* ------------------------------------------------------ channel parsers */
/* Parsers are pure (no I/O) so the fuzzers can drive them. Each returns
 * CLAW_OK with *env_out (new, or NULL when the update carries no message
 * for us) or an error for malformed input. */
enum claw_rc gw_telegram_parse(const struct gw_chan_conf *cc, const char *body,
			       size_t len, json_t **env_out);
enum claw_rc gw_slack_parse(const struct gw_chan_conf *cc, const char *body,
			    size_t len, json_t **env_out,
			    const char **challenge_out, json_t **root_out);
/* WhatsApp posts may carry several messages: *envs_out is an array. */
enum claw_rc gw_whatsapp_parse(const struct gw_chan_conf *cc, const char *body,
			       size_t len, json_t **envs_out);
/* Discord interaction: *type_out is the interaction type (1 PING). */
enum claw_rc gw_discord_parse(const struct gw_chan_conf *cc, const char *body,
			      size_t len, int *type_out, json_t **env_out);

/* LINE: message events into an array of envelopes (stickers, follows,
 * standby mode left out). */
enum claw_rc gw_line_parse(const struct gw_chan_conf *cc, const char *body,
			   size_t len, json_t **envs_out);
/* Twilio: a verified form's pairs into an envelope (NULL for a status
 * callback); CLAW_ERR_INVALID when AccountSid is not cc's. */
enum claw_rc gw_twilio_parse(const struct gw_chan_conf *cc, const json_t *pairs,
			     json_t **env_out);
/* Mattermost: the outgoing webhook's fields as [name, value] pairs, from
 * a form or (ctype application/json) JSON, timestamp in seconds. */
enum claw_rc gw_mattermost_fields(const char *ctype, const char *body,
				  size_t len, json_t **fields_out);
/* The fields of a verified webhook into an envelope (NULL: the bot's own
 * post). */
enum claw_rc gw_mattermost_parse(const struct gw_chan_conf *cc,
				 const json_t *fields, json_t **env_out);
/* One WebSocket event of a bot account (mattermost_ws.c): a "posted"
 * event's post into an envelope (NULL: another event, a system message
 * or bot_id's own post). */
enum claw_rc gw_mattermost_ws_parse(const struct gw_chan_conf *cc,
				    const char *bot_id, const char *text,
				    size_t len, json_t **env_out);
/* The bot account's WebSocket (channels.mattermost.mode "websocket"):
 * cls from gw_mmws_new (free), for gw_bg_start. */
void *gw_mmws_new(void);
bool gw_mmws_round(struct gw *g, void *cls, long *wait_ms);
/* Its message handler (cls: the state from gw_mmws_new, bound to g
 * first), for tests and the fuzzer. */
extern const struct gw_ws_handler gw_mmws_handler;
void gw_mmws_bind(void *state, struct gw *g, const char *bot_id);

/* signature checks (pure) */
/* X-Line-Signature: base64 HMAC-SHA256 of the body, channel secret. */
bool gw_line_verify(const char *channel_secret, const char *sig_hdr,
		    const char *body, size_t len);
/* X-Twilio-Signature: base64 HMAC-SHA1 (auth token) of url followed by
 * every pair's name and value, sorted; out gets 28 characters + NUL. */
bool gw_twilio_signature(const char *auth_token, const char *url,
			 const json_t *pairs, char out[29]);
bool gw_twilio_verify(const char *auth_token, const char *url,
		      const json_t *pairs, const char *sig_hdr);
/* Mattermost: the payload's token equals token (constant time). */
bool gw_mattermost_verify(const char *token, const json_t *fields);
/* HMAC-SHA1 (RFC 2104) over libwebsockets' SHA-1. */
enum claw_rc gw_hmac_sha1(const void *key, size_t klen, const void *msg,
			  size_t mlen, uint8_t out[20]);
/* LINE's X-Line-Retry-Key for piece part of the reply to message id: a
 * UUID that is the same for every attempt and after a restart. */
void gw_line_retry_key(const char *id, int part, char out[37]);
/* SMS: septets of a code point in GSM 03.38 (1 basic, 2 extension), 0
 * when it is not in it; is all of text GSM-7? */
unsigned gw_gsm7_septets(uint32_t cp);
bool gw_sms_gsm7(const char *text);
/* SMS pieces of at most max_segments segments each (GSM-7: 160 alone,
 * 153 concatenated; else UCS-2: 70 / 67), within 1600 characters. */
json_t *gw_sms_split(const char *text, long max_segments);
/* Twilio's pieces for env: SMS by segment, WhatsApp 1600 characters. */
json_t *gw_twilio_split(const struct gw_conf *c, const json_t *env,
			const char *text);

bool gw_slack_verify(const char *secret, const char *ts_hdr,
		     const char *sig_hdr, const char *body, size_t len,
		     long long now);
bool gw_hub_verify(const char *app_secret, const char *sig_hdr,
		   const char *body, size_t len);
bool gw_discord_verify(const char *public_key_hex, const char *sig_hdr,
		       const char *ts_hdr, const char *body, size_t len);

/* True the first time a (verified) signature is seen within the replay
 * window; false for a replay. The key is the signature's bytes (decoded
 * from the header's hex), so another spelling of them is a replay too. */
bool gw_replay_check(enum gw_channel ch, const uint8_t *sig, size_t len);
void gw_replay_release(void); /* at exit */

/* ----------------------------------------------- web chat session boxes */
enum claw_rc gw_webchat_new(struct gw_webchat **out);
void gw_webchat_free(struct gw_webchat *w);
/* Deliver a reply for a session (copied). */
void gw_webchat_push(struct gw_webchat *w, const char *session,
		     const char *event, const char *text);

/* ------------------------------------------------------------ websocket */
struct gw_ws;
struct gw_ws_handler {
	void (*on_open)(struct gw_ws *ws, void *cls);
	/* one whole text message (data not NUL-terminated beyond len) */
	void (*on_text)(struct gw_ws *ws, const char *data, size_t len,
			void *cls);
	void (*on_tick)(struct gw_ws *ws, void *cls); /* every 100 ms */
};
/* How a connection ended. */
struct gw_ws_end {
	bool opened;    /* the WebSocket handshake completed */
	int close_code; /* the peer's close frame's status, 0 without one */
	double open_s;  /* how long it was open */
};
/* Connect and service until closed or the gateway stops. CLAW_OK when
 * the connection had opened; errbuf says how it ended, *end (may be NULL)
 * the details. */
enum claw_rc gw_ws_run(struct gw *g, const char *url, const char *ca_file,
		       const struct gw_ws_handler *h, void *cls,
		       struct gw_ws_end *end, char *errbuf, size_t errlen);
/* gw_ws_run with the config's CA bundle, logging how it ended under the
 * name what. */
void gw_ws_session(struct gw *g, const char *what, const char *url,
		   const struct gw_ws_handler *h, void *cls,
		   struct gw_ws_end *end);
/* From a handler callback: queue a text message / ask to close (with
 * 1000, or with code: Discord keeps a session resumable unless it is
 * closed with 1000 or 1001). */
void gw_ws_send(struct gw_ws *ws, const char *text);
void gw_ws_close(struct gw_ws *ws);
void gw_ws_close_code(struct gw_ws *ws, int code);
/* A socket with no connection, for tests and fuzzers: sends are queued,
 * a close is recorded. take: the next queued text (caller frees) or
 * NULL; close_requested: 0, or the code a handler asked to close with. */
struct gw_ws *gw_ws_detached_new(struct gw *g);
char *gw_ws_detached_take(struct gw_ws *ws);
int gw_ws_close_requested(const struct gw_ws *ws);
void gw_ws_detached_free(struct gw_ws *ws);
/* A session open this long was healthy: the reconnect backoff restarts. */
#define GW_WS_HEALTHY_S 60.0

/* ------------------------------------------------ pull loops (bg thread) */
/* One round: true when it went well; *wait_ms (preset -1) may ask for a
 * pause before the next round (say Retry-After), or be one of: */
#define GW_BG_STOP (-2) /* end the thread: retrying cannot help */
#define GW_BG_RECONNECT                                                        \
	(-3) /* wait gw_backoff_ms (attempts restart when
				the round returned true) */
typedef bool (*gw_bg_round)(struct gw *g, void *cls, long *wait_ms);
struct gw_bg;
/* A thread for channel ch (-1: none, its rounds are no channel's
 * connection, say Telegram's setWebhook), whose state it keeps
 * (chanstate.c). cls (malloc'd, may be NULL) is freed when the thread is
 * stopped. */
enum claw_rc gw_bg_start(struct gw *g, int ch, gw_bg_round round,
			 void *cls_steal, struct gw_bg **out);
/* The same with cls released by release (also when the start fails). */
enum claw_rc gw_bg_start_release(struct gw *g, int ch, gw_bg_round round,
				 void *cls_steal, void (*release)(void *cls),
				 struct gw_bg **out);
/* Called from a round (ws.c, when its WebSocket is established): the
 * calling bg thread's channel is connected. No-op on other threads. */
void gw_bg_connected(void);

/* -------------------------------------------- connection states */
/* chanstate.c: what /readyz says of each channel enabled in c:
 * {NAME: {state, since, last_event}} (a new reference). */
void gw_chan_set(struct gw *g, enum gw_channel ch, const char *state);
void gw_chan_event(struct gw *g, enum gw_channel ch);
json_t *gw_chan_states_new(struct gw *g, const struct gw_conf *c);
void gw_bg_stop(struct gw_bg *b); /* after g->stopping; NULL is a no-op */
/* The wait before reconnect attempt n (0 first): exponential from 1 s to
 * 5 min, the upper half random ("equal jitter"), never under 1 s. rnd:
 * a random number. */
#define GW_RECONNECT_MIN_MS 1000L
#define GW_RECONNECT_MAX_MS 300000L
long gw_backoff_ms(unsigned attempt, uint32_t rnd);

/* Telegram setWebhook (tghook.c): cls a gw_tghook_new state, released
 * with gw_tghook_free; its state for /readyz as a new object. */
struct gw_tghook;
struct gw_tghook *gw_tghook_new(void);
void gw_tghook_free(void *cls);
bool gw_tghook_round(struct gw *g, void *cls, long *wait_ms);
json_t *gw_tghook_status_new(struct gw_tghook *h);

/* Telegram getUpdates; cls: a long long offset (calloc'd). */
bool gw_tgpoll_round(struct gw *g, void *cls, long *wait_ms);
/* Slack Socket Mode; cls unused (NULL). */
bool gw_slacksock_round(struct gw *g, void *cls, long *wait_ms);
/* Its message handler (cls: the struct gw), for tests and the fuzzer. */
extern const struct gw_ws_handler gw_slacksock_handler;
/* Discord Gateway; cls from gw_discordgw_new. */
void *gw_discordgw_new(void);
bool gw_discordgw_round(struct gw *g, void *cls, long *wait_ms);
/* Its message handler (cls: the state from gw_discordgw_new, bound to g
 * first), for tests and the fuzzer. */
extern const struct gw_ws_handler gw_discordgw_handler;
void gw_discordgw_bind(void *state, struct gw *g);
/* What a Discord Gateway close code asks for (its documented table):
 * resume, identify anew (4007, 4009), or stop reconnecting (4004,
 * 4010-4014: a bad token, shard, API version or intents). *why names
 * it. */
enum gw_ws_after {
	GW_WS_RESUME,
	GW_WS_IDENTIFY,
	GW_WS_STOP
};
enum gw_ws_after gw_discord_close_action(int code, const char **why);

/* ---------------------------------------------------------- Discord */
/* A Gateway MESSAGE_CREATE's d into an envelope (NULL: not for us). */
enum claw_rc gw_discord_message_parse(const struct gw_chan_conf *cc,
				      const char *bot_id, json_t *d,
				      json_t **env_out);

/* ---------------------------------------------------------- egress proxy */
struct gw_proxy;
enum claw_rc gw_proxy_start(struct gw *g, const char *listen,
			    struct gw_proxy **out, char *errbuf, size_t errlen);
uint16_t gw_proxy_port(const struct gw_proxy *p);
/* Stop accepting, end every tunnel (their sockets are shut down) and wait
 * for their threads, then free p. NULL is a no-op. */
void gw_proxy_stop(struct gw_proxy *p);
/* Parse "CONNECT host:port HTTP/1.1" from a request head. */
enum claw_rc gw_proxy_parse_connect(const char *head, size_t len, char *host,
				    size_t hostlen, unsigned *port);

/* egress.c: the proxy's decisions (pure, for tests and the fuzzer). An
 * egress_allow entry is "host:port", "*.domain:port", an address
 * "IPv4:port" / "[IPv6]:port", or a network "IPv4/len:port" (len 8..32) /
 * "[IPv6/len]:port" (len 16..128). Is the entry well-formed? */
bool gw_egress_entry_valid(const char *entry);
/* Does the list name host:port? A name matches name entries, an address
 * literal matches address and network entries (IPv4-mapped IPv6 as
 * IPv4). */
bool gw_egress_allowed(const json_t *allow, const char *host, unsigned port);
/* Why an address (16 bytes, IPv4 as ::ffff:a.b.c.d) must not be dialled
 * unless named ("loopback", "private", "link-local", ...), or NULL for a
 * public one. */
const char *gw_addr_internal(const uint8_t addr[16]);
/* Does an address or network entry of the list (with this port) cover
 * addr? */
bool gw_egress_addr_named(const json_t *allow, const uint8_t addr[16],
			  unsigned port);
/* Resolve host once and check every address: CLAW_OK with *out (the
 * addresses to dial, exactly these; freeaddrinfo), CLAW_ERR_INVALID when
 * one is internal and not named (why says which), CLAW_ERR_NOT_FOUND
 * when it does not resolve. */
enum claw_rc gw_egress_resolve(const json_t *allow, const char *host,
			       unsigned port, struct addrinfo **out, char *why,
			       size_t whylen);
/* The resolver gw_egress_resolve calls (getaddrinfo; tests count calls). */
extern int (*gw_egress_getaddrinfo)(const char *node, const char *service,
				    const struct addrinfo *hints,
				    struct addrinfo **res);

/* ------------------------------------------------ jwt.c (libcrypto) */
/* A set of RSA signing keys by key id. */
struct gw_jwks;
/* A JWKS ({"keys": [...]}, RSA signature keys with a kid; others
 * skipped; a key's "endorsements" kept) or a map of key ids to PEM
 * certificates (Google's). CLAW_ERR_NOT_FOUND when no key is usable. */
enum claw_rc gw_jwks_parse(const char *text, size_t len, struct gw_jwks **out);
void gw_jwks_free(struct gw_jwks *ks);
size_t gw_jwks_count(const struct gw_jwks *ks);
enum gw_jwt_err {
	GW_JWT_OK,
	GW_JWT_MALFORMED,
	GW_JWT_ALG, /* not exactly RS256 */
	GW_JWT_UNKNOWN_KEY,
	GW_JWT_SIGNATURE,
	GW_JWT_ISSUER,
	GW_JWT_AUDIENCE,
	GW_JWT_EXPIRED,
	GW_JWT_NOT_YET,
	GW_JWT_NO_KEYS, /* the key set cannot be fetched */
};
const char *gw_jwt_strerror(enum gw_jwt_err e);
/* The token of r's "Authorization: Bearer <token>" header (scheme in any
 * case, token not empty), or NULL: where Teams and Google Chat send the
 * JWT that signs a webhook. */
const char *gw_jwt_bearer(struct claw_http_req *r);
struct gw_jwt_rules {
	const char *const *issuers; /* NULL-terminated; iss must be one */
	const char *audience;       /* aud (string or array) must hold it */
	long leeway_s;              /* clock skew allowed on exp and nbf */
	long long now;              /* unix seconds */
};
/* Verify an RS256 compact JWS against ks and r: header alg exactly
 * RS256 and a known kid, the signature, then iss, aud, exp (required)
 * and nbf. *claims_out (may be NULL) the payload, *endorsements_out (may
 * be NULL) the key's endorsements, both new or NULL. */
enum gw_jwt_err gw_jwt_verify(const struct gw_jwks *ks, const char *token,
			      const struct gw_jwt_rules *r, json_t **claims_out,
			      json_t **endorsements_out);
struct claw_buf;
/* Fetch a key document into doc; why says what failed. */
typedef enum claw_rc (*gw_keys_fetch_fn)(void *cls, struct claw_buf *doc,
					 char *why, size_t whylen);
/* The key set of one source (a URL), fetched on first use, after ttl_s,
 * and when a token names an unknown kid, at most once per
 * min_refresh_s. Locked. */
struct gw_keycache;
struct gw_keycache *gw_keycache_new(long ttl_s, long min_refresh_s);
void gw_keycache_free(struct gw_keycache *kc);
/* gw_jwt_verify with the source's keys (fetch called as needed; another
 * source than before drops the keys). GW_JWT_NO_KEYS when none could be
 * fetched. */
enum gw_jwt_err gw_keycache_verify(struct gw_keycache *kc, const char *source,
				   gw_keys_fetch_fn fetch, void *cls,
				   const char *token,
				   const struct gw_jwt_rules *r,
				   json_t **claims_out,
				   json_t **endorsements_out);
/* header.claims signed with RS256 by a PEM private key (PKCS#8 or
 * PKCS#1, RSA 2048+ bits): *out a new compact JWS. */
enum claw_rc gw_jwt_sign_rs256(const char *pem_key, const json_t *header,
			       const json_t *claims, char **out);
/* AES-256-CBC with PKCS#7 padding: in is the 16-byte IV and the cipher
 * text. *out new (NUL-terminated), *outlen its length; CLAW_ERR_PARSE
 * for a wrong key, bad padding or a length that is not whole blocks. */
enum claw_rc gw_aes256cbc_decrypt(const uint8_t key[32], const uint8_t *in,
				  size_t len, char **out, size_t *outlen);

/* ---------------------------------------------- token.c (API tokens) */
struct gw_token;
struct gw_token *gw_token_new(void);
void gw_token_free(struct gw_token *t);
/* Who a token belongs to: a hash of two names and the secret. */
void gw_token_ident(const char *a, const char *b, const char *secret,
		    char out[65]);
/* Get a new token: *tok (malloc'd, wiped by the caller) valid *life
 * seconds; res says what failed (retry or fail). */
typedef enum claw_rc (*gw_token_fetch_fn)(void *cls, char **tok, long *life,
					  struct gw_send_res *res);
/* "Bearer <token>" into out: the cached one while it is fresh and of
 * ident's credentials, else a fresh one from fetch. */
enum claw_rc gw_token_get(struct gw_token *t, const char *ident, long long now,
			  gw_token_fetch_fn fetch, void *cls, char *out,
			  size_t outlen, struct gw_send_res *res);
/* A channel's fetch of a new token with the config c (as
 * gw_token_fetch_fn). */
typedef enum claw_rc (*gw_conf_fetch_fn)(const struct gw_conf *c, char **tok,
					 long *life, struct gw_send_res *res);
/* "Bearer <token>" into auth from the channel ch's cache in g
 * (gw_token_get; the credentials' ident from a, b and the channel's s1
 * secret), fetched with fetch(c) when needed; on failure res says retry
 * (or fail) and why. */
enum claw_rc gw_chan_token(struct gw *g, enum gw_channel ch,
			   const struct gw_conf *c, const char *a,
			   const char *b, gw_conf_fetch_fn fetch, char *auth,
			   size_t authlen, struct gw_send_res *res);
/* The API refused value (401): drop it if it is still the cached one. */
void gw_token_drop(struct gw_token *t, const char *value);
/* POST body (JSON) to url with auth, a token of t: a 401 drops the
 * token (the retry fetches a fresh one); when the send failed, the API's
 * {"error":{"message", code_key}} goes into res->detail after name. */
void gw_token_post(const struct gw_conf *c, struct gw_token *t, const char *url,
		   const char *auth, json_t *body, const char *name,
		   const char *code_key, struct gw_send_res *res);
/* An OAuth 2.0 token request: POST the form (built: every field was
 * added) to url; the answer's access_token and expires_in into *tok and
 * *life, or res says why (an OAuth "error" after "name token:"). The
 * form is wiped and released. */
struct claw_buf;
enum claw_rc gw_token_oauth(const struct gw_conf *c, const char *url,
			    struct claw_buf *form, bool built, const char *name,
			    char **tok, long *life, struct gw_send_res *res);
/* A token endpoint's JSON answer: reply[token_key] and reply[life_key]
 * (seconds) into *tok (new) and *life, when res is GW_SEND_OK. */
enum claw_rc gw_token_answer(json_t *reply, const char *token_key,
			     const char *life_key, char **tok, long *life,
			     struct gw_send_res *res);
/* GET url (10 s, at most 1 MiB) into doc: a key document. */
enum claw_rc gw_fetch_doc(const struct gw_conf *c, const char *url,
			  struct claw_buf *doc, char *why, size_t whylen);
/* Create / free every channel's key cache and token in g. */
enum claw_rc gw_auth_init(struct gw *g);
void gw_auth_release(struct gw *g);

/* ----------------------------------------- shared by the new channels */
/* Bytes a code point takes in a JSON string as jansson writes it
 * (UTF-8, escapes); twice escaped (a JSON document inside a JSON
 * string, Feishu's content). Weights for gw_split_text_w. */
unsigned gw_json_bytes(uint32_t cp);
unsigned gw_json2_bytes(uint32_t cp);
/* Append s percent-encoded as one URL path segment (RFC 3986: only
 * unreserved characters kept). */
enum claw_rc gw_url_escape(struct claw_buf *b, const char *s);
/* An RFC 3339 time ("2024-01-02T03:04:05.678Z", "+01:00" offsets) as
 * unix seconds, or -1. */
long long gw_rfc3339_parse(const char *s);
/* A UUID-shaped key (lowercase hex, version 4 layout) derived from
 * domain, id and part: the same for every attempt and after a restart
 * (LINE's retry key, Google Chat's requestId, Feishu's uuid). */
void gw_derived_uuid(const char *domain, const char *id, int part,
		     char out[37]);
/* Queue a notice (not journaled) answering env (consumed). */
void gw_queue_notice(struct gw *g, json_t *env_steal, const char *text);

/* ---------------------------------------------------- Microsoft Teams */
#define GW_TEAMS_ISSUER "https://api.botframework.com"
#define GW_TEAMS_LEEWAY_S 300
/* A verified Bot Framework activity into an envelope (NULL for activity
 * types and messages that need no answer). CLAW_ERR_PARSE when it is no
 * activity. */
enum claw_rc gw_teams_parse(const struct gw_chan_conf *cc, const char *body,
			    size_t len, json_t **env_out);
/* The token's claims and key endorsements agree with the activity:
 * serviceUrl claim = activity.serviceUrl, and when the key carries
 * endorsements, activity.channelId among them. */
bool gw_teams_claims_match(const json_t *claims, const json_t *endorsements,
			   const char *body, size_t len);
/* Is url a serviceUrl replies may go to (cc's prefixes, default
 * https://)? */
bool gw_teams_service_url_ok(const struct gw_chan_conf *cc, const char *url);

/* --------------------------------------------------------- Google Chat */
#define GW_GCHAT_ISSUER "chat@system.gserviceaccount.com"
#define GW_GCHAT_LEEWAY_S 60
enum claw_rc gw_googlechat_parse(const struct gw_chan_conf *cc,
				 const char *body, size_t len,
				 json_t **env_out);
/* The JWT grant's assertion for scope at token_url (its audience),
 * signed with the service account key (JSON: client_email, private_key,
 * private_key_id): *assertion new. */
enum claw_rc gw_googlechat_assertion(const char *key_json, const char *scope,
				     const char *token_url, long long now,
				     char **assertion);

/* -------------------------------------------------------------- Feishu */
/* X-Lark-Signature: hex SHA-256 of timestamp + nonce + encrypt key +
 * body, compared in constant time. */
bool gw_feishu_verify(const char *encrypt_key, const char *ts,
		      const char *nonce, const char *sig, const char *body,
		      size_t len);
/* {"encrypt": base64} decrypted with SHA-256(encrypt_key): *plain new. */
enum claw_rc gw_feishu_decrypt(const char *encrypt_key, const char *b64,
			       char **plain, size_t *plainlen);
/* A plain (decrypted) event: *challenge_out (new) for url_verification,
 * else *env_out (NULL when nothing to answer). The verification token
 * must match (CLAW_ERR_CRYPTO otherwise). */
enum claw_rc gw_feishu_parse(const struct gw_chan_conf *cc, const char *token,
			     const char *plain, size_t len,
			     char **challenge_out, json_t **env_out);

/* -------------------------------------------------------------- Matrix */
/* The state of the /sync loop (matrix.c): cls of gw_matrix_round, freed
 * with gw_matrix_free. */
void *gw_matrix_new(void);
void gw_matrix_free(void *state);
bool gw_matrix_round(struct gw *g, void *cls, long *wait_ms);
/* One /sync response into *out (new): {"next_batch", "envelopes": [...]
 * (messages for us, in order), "invites": [room ids], "encrypted": [room
 * ids with encrypted messages], "members": {room id: joined members}}.
 * members (may be NULL): what earlier responses said, for rooms whose
 * summary this one leaves out (a room of more than two is a group). */
enum claw_rc gw_matrix_parse(const struct gw_chan_conf *cc, const char *body,
			     size_t len, const json_t *members, json_t **out);
/* The transaction id of piece part of the reply to event id. */
void gw_matrix_txn_id(const char *id, int part, char out[40]);
/* Application service mode (matrix_as.c): channels.matrix.mode is
 * "appservice" (secrets: s2 as_token, s3 hs_token). */
bool gw_matrix_appservice(const struct gw_chan_conf *cc);
/* A transaction's body ({"events": [...]}) into *out (new): {"envelopes",
 * "invites", "encrypted"} as gw_matrix_parse's; members: room id ->
 * joined members (a room missing from it is a group). */
enum claw_rc gw_matrix_as_parse(const struct gw_chan_conf *cc, const char *body,
				size_t len, const json_t *members,
				json_t **out);
/* Join invites, refuse encrypted rooms (once each, recorded in
 * notified), journal the envelopes of a parsed batch (members, may be
 * NULL, updated from it; first: only record); false when the journal
 * failed. */
bool gw_matrix_take(struct gw *g, json_t *notified, json_t *members,
		    const struct gw_conf *c, const json_t *batch, bool first);
/* GET joined_members of room: how many, or -1. */
long gw_matrix_joined(const struct gw_conf *c, const char *room);
/* A txnId we keep: 1..255 bytes, no spaces or controls. */
bool gw_matrix_txn_ok(const char *txn);

/* -------------------------------------------------------------- Signal */
/* The events stream's state (signal.c): cls of gw_signal_round (free). */
void *gw_signal_new(void);
bool gw_signal_round(struct gw *g, void *cls, long *wait_ms);
/* One "receive" event's data (the notification's params, or the whole
 * JSON-RPC notification) into an envelope (NULL: nothing to answer). */
enum claw_rc gw_signal_parse(const struct gw_chan_conf *cc, const char *data,
			     size_t len, json_t **env_out);

/* ----------------------------------------------------------------- IRC */
/* One IRC line (RFC 1459/2812 with IRCv3 message tags), parsed in place
 * into its own copy: tags (values unescaped), the prefix's nick, user and
 * host, the command and up to 15 parameters (the trailing one last). */
#define GW_IRC_LINE_MAX 8704 /* 8191 bytes of tags + 512 */
#define GW_IRC_PARAMS_MAX 15
#define GW_IRC_TAGS_MAX 32
struct gw_irc_msg {
	char buf[GW_IRC_LINE_MAX + 1];
	const char *tag_key[GW_IRC_TAGS_MAX], *tag_val[GW_IRC_TAGS_MAX];
	int ntags;
	const char *nick, *user, *host; /* NULL without a prefix */
	const char *command;
	const char *params[GW_IRC_PARAMS_MAX];
	int nparams;
};
/* A line without its CR LF: CLAW_ERR_PARSE when it is no message (empty,
 * too long, a NUL, CR or LF in it, no command). */
enum claw_rc gw_irc_parse_line(const char *line, size_t len,
			       struct gw_irc_msg *m);
const char *gw_irc_tag(const struct gw_irc_msg *m, const char *key);
/* A PRIVMSG to us (our nick me) into an envelope: a direct message, or a
 * channel message addressed to us ("me: text"; mentioned). NULL for
 * anything else (CTCP, notices, our own lines). id: the message's
 * (the msgid tag, else a fresh one). */
enum claw_rc gw_irc_privmsg_env(const struct gw_chan_conf *cc, const char *me,
				const struct gw_irc_msg *m, const char *id,
				long long now, json_t **env_out);
/* The lines "PRIVMSG target :…" carrying text, each at most max bytes
 * (without CR LF), split at UTF-8 boundaries (spaces preferred) and at
 * newlines. New array of strings. */
json_t *gw_irc_lines(const char *target, const char *text, size_t max);
/* The connection (irc.c): cls of gw_irc_round, freed with gw_irc_free. */
void *gw_irc_new(void);
void gw_irc_free(void *state);
bool gw_irc_round(struct gw *g, void *cls, long *wait_ms);
/* Config: the channel's own fields (appended to f at *n, defaults set)
 * and what is wrong with their values (NULL: nothing; static text). */
struct claw_json_field;
void gw_irc_fields(struct gw_chan_conf *cc, struct claw_json_field *f,
		   size_t *n);
const char *gw_irc_conf_why(const struct gw_chan_conf *cc);

/* --------------------------------------------------------------- Email */
enum gw_mail_verdict {
	GW_MAIL_OK,              /* *env_out is the message */
	GW_MAIL_UNAUTHENTICATED, /* no dkim=pass or spf=pass from our server */
	GW_MAIL_IGNORED,         /* ours, automatic, or no text part */
};
/* One RFC 5322 message (MIME: the first text/plain part, multipart
 * nested up to 4 deep, quoted-printable and base64 decoded, ISO-8859-1
 * converted) into an envelope when its topmost Authentication-Results of
 * cc->authserv_id shows a pass aligned with the From domain
 * (gw_email_auth_pass). fallback_id names it when
 * it has no Message-ID. CLAW_ERR_PARSE when it is no message. */
enum claw_rc gw_email_parse(const struct gw_chan_conf *cc, const char *raw,
			    size_t len, const char *fallback_id,
			    json_t **env_out, enum gw_mail_verdict *verdict);
/* Does an Authentication-Results value come from authserv_id and show
 * dkim=pass (header.d or header.i), spf=pass (smtp.mailfrom) or
 * dmarc=pass (header.from) for a domain aligned with from_domain (the
 * same, or one a subdomain of the other)? (RFC 8601; comments and
 * quoted strings skipped.) *ours (may be NULL): is it authserv_id's? */
bool gw_email_auth_pass(const char *value, const char *authserv_id,
			const char *from_domain, bool *ours);
/* The polling loop (email.c): cls of gw_email_round (free). */
void *gw_email_new(void);
bool gw_email_round(struct gw *g, void *cls, long *wait_ms);
void gw_email_fields(struct gw_chan_conf *cc, struct claw_json_field *f,
		     size_t *n);
const char *gw_email_conf_why(const struct gw_chan_conf *cc);

#endif
