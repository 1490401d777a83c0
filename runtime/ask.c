/*
 * ask.c - questions for chat users; see ask.h.
 *
 * One lock and one condition for the registry: few questions wait at any
 * time (one per conversation at most), so two short lists do: waiting
 * questions and notes for conversations' next replies. Notes are bounded
 * (NOTE_MAX bytes per conversation, NOTES_MAX conversations; the oldest
 * go first, logged).
 */
#include "ask.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claw/buf.h"
#include "claw/log.h"
#include "elicit.h"
#include "llm.h"

#define TRIES_MAX 3
#define NOTE_MAX (16u << 10)
#define NOTES_MAX 1000

enum q_state {
	Q_WAITING,
	Q_DONE
};

struct question {
	char *conversation;
	json_t *schema;
	char *text; /* as shown */
	void *owner;
	enum q_state state;
	enum rt_elicit_action action;
	json_t *content;
	int tries;
	struct question *next;
};

struct note {
	char *conversation;
	struct claw_buf text;
	struct note *next;
};

struct rt_asks {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool closed;
	struct question *waiting;
	struct note *notes; /* newest first */
	size_t n_notes;
};

struct rt_asks *rt_asks_new(void)
{
	struct rt_asks *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	return q;
}

static void note_free(struct note *n)
{
	claw_buf_release(&n->text);
	free(n->conversation);
	free(n);
}

void rt_asks_free(struct rt_asks *q)
{
	if (!q)
		return;
	while (q->notes) {
		struct note *n = q->notes;
		q->notes = n->next;
		note_free(n);
	}
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	free(q);
}

