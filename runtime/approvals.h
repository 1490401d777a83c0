/*
 * approvals.h - approval requests of tool calls the policy says to "ask"
 * about (policy.h), kept in the tenant's volume so that they survive a
 * restart, and decided exactly once.
 *
 * One JSON file per request, <dir>/<id>.json (mode 0600), replaced
 * atomically (written beside, fsync'd, renamed) at every change. A record
 * holds the public part (id, tool, redacted arguments, category,
 * conversation, channel, sender, created, expires, state, decided_by,
 * decided_at, outcome, rev) and the runtime's own: the full arguments and
 * the paused turn ("turn", agent.c), never shown by the API.
 *
 * A record moves through states and phases:
 *   state  pending -> approved | denied | expired   (the decision, once)
 *   phase  waiting -> decided -> running -> ran -> done
 * rt_approvals_decide and rt_approvals_expire move a pending record to a
 * decision under the store's lock and write it before they return it, to
 * one caller only: the decision is applied exactly once. The resuming
 * turn claims the tool run (running, written before the tool runs), keeps
 * its result (ran), and ends the record (done) when the turn is saved.
 * At open, a record found "running" was cut by a crash while its tool
 * ran: it is never run again; its outcome is "interrupted" and the turn
 * is told so. rt_approvals_unfinished gives the decided records whose
 * turn did not finish, to resume after a restart.
 *
 * Thread-safe (one lock). Records are returned as deep copies the caller
 * owns. Finished records are kept RT_APPROVALS_KEEP_S (7 days) for the
 * API's "recent", then deleted at open.
 */
#ifndef RT_APPROVALS_H
#define RT_APPROVALS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "claw/err.h"

#define RT_APPROVALS_KEEP_S (7L * 86400)
#define RT_APPROVALS_MAX 10000 /* pending and recent records kept */

struct rt_approvals;

/* Open (create) dir and load its records. CLAW_OK, or CLAW_ERR_IO /
 * CLAW_ERR_NOMEM with err set. A file that cannot be read is logged and
 * left where it is. */
enum claw_rc rt_approvals_open(const char *dir, struct rt_approvals **out,
			       char *err, size_t errlen);
void rt_approvals_close(struct rt_approvals *s);

/* Store a new pending request. rec_steal holds the caller's fields
 * ("tool", "arguments", "category", "conversation", ... "turn"); the
 * store adds "id", "state", "phase", "created" and "expires" (now +
 * ttl_s). id_out gets the id ("apr_" and 24 hex digits). CLAW_OK,
 * CLAW_ERR_TOO_LARGE when RT_APPROVALS_MAX records are kept, CLAW_ERR_IO
 * when it could not be written (then nothing is kept). */
enum claw_rc rt_approvals_create(struct rt_approvals *s, json_t *rec_steal,
				 long ttl_s, char id_out[32]);

/* The public view: pending first (oldest first), then the newest decided
 * ones, at most limit in all (new reference, an array). */
json_t *rt_approvals_list(struct rt_approvals *s, size_t limit);
/* The public view of one record (new reference), or NULL. */
json_t *rt_approvals_view(struct rt_approvals *s, const char *id);

/* The audit feed (the node agent's, docs/fleet.md "Approvals in the audit log"): the
 * records whose "rev" is above after, in rev order, at most limit (new
 * reference, an array; NULL when out of memory). Each is the audit view:
 * id, rev, tool, category, channel, sender, state, decided_by and the
 * times (unix seconds) created, expires, decided_at; never the
 * arguments, the turn or the reply. A record's rev is set when it is
 * created and again when it is decided (or expires), and only then;
 * revs only grow (milliseconds of the clock at least, so they grow
 * across a restart too). *rev gets the store's newest rev, *more
 * whether records past limit are left for the next call. */
json_t *rt_approvals_changes(struct rt_approvals *s, long long after,
			     size_t limit, long long *rev, bool *more);

enum rt_decide_rc {
	RT_DECIDE_OK,
	RT_DECIDE_NOT_FOUND,
	RT_DECIDE_ALREADY, /* decided before */
	RT_DECIDE_EXPIRED, /* past its expiry, or expired */
	RT_DECIDE_IO,      /* not written: still pending */
};

/* Decide a pending request (approve or deny) by who (stored, shown).
 * On RT_DECIDE_OK, *rec (new reference, a full copy) is for the one
 * caller that resumes its turn. */
enum rt_decide_rc rt_approvals_decide(struct rt_approvals *s, const char *id,
				      bool approve, const char *by,
				      json_t **rec);

/* Expire every pending request whose expiry is at or before now (unix
 * seconds): an array of full copies of the newly expired (new reference),
 * each to be resumed by the caller. */
json_t *rt_approvals_expire(struct rt_approvals *s, long long now);

/* The decided records whose turns did not finish (for a restart): full
 * copies (new reference). */
json_t *rt_approvals_unfinished(struct rt_approvals *s);

/* Claim the tool run of an approved record (phase decided -> running,
 * written). False when it was claimed before or is not approved. */
bool rt_approvals_claim(struct rt_approvals *s, const char *id);
/* Set phase ("ran" with the tool's result text, or "done"), the
 * outcome ("ran", "error", "denied", "expired", "interrupted") and,
 * for done, the reply the turn ended with (each may be NULL). */
void rt_approvals_set_phase(struct rt_approvals *s, const char *id,
			    const char *phase, const char *outcome,
			    const char *result, const char *reply);

/* The id of the newest pending request of conversation that its chat
 * user may decide and that sender asked for (into out), or false. */
bool rt_approvals_chat_pending(struct rt_approvals *s, const char *conversation,
			       const char *sender, char out[32]);

/* The id of the unfinished request (not "done") that paused the turn of
 * message message_id in conversation (into out), and whether its chat
 * user may decide it; false when there is none. A message delivered
 * again while its turn waits gets the same request, never a second. */
bool rt_approvals_for_message(struct rt_approvals *s, const char *conversation,
			      const char *message_id, char out[32], bool *chat);

/* Records by state, for /metrics. */
void rt_approvals_counts(struct rt_approvals *s, size_t *pending,
			 size_t *total);

#endif
