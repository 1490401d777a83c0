/*
 * ask.h - questions for chat users (the tenant setting "elicitation":
 * "ask"): while a turn's tool call waits, the MCP server's elicitation is
 * put to the conversation's user, and the user's next message in that
 * conversation is its answer.
 *
 * The turn's side (rt_ask_wait, on the thread that answers the server)
 * registers the question for the conversation, shows it through the
 * turn's show callback (the server ends the pending HTTP reply with it),
 * and waits. The message side (rt_ask_answer, on an HTTP thread) reads a
 * message of that conversation as the answer: "/decline" declines, any
 * other "/command" cancels, anything else is read against the requested
 * schema (elicit.h); an answer that does not fit is refused with why and
 * the question again (three times, then the question is cancelled). A
 * question nobody answers within its time is cancelled; a note says so
 * with the conversation's next reply (rt_asks_take_note), as does the
 * reply of a turn that finished with no one waiting for it. Nothing is
 * ever left waiting silently.
 *
 * Lock order: the registry's lock, then the caller's (show and attach
 * run under the registry's lock and must not call back into it).
 */
#ifndef RT_ASK_H
#define RT_ASK_H

#include <jansson.h>
#include <stdbool.h>

#include "mcp.h"

struct rt_asks;

/* NULL when out of memory. */
struct rt_asks *rt_asks_new(void);
/* Every question still waiting must be over (rt_asks_cancel_all, then
 * the turns finished). */
void rt_asks_free(struct rt_asks *q);
/* Cancel every waiting question (shutdown); no new one is asked. */
void rt_asks_cancel_all(struct rt_asks *q);

/* Shows the question text to the turn's user; false when the turn has
 * no reply open to show it in (then the question is cancelled). */
typedef bool (*rt_ask_show_fn)(void *owner, const char *text);

/* Ask the conversation's user (the schema already checked) and wait up
 * to timeout_ms. owner identifies the turn (given back to rt_ask_answer's
 * attach). Returns the action; for accept, *content (new reference) is
 * the answer, completed with defaults and checked. A second question
 * while one waits in the conversation is declined. */
enum rt_elicit_action rt_ask_wait(struct rt_asks *q, const char *conversation,
				  const char *server, const char *message,
				  json_t *schema, long timeout_ms,
				  rt_ask_show_fn show, void *owner,
				  json_t **content);

/* A message for conversation: when a question waits there, take text as
 * its answer and return true. Then either *reply_now is set (caller
 * frees: the answer did not fit, or a note; reply it at once), or the
 * question is answered and attach(owner, cls) was called, before the
 * turn goes on, so that the caller's reply follows the turn from here.
 * False when no question waits (a message like any other). */
bool rt_ask_answer(struct rt_asks *q, const char *conversation,
		   const char *text, char **reply_now,
		   void (*attach)(void *owner, void *cls), void *cls);

/* Add a note for the conversation's next reply (a turn's reply that no
 * one waited for, a question that timed out). */
void rt_asks_add_note(struct rt_asks *q, const char *conversation,
		      const char *text);
/* The notes waiting for the conversation (caller frees), or NULL. */
char *rt_asks_take_note(struct rt_asks *q, const char *conversation);

#endif