void rt_asks_cancel_all(struct rt_asks *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	for (struct question *w = q->waiting; w; w = w->next)
		if (w->state == Q_WAITING) {
			w->state = Q_DONE;
			w->action = RT_ELICIT_CANCEL;
		}
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

static struct question *find(struct rt_asks *q, const char *conversation)
{
	for (struct question *w = q->waiting; w; w = w->next)
		if (w->state == Q_WAITING &&
		    strcmp(w->conversation, conversation) == 0)
			return w;
	return NULL;
}

/* Add text to the conversation's notes (q->mu held). */
static void note_add_locked(struct rt_asks *q, const char *conversation,
			    const char *text)
{
	struct note *n = q->notes, **pp;
	while (n && strcmp(n->conversation, conversation) != 0)
		n = n->next;
	if (!n) {
		if (q->notes && q->n_notes >= NOTES_MAX) { /* the oldest go */
			for (pp = &q->notes; (*pp)->next; pp = &(*pp)->next)
				;
			log_warn("ask: too many conversations with notes; "
				 "the oldest ('%s') is dropped",
				 (*pp)->conversation);
			note_free(*pp);
			*pp = NULL;
			q->n_notes--;
		}
		n = calloc(1, sizeof(*n));
		if (!n || !(n->conversation = strdup(conversation))) {
			free(n);
			log_error("ask: out of memory; a note for '%s' is lost",
				  conversation);
			return;
		}
		claw_buf_init(&n->text, NOTE_MAX);
		n->next = q->notes;
		q->notes = n;
		q->n_notes++;
	}
	if ((n->text.len && claw_buf_puts(&n->text, "\n\n")) ||
	    claw_buf_puts(&n->text, text))
		log_warn("ask: the notes for '%s' are full; one is cut",
			 conversation);
}

void rt_asks_add_note(struct rt_asks *q, const char *conversation,
		      const char *text)
{
	pthread_mutex_lock(&q->mu);
	note_add_locked(q, conversation, text);
	pthread_mutex_unlock(&q->mu);
}

char *rt_asks_take_note(struct rt_asks *q, const char *conversation)
{
	char *s = NULL;
	pthread_mutex_lock(&q->mu);
	for (struct note **pp = &q->notes; *pp; pp = &(*pp)->next) {
		struct note *n = *pp;
		if (strcmp(n->conversation, conversation) != 0)
			continue;
		*pp = n->next;
		q->n_notes--;
		s = claw_buf_steal(&n->text);
		note_free(n);
		break;
	}
	pthread_mutex_unlock(&q->mu);
	return s;
}

static void unlink_question(struct rt_asks *q, struct question *w)
{
	for (struct question **pp = &q->waiting; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			return;
		}
}

/* Wait on q->cond until w is done or until the deadline (q->mu held);
 * false when the deadline passed. */
static bool wait_done(struct rt_asks *q, struct question *w, long long deadline)
{
	while (w->state == Q_WAITING) {
		long long left = deadline - rt_now_ms();
		if (left <= 0)
			return false;
		rt_cond_wait_ms(&q->cond, &q->mu, left);
	}
	return true;
}

enum rt_elicit_action rt_ask_wait(struct rt_asks *q, const char *conversation,
				  const char *server, const char *message,
				  json_t *schema, long timeout_ms,
				  rt_ask_show_fn show, void *owner,
				  json_t **content)
{
	struct question w = {.schema = schema, .owner = owner};
	enum rt_elicit_action act = RT_ELICIT_CANCEL;
	*content = NULL;
	w.conversation = strdup(conversation);
	w.text = rt_elicit_question(server, message, schema);
	if (!w.conversation || !w.text) {
		log_error("ask: out of memory; the question of '%s' is "
			  "cancelled",
			  server);
		goto out;
	}
	pthread_mutex_lock(&q->mu);
	if (q->closed || find(q, conversation)) {
		pthread_mutex_unlock(&q->mu);
		log_info("ask %s: %s; the question of '%s' is declined",
			 conversation,
			 q->closed ? "shutting down" : "another question waits",
			 server);
		act = RT_ELICIT_DECLINE;
		goto out;
	}
	if (!show(owner, w.text)) {
		pthread_mutex_unlock(&q->mu);
		log_info("ask %s: no reply open to ask in; the question of "
			 "'%s' is cancelled",
			 conversation, server);
		goto out;
	}
	w.next = q->waiting;
	q->waiting = &w;
	log_info("ask %s: asking the user for '%s'", conversation, server);
	if (!wait_done(q, &w, rt_now_ms() + timeout_ms)) {
		char note[300];
		bool mins = timeout_ms >= 120000;
		w.state = Q_DONE;
		w.action = RT_ELICIT_CANCEL;
		snprintf(note, sizeof(note),
			 "(No answer came within %ld %s to the question of "
			 "the tool server '%.64s', so it was cancelled.)",
			 mins ? (timeout_ms + 59999) / 60000
			      : (timeout_ms + 999) / 1000,
			 mins ? "minutes" : "seconds", server);
		note_add_locked(q, conversation, note);
		log_info("ask %s: no answer in time; cancelled", conversation);
	}
	unlink_question(q, &w);
	act = w.action;
	*content = w.content;
	w.content = NULL;
	pthread_mutex_unlock(&q->mu);
out:
	json_decref(w.content);
	free(w.conversation);
	free(w.text);
	return act;
}

static char *refusal(const char *why, const char *question)
{
	struct claw_buf b;
	claw_buf_init(&b, 0);
	claw_buf_printf(&b, "That answer does not fit: %s.\n\n%s", why,
			question);
	return claw_buf_steal(&b);
}

bool rt_ask_answer(struct rt_asks *q, const char *conversation,
		   const char *text, char **reply_now,
		   void (*attach)(void *owner, void *cls), void *cls)
{
	char why[300];
	json_t *content = NULL;
	*reply_now = NULL;
	pthread_mutex_lock(&q->mu);
	struct question *w = find(q, conversation);
	if (!w) {
		pthread_mutex_unlock(&q->mu);
		return false;
	}
	const char *t = text;
	while (*t == ' ' || *t == '\n' || *t == '\t')
		t++;
	enum rt_elicit_action act = RT_ELICIT_ACCEPT;
	if (strncmp(t, "/decline", 8) == 0)
		act = RT_ELICIT_DECLINE;
	else if (*t == '/')
		act = RT_ELICIT_CANCEL;
	else if (rt_elicit_parse_answer(w->schema, t, &content, why,
					sizeof(why)) ||
		 rt_elicit_content_check(w->schema, content, why,
					 sizeof(why))) {
		json_decref(content);
		content = NULL;
		if (++w->tries < TRIES_MAX) {
			*reply_now = refusal(why, w->text);
			log_info("ask %s: an answer that does not fit (%s)",
				 conversation, why);
			pthread_mutex_unlock(&q->mu);
			if (!*reply_now)
				*reply_now = strdup("Sorry, out of memory.");
			return true;
		}
		log_info("ask %s: %d answers that do not fit; cancelled",
			 conversation, TRIES_MAX);
		act = RT_ELICIT_CANCEL;
	}
	attach(w->owner, cls);
	w->content = content;
	w->action = act;
	w->state = Q_DONE;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
	log_info("ask %s: answered (%s)", conversation,
		 act == RT_ELICIT_ACCEPT            ? "accept"
			 : act == RT_ELICIT_DECLINE ? "decline"
						    : "cancel");
	return true;
}
