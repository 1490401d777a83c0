/*
 * agent.h - the runtime's state and one turn of a conversation: chat
 * commands (/reset, /status), the prompt within the context budget
 * (compacted when the history nears it: older turns summarised by the
 * model, see docs/runtime.md), the model, and the tool loop (model tool
 * calls run as tools, results go back, up to the step limit and the
 * wall-clock budget of the turn; time a user spends answering a tool
 * server's question does not count). Every tool call passes the tenant's
 * tool policy first (policy.h): "deny" becomes a tool error, "ask" pauses
 * the turn in an approval request (approvals.h) and ends the reply with
 * what waits; rt_agent_resume goes on once it is decided.
 */
#ifndef RT_AGENT_H
#define RT_AGENT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "claw/err.h"
#include "config.h"
#include "llm.h"
#include "session.h"
#include "tools.h"
#include "usage.h"

struct rt_asks;
struct rt_approvals;

struct rt_agent {
	struct rt_config cfg;
	char *data_dir;
	char *system_prompt;       /* prompt.h: workspace or persona */
	char workspace_commit[41]; /* checked-out commit, or "" */
	char memory_dir[4096];
	struct rt_sessions *sessions;
	struct rt_tools *tools;
	struct rt_usage *usage;
	atomic_long turns, turns_failed, turns_cut, tool_calls, tool_errors;
	atomic_long llm_calls, compactions, compactions_failed;
	atomic_llong compaction_ms; /* time spent summarising */
	/* tool policy (policy.h) and approvals (approvals.h) */
	struct rt_approvals *approvals; /* or NULL: "ask" acts as "deny" */
	char *admin_token; /* the approvals API's bearer token (secret file
			      "admin_token", sodium memory), or NULL: off */
	atomic_long policy_denied, approvals_asked, approvals_approved;
	atomic_long approvals_denied, approvals_expired;
	/* server.c: questions for users, turns running on their threads */
	struct rt_asks *asks;
	pthread_mutex_t jobs_mu;
	pthread_cond_t jobs_cond;
	int jobs;
	bool stopping;     /* under jobs_mu: the sweeper ends */
	pthread_t sweeper; /* expires approvals (server.c) */
	bool sweeper_on;
};

/* The normalised message of the contract (borrowed strings). */
#define RT_MAX_TOKENS_CAP 1000000 /* the most a message's max_tokens says */

struct rt_turn_in {
	const char *id;
	const char *channel;
	const char *conversation;
	const char *sender_id;
	const char *sender_name;
	const char *text;
	const char *time;
	json_t *attachments; /* or NULL */
	json_t *history;     /* openai channel: the client's history, or NULL */
	long max_tokens;     /* openai channel: the client's cap on each
				model call's answer (0: the provider's) */
};

struct rt_turn_out {
	char *reply; /* owned */
	long input_tokens, output_tokens;
	bool truncated;    /* cut short by a limit */
	char approval[32]; /* the turn paused for this approval, or "" */
	bool question;     /* the reply asks the chat user to decide it */
};

/* What the caller of a turn offers it (every member may be NULL). */
struct rt_turn_hooks {
	rt_llm_delta_fn on_delta; /* text pieces as the model streams */
	void *cls;
	rt_tool_ask_fn ask; /* put a tool server's question to the user */
	void *ask_cls;
};

/* Run one turn; the caller holds the session (rt_session_wait). Always
 * produces a reply for the user (failures become a short explanation,
 * logged with the reason): CLAW_OK with out->reply set, or CLAW_ERR_NOMEM
 * only when even that could not be made. The caller releases out in both
 * cases. hooks may be NULL. */
enum claw_rc rt_agent_turn(struct rt_agent *a, struct rt_session *ss,
			   const struct rt_turn_in *in,
			   const struct rt_turn_hooks *hooks,
			   struct rt_turn_out *out);
void rt_turn_out_release(struct rt_turn_out *out);

/* Resume a turn that paused for an approval, once it is decided (rec: a
 * full record from rt_approvals_decide, _expire or _unfinished,
 * borrowed). The caller holds the record's conversation's session. The
 * decided call runs (approved: claimed first, so it runs at most once;
 * a result kept before a restart is used as it is) or becomes a tool
 * error for the model (denied, expired, interrupted); the turn goes on
 * and is saved, and the record ends ("done", with the reply). The reply
 * may itself be a new approval's (out->approval). Same contract as
 * rt_agent_turn otherwise. */
enum claw_rc rt_agent_resume(struct rt_agent *a, struct rt_session *ss,
			     json_t *rec, const struct rt_turn_hooks *hooks,
			     struct rt_turn_out *out);

/* Estimated tokens of a message or any JSON value (bytes / 4 + 4). */
long rt_agent_estimate(json_t *v);
/* The tail of history that fits budget tokens, starting at a user
 * message (new reference). */
json_t *rt_agent_fit(json_t *history, long budget);
/* Where compaction cuts history: the index of the first message kept,
 * the start of the newest whole turns (from a user message on) that fit
 * keep_budget tokens; 0 when there is nothing older to summarise. */
size_t rt_agent_compact_cut(json_t *history, long keep_budget);
/* The text the summarising model is given (caller frees): the earlier
 * summary (or NULL) and messages [0, n) of history, each cut at
 * per_msg bytes, the whole at most max bytes (the oldest left out with a
 * mark). */
char *rt_agent_compact_input(const char *summary, json_t *history, size_t n,
			     size_t per_msg, size_t max);

#endif
