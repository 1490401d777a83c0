/*
 * agent.c - one turn of a conversation; see agent.h.
 *
 * A turn is a few named steps over one struct turn: turn_prepare (history,
 * system prompt, tools, the user's message, the token budget, and
 * turn_compact when the history nears the budget), then turn_loop:
 * turn_call_llm (the history that fits turn_budget_left, then the turn's
 * messages), turn_take_answer, turn_run_tools, and at a limit
 * turn_cut_off_note; then turn_save. The turn's new messages (the user's,
 * the model's, the tool results) are collected in turn.msgs and written to
 * the transcript only when the turn produced a reply from the model, so a
 * failed turn leaves the session as it was.
 *
 * Compaction. Past compact_at_percent of the budget, the older turns (all
 * but the newest whole turns that fit half that share) and the earlier
 * summary are summarised by the tenant's model (compaction_model with the
 * first provider, the fallbacks with their own), at most summary_tokens;
 * a "summary" line in the transcript replaces them (session.h) and the
 * summary goes to the system prompt, marked as such. When summarising
 * fails, a "compaction_failed" line and the log say so, and the prompt
 * leaves the older turns out with a note to the model. Whatever the
 * prompt leaves out for lack of room is always said in a note, never
 * dropped silently.
 */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "approvals.h"
#include "claw/buf.h"
#include "claw/log.h"
#include "memory.h"
#include "policy.h"

/* The summarising model's prompt starts with this (the scripted provider
 * recognises it; docs/scripted-llm.md). */
#define COMPACT_MARK "Summarise the conversation below."
#define COMPACT_PER_MSG 4000 /* bytes of one message in its input */

static const char msg_timeout[] =
	"Sorry, I ran out of time on this one. Please try again.";
static const char msg_unavailable[] =
	"Sorry, the language model is not reachable right now. Please try "
	"again in a moment.";
static const char msg_refused[] =
	"Sorry, the language model refused the request. This is a "
	"configuration problem on our side; it has been logged.";
static const char msg_bad[] =
	"Sorry, the language model sent an answer I could not read. Please "
	"try again.";
static const char msg_storage[] =
	"Sorry, I could not read or save this conversation. Please try "
	"again later.";

static long estimate_value(json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	long n = 0;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return (long)json_string_length(v);
	case JSON_OBJECT:
		json_object_foreach(v, k, x)
			n += (long)strlen(k) + 3 + estimate_value(x);
		return n;
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
			n += 1 + estimate_value(x);
		return n;
	default:
		return 4;
	}
}

long rt_agent_estimate(json_t *v)
{
	return estimate_value(v) / 4 + 4;
}

static bool is_user(json_t *m)
{
	const char *r = json_string_value(json_object_get(m, "role"));
	return r && strcmp(r, "user") == 0;
}

json_t *rt_agent_fit(json_t *history, long budget)
{
	size_t n = json_array_size(history), start = 0;
	long total = 0;
	for (size_t i = 0; i < n; i++)
		total += rt_agent_estimate(json_array_get(history, i));
	/* Drop whole turns from the front until the rest fits. */
	while (start < n &&
	       (total > budget || !is_user(json_array_get(history, start)))) {
		total -= rt_agent_estimate(json_array_get(history, start));
		start++;
		while (start < n && !is_user(json_array_get(history, start))) {
			total -= rt_agent_estimate(
				json_array_get(history, start));
			start++;
		}
	}
	json_t *out = json_array();
	for (size_t i = start; i < n; i++) {
		json_t *m = json_array_get(history, i), *c = json_object();
		static const char *const keep[] = {
			"role", "content",  "tool_calls", "tool_call_id",
			"name", "is_error", NULL};
		for (const char *const *k = keep; *k; k++) {
			json_t *v = json_object_get(m, *k);
			if (v)
				json_object_set(c, *k, v);
		}
		json_array_append_new(out, c);
	}
	return out;
}

size_t rt_agent_compact_cut(json_t *history, long keep_budget)
{
	size_t n = json_array_size(history), cut = n;
	long kept = 0;
	/* Walk back whole turns while they fit. */
	for (size_t i = n; i-- > 0;) {
		kept += rt_agent_estimate(json_array_get(history, i));
		if (kept > keep_budget)
			break;
		if (is_user(json_array_get(history, i)))
			cut = i;
	}
	/* The oldest turn kept must start at a user message. */
	while (cut < n && !is_user(json_array_get(history, cut)))
		cut++;
	return cut == n && n && kept <= keep_budget ? 0 : cut;
}

/* One message as a line of the summarising model's input (caller
 * frees). */
static char *render_msg(json_t *m, size_t per_msg)
{
	const char *role = json_string_value(json_object_get(m, "role"));
	const char *text = json_string_value(json_object_get(m, "content"));
	struct claw_buf b;
	json_t *c;
	size_t i;
	claw_buf_init(&b, 0);
	role = role ? role : "?";
	if (strcmp(role, "tool") == 0) {
		const char *name =
			json_string_value(json_object_get(m, "name"));
		claw_buf_printf(&b, "tool %s: ", name ? name : "?");
	} else {
		claw_buf_printf(&b, "%s: ", role);
	}
	text = text ? text : "";
	size_t len = strlen(text), keep = rt_utf8_cut(text, len, per_msg);
	claw_buf_append(&b, text, keep);
	if (keep < len)
		claw_buf_printf(&b, " [... %zu more bytes]", len - keep);
	json_array_foreach(json_object_get(m, "tool_calls"), i, c) {
		char *args = json_dumps(json_object_get(c, "arguments"),
					JSON_COMPACT | JSON_ENCODE_ANY);
		const char *name =
			json_string_value(json_object_get(c, "name"));
		size_t al = args ? strlen(args) : 0;
		claw_buf_printf(&b, " [calls %s %.*s%s]", name ? name : "?",
				(int)rt_utf8_cut(args ? args : "", al, 500),
				args ? args : "", al > 500 ? "..." : "");
		free(args);
	}
	claw_buf_puts(&b, "\n");
	return claw_buf_steal(&b);
}

char *rt_agent_compact_input(const char *summary, json_t *history, size_t n,
			     size_t per_msg, size_t max)
{
	struct claw_buf b;
	size_t total = 0, first = 0;
	char **lines = calloc(n + 1, sizeof(char *));
	if (!lines)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		lines[i] = render_msg(json_array_get(history, i), per_msg);
		total += lines[i] ? strlen(lines[i]) : 0;
	}
	/* The oldest lines go first when the whole is too big. */
	while (first < n && total > max) {
		total -= lines[first] ? strlen(lines[first]) : 0;
		first++;
	}
	claw_buf_init(&b, 0);
	claw_buf_puts(&b, COMPACT_MARK "\n\n");
	if (summary)
		claw_buf_printf(&b, "Summary of what came before it:\n%s\n\n",
				summary);
	claw_buf_puts(&b, "Conversation:\n");
	if (first)
		claw_buf_printf(&b,
				"[%zu earlier messages are left out here for "
				"lack of room]\n",
				first);
	for (size_t i = 0; i < n; i++) {
		if (i >= first && lines[i])
			claw_buf_puts(&b, lines[i]);
		free(lines[i]);
	}
	free(lines);
	return claw_buf_steal(&b);
}

static void account(const char *provider, long in, long out, bool ok, void *cls)
{
	struct rt_agent *a = cls;
	atomic_fetch_add(&a->llm_calls, 1);
	rt_usage_add(a->usage, provider, in, out, ok);
}

/* The per-turn part of the system prompt: who is talking, their notes. */
static char *turn_system(struct rt_agent *a, const struct rt_turn_in *in,
			 const char *sender_key)
{
	struct claw_buf b;
	claw_buf_init(&b, 0);
	claw_buf_puts(&b, a->system_prompt);
	claw_buf_printf(&b, "\n\n# This conversation\nChannel: %s. ",
			in->channel ? in->channel : "unknown");
	if (in->sender_name || in->sender_id)
		claw_buf_printf(&b, "User: %s (id %s). ",
				in->sender_name ? in->sender_name : "unnamed",
				in->sender_id ? in->sender_id : "unknown");
	if (in->time)
		claw_buf_printf(&b, "Time of the message: %s.", in->time);
	json_t *notes = rt_memory_notes(a->memory_dir, sender_key), *n;
	size_t i;
	if (json_array_size(notes))
		claw_buf_puts(&b, "\n\nNotes you saved about this user:");
	json_array_foreach(notes, i, n)
		claw_buf_printf(&b, "\n%zu. %s", i + 1, json_string_value(n));
	json_decref(notes);
	return claw_buf_steal(&b);
}

/* The string member key of o, or NULL (borrowed). */
static const char *str_at(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static char *user_content(const struct rt_turn_in *in)
{
	struct claw_buf b;
	json_t *att;
	size_t i;
	claw_buf_init(&b, 0);
	claw_buf_puts(&b, in->text ? in->text : "");
	json_array_foreach(in->attachments, i, att) {
		const char *type = str_at(att, "type"),
			   *url = str_at(att, "url");
		const char *name = str_at(att, "name");
		claw_buf_printf(&b, "\n[attachment: %s \"%s\" %s]",
				type ? type : "file", name ? name : "",
				url ? url : "");
	}
	return claw_buf_steal(&b);
}

static void reply_set(struct rt_turn_out *out, const char *text,
		      rt_llm_delta_fn on_delta, void *cls)
{
	out->reply = strdup(text);
	if (on_delta && out->reply)
		on_delta(text, strlen(text), cls);
}

/* A chat command (/reset, /status) answered without the model; false
 * when the text is not one. */
static bool command(struct rt_agent *a, struct rt_session *ss,
		    const struct rt_turn_in *in, rt_llm_delta_fn on_delta,
		    void *cls, struct rt_turn_out *out)
{
	char err[300], buf[1024];
	const char *t = in->text;
	while (*t == ' ' || *t == '\n')
		t++;
	if (strncmp(t, "/reset", 6) == 0 &&
	    (!t[6] || t[6] == ' ' || t[6] == '\n')) {
		if (rt_session_reset(ss, err, sizeof(err))) {
			log_error("session %s: %s", in->conversation, err);
			reply_set(out, msg_storage, on_delta, cls);
		} else {
			reply_set(out, "Done: this conversation starts afresh.",
				  on_delta, cls);
		}
		return true;
	}
	if (strncmp(t, "/status", 7) == 0 &&
	    (!t[7] || t[7] == ' ' || t[7] == '\n')) {
		json_t *h = rt_session_history(ss, err, sizeof(err));
		json_t *tools = rt_tools_list(a->tools);
		size_t servers, up;
		long tok = 0;
		for (size_t i = 0; i < json_array_size(h); i++)
			tok += rt_agent_estimate(json_array_get(h, i));
		rt_tools_counts(a->tools, &servers, &up);
		const struct rt_provider_cfg *p = &a->cfg.providers[0];
		snprintf(buf, sizeof(buf),
			 "Status: %zu messages in this conversation (about %ld "
			 "of %ld tokens)%s. Model: %s (%s). Tools: %zu; MCP "
			 "servers up: %zu of %zu. Workspace: %s.",
			 json_array_size(h), tok, a->cfg.limits.context_tokens,
			 h && rt_session_summary(ss)
				 ? ", after a summary of the earlier ones"
				 : "",
			 p->model, p->name, json_array_size(tools), up, servers,
			 a->workspace_commit[0] ? a->workspace_commit : "none");
		json_decref(tools);
		reply_set(out, buf, on_delta, cls);
		return true;
	}
	return false;
}

/* Streamed text of one model call; a later call's text is set apart from
 * the earlier ones by a blank line, as in the final reply. */
struct step_stream {
	rt_llm_delta_fn fn;
	void *cls;
	bool separate; /* text came before this call */
	bool started;  /* this call has sent text */
};

static void step_delta(const char *text, size_t len, void *cls)
{
	struct step_stream *s = cls;
	if (!s->started && s->separate)
		s->fn("\n\n", 2, s->cls);
	s->started = true;
	s->fn(text, len, s->cls);
}

static const char *failure_text(enum rt_llm_status st)
{
	switch (st) {
	case RT_LLM_TIMEOUT:
		return msg_timeout;
	case RT_LLM_REFUSED:
		return msg_refused;
	case RT_LLM_BAD_RESPONSE:
		return msg_bad;
	default:
		return msg_unavailable;
	}
}

/* One turn in progress: what its steps share. */
struct turn {
	struct rt_agent *a;
	struct rt_session *ss;
	const struct rt_turn_in *in;
	rt_llm_delta_fn on_delta;
	void *cls;
	struct rt_turn_out *out;
	long long deadline;   /* monotonic ms */
	char sender_key[600]; /* "channel:sender-id" */
	struct rt_tool_ctx ctx;
	json_t *history; /* borrowed: the session's or the client's */
	char *system;    /* owned: the prompt with this turn's part */
	json_t *tools;   /* owned: the tools offered */
	json_t *msgs;    /* owned: the turn's new messages, saved at the end */
	struct claw_buf said; /* everything the model said this turn */
	long base;   /* tokens for the summary, history and turn's messages */
	long budget; /* tokens for the history and the turn's messages */
	long steps;  /* model calls so far */
	size_t compact_failed; /* messages whose summary failed this turn */
	bool told_left_out;    /* the log has said what the prompt leaves */
	char parked[32];       /* the approval the turn paused for, or "" */
	bool parked_chat;      /* its chat user may decide it */
};

/* Tokens a summary takes in the system prompt. */
static long summary_cost(const char *summary)
{
	return summary ? (long)strlen(summary) / 4 + 30 : 0;
}

/* The user's message as the first of the turn's messages. */
static json_t *turn_user_message(const struct rt_turn_in *in)
{
	char *content = user_content(in);
	json_t *user = json_pack("{s:s, s:s}", "role", "user", "content",
				 content ? content : "");
	free(content);
	if (in->id)
		json_object_set_new(user, "id", json_string(in->id));
	if (in->sender_id)
		json_object_set_new(user, "sender", json_string(in->sender_id));
	if (in->time)
		json_object_set_new(user, "time", json_string(in->time));
	return user;
}

/* An ISO 8601 UTC time stamp of now. */
static void now_iso(char *out, size_t n)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The summary of messages [0, cut) of the history and the earlier
 * summary (caller frees), or NULL with why set. */
static char *turn_summarise(struct turn *t, size_t cut, char *why,
			    size_t whylen)
{
	struct rt_agent *a = t->a;
	const struct rt_limits *l = &a->cfg.limits;
	struct rt_config c = a->cfg; /* shallow: only the providers differ */
	struct rt_llm_result res;
	char *summary = NULL, system[700];
	struct rt_provider_cfg *pv = calloc(a->cfg.n_providers, sizeof(*pv));
	char *input = rt_agent_compact_input(rt_session_summary(t->ss),
					     t->history, cut, COMPACT_PER_MSG,
					     (size_t)l->context_tokens * 3);
	json_t *msgs = input
		? json_pack("[{s:s, s:s}]", "role", "user", "content", input)
		: NULL;
	memset(&res, 0, sizeof(res));
	if (!pv || !msgs) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < a->cfg.n_providers; i++) {
		pv[i] = a->cfg.providers[i];
		pv[i].max_tokens = l->summary_tokens;
	}
	if (a->cfg.compaction_model)
		pv[0].model = a->cfg.compaction_model;
	c.providers = pv;
	snprintf(system, sizeof(system),
		 "You compress the earlier part of a conversation between a "
		 "user and an assistant (with its tool calls) into a "
		 "summary, so that the assistant can go on without the "
		 "original messages. Keep what matters later: facts and "
		 "preferences the user gave, names, numbers, decisions, "
		 "promises, open questions, and what tools did and found. "
		 "Write plain prose in the conversation's language, at most "
		 "%ld words, addressing no one.",
		 l->summary_tokens * 3 / 4);
	long long deadline = rt_now_ms() + pv[0].timeout_ms;
	if (deadline > t->deadline)
		deadline = t->deadline;
	struct rt_llm_env env = {&c, account, a};
	struct rt_llm_request req = {system, msgs,     NULL, NULL,
				     NULL,   deadline, 0};
	if (rt_llm_complete(&env, &req, &res, why, whylen) != RT_LLM_OK)
		goto out;
	t->out->input_tokens += res.input_tokens;
	t->out->output_tokens += res.output_tokens;
	size_t len = strlen(res.text);
	while (len && (res.text[len - 1] == ' ' || res.text[len - 1] == '\n'))
		len--;
	if (!len) {
		snprintf(why, whylen, "the model answered with no text");
		goto out;
	}
	/* Bounded, whatever the model did with max_tokens. */
	len = rt_utf8_cut(res.text, len, (size_t)l->summary_tokens * 4);
	summary = strndup(res.text, len);
	if (!summary)
		snprintf(why, whylen, "out of memory");
out:
	rt_llm_result_release(&res);
	json_decref(msgs);
	free(input);
	free(pv);
	return summary;
}

/* Compaction (see the top) when the history and the user's message pass
 * compact_at_percent of the budget. Not for a client's own history (the
 * openai channel), which the client keeps. */
static void turn_compact(struct turn *t)
{
	struct rt_agent *a = t->a;
	const struct rt_limits *l = &a->cfg.limits;
	char why[400], err[300], when[32];
	long need = 0;
	if (t->in->history || l->compact_at_percent == 0)
		return;
	for (size_t i = 0; i < json_array_size(t->history); i++)
		need += rt_agent_estimate(json_array_get(t->history, i));
	for (size_t i = 0; i < json_array_size(t->msgs); i++)
		need += rt_agent_estimate(json_array_get(t->msgs, i));
	if (need <= t->budget * l->compact_at_percent / 100)
		return;
	size_t n = json_array_size(t->history);
	size_t cut = rt_agent_compact_cut(
		t->history, t->budget * l->compact_at_percent / 200);
	if (cut == 0)
		return; /* nothing older than the newest turn */
	long long t0 = rt_now_ms();
	char *summary = turn_summarise(t, cut, why, sizeof(why));
	long long ms = rt_now_ms() - t0;
	now_iso(when, sizeof(when));
	if (!summary) {
		atomic_fetch_add(&a->compactions_failed, 1);
		log_warn("turn %s: summarising %zu older messages failed: %s; "
			 "they are left out of the prompt with a note",
			 t->in->conversation, cut, why);
		json_t *note =
			json_pack("{s:s, s:s, s:I, s:s}", "type",
				  "compaction_failed", "reason", why,
				  "messages", (json_int_t)cut, "time", when);
		if (rt_session_note(t->ss, note, err, sizeof(err)))
			log_error("session %s: %s", t->in->conversation, err);
		json_decref(note);
		t->compact_failed = cut;
		return;
	}
	const char *model = a->cfg.compaction_model ? a->cfg.compaction_model
						    : a->cfg.providers[0].model;
	json_t *meta = json_pack("{s:I, s:s, s:s}", "covers", (json_int_t)cut,
				 "model", model, "time", when);
	if (rt_session_compact(t->ss, summary, n - cut, meta, err,
			       sizeof(err))) {
		atomic_fetch_add(&a->compactions_failed, 1);
		log_error("session %s: the summary could not be saved: %s",
			  t->in->conversation, err);
		t->compact_failed = cut;
	} else {
		atomic_fetch_add(&a->compactions, 1);
		atomic_fetch_add(&a->compaction_ms, ms);
		log_info("turn %s: %zu older messages summarised in %zu bytes "
			 "(%lld ms)",
			 t->in->conversation, cut, strlen(summary), ms);
		t->budget = t->base - summary_cost(summary);
	}
	json_decref(meta);
	free(summary);
}

/* Everything the model calls need: the history, the system prompt, the
 * tools, the user's message and the token budget. CLAW_ERR_IO when the
 * history cannot be read (the reply then says so). */
static enum claw_rc turn_prepare(struct turn *t)
{
	struct rt_agent *a = t->a;
	const struct rt_turn_in *in = t->in;
	char err[300];
	t->history = in->history ? in->history
				 : rt_session_history(t->ss, err, sizeof(err));
	if (!t->history) {
		log_error("session %s: %s", in->conversation, err);
		reply_set(t->out, msg_storage, t->on_delta, t->cls);
		atomic_fetch_add(&a->turns_failed, 1);
		return CLAW_ERR_IO;
	}
	snprintf(t->sender_key, sizeof(t->sender_key), "%s:%s",
		 in->channel ? in->channel : "",
		 in->sender_id ? in->sender_id : "");
	t->ctx.sender_key = t->sender_key;
	t->system = turn_system(a, in, t->sender_key);
	t->tools = rt_tools_list(a->tools);
	t->msgs = json_array();
	json_array_append_new(t->msgs, turn_user_message(in));
	t->base = a->cfg.limits.context_tokens -
		a->cfg.providers[0].max_tokens - (long)strlen(t->system) / 4 -
		rt_agent_estimate(t->tools);
	t->budget = t->base -
		(in->history ? 0 : summary_cost(rt_session_summary(t->ss)));
	turn_compact(t);
	return CLAW_OK;
}

/* Tokens left for the history once the turn's own messages are in. */
static long turn_budget_left(const struct turn *t)
{
	long cost = 0;
	for (size_t i = 0; i < json_array_size(t->msgs); i++)
		cost += rt_agent_estimate(json_array_get(t->msgs, i));
	return t->budget - cost;
}

/* What the model is sent: the history that fits, then the turn's
 * messages without the transcript's own fields (new reference); *system
 * (caller frees): the turn's system prompt with the summary of the
 * earlier conversation and a note on what is left out. */
static json_t *turn_prompt(struct turn *t, char **system)
{
	json_t *msgs = rt_agent_fit(t->history, turn_budget_left(t)), *m;
	const char *summary = t->in->history ? NULL : rt_session_summary(t->ss);
	size_t hidden = t->in->history ? 0 : rt_session_hidden(t->ss);
	size_t left_out =
		json_array_size(t->history) - json_array_size(msgs) + hidden;
	struct claw_buf b;
	size_t i;
	claw_buf_init(&b, 0);
	claw_buf_puts(&b, t->system);
	if (summary)
		claw_buf_printf(&b,
				"\n\n# Summary of the earlier conversation\n"
				"(Written by a model; the older messages it "
				"replaces are not shown.)\n%s",
				summary);
	if (left_out) {
		claw_buf_printf(&b,
				"\n\n(Note: %zu older messages of this "
				"conversation are left out here for lack of "
				"room%s.)",
				left_out,
				t->compact_failed ? "; summarising them failed"
						  : "");
		if (!t->told_left_out)
			log_info("turn %s: %zu older messages left out of "
				 "the prompt (with a note)",
				 t->in->conversation, left_out);
		t->told_left_out = true;
	}
	*system = claw_buf_steal(&b);
	json_array_foreach(t->msgs, i, m) {
		json_t *c = json_deep_copy(m);
		json_object_del(c, "id");
		json_object_del(c, "sender");
		json_object_del(c, "time");
		json_array_append_new(msgs, c);
	}
	return msgs;
}

/* One model call; the caller releases res in every case. */
static enum rt_llm_status turn_call_llm(struct turn *t,
					struct rt_llm_result *res)
{
	char why[400];
	struct rt_llm_env env = {&t->a->cfg, account, t->a};
	struct step_stream delta = {t->on_delta, t->cls, t->said.len > 0,
				    false};
	char *system = NULL;
	json_t *msgs = turn_prompt(t, &system);
	struct rt_llm_request req = {system ? system : t->system,
				     msgs,
				     t->tools,
				     t->on_delta ? step_delta : NULL,
				     &delta,
				     t->deadline,
				     t->in->max_tokens};
	enum rt_llm_status st =
		rt_llm_complete(&env, &req, res, why, sizeof(why));
	json_decref(msgs);
	free(system);
	t->steps++;
	if (st != RT_LLM_OK)
		log_warn("turn %s: the model failed: %s", t->in->conversation,
			 why);
	return st;
}

/* Keep the model's answer: its text in what was said, the assistant
 * message (with its tool calls) in the turn's messages, the tokens in the
 * reply's usage. True when it asks for tools. */
static bool turn_take_answer(struct turn *t, const struct rt_llm_result *res)
{
	t->out->input_tokens += res->input_tokens;
	t->out->output_tokens += res->output_tokens;
	if (res->text[0]) {
		if (t->said.len)
			claw_buf_puts(&t->said, "\n\n");
		claw_buf_puts(&t->said, res->text);
	}
	json_t *am = json_pack("{s:s, s:s}", "role", "assistant", "content",
			       res->text);
	bool more = json_array_size(res->tool_calls) > 0;
	if (more)
		json_object_set(am, "tool_calls", res->tool_calls);
	json_array_append_new(t->msgs, am);
	return more;
}

/* The turn's state in an approval record: what rt_agent_resume needs
 * to go on from call index of calls (new reference). */
static json_t *turn_state(struct turn *t, json_t *calls, size_t index)
{
	const struct rt_turn_in *in = t->in;
	json_t *st = json_pack(
		"{s:O, s:O, s:I, s:I, s:s%, s:I, s:I}", "msgs", t->msgs,
		"calls", calls, "index", (json_int_t)index, "steps",
		(json_int_t)t->steps, "said", t->said.len ? t->said.data : "",
		t->said.len, "input_tokens", (json_int_t)t->out->input_tokens,
		"output_tokens", (json_int_t)t->out->output_tokens);
	json_t *i = json_object();
	const char *const f[][2] = {
		{"id", in->id},
		{"channel", in->channel},
		{"conversation", in->conversation},
		{"sender_id", in->sender_id},
		{"sender_name", in->sender_name},
		{"text", in->text},
		{"time", in->time},
	};
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
		if (f[k][1])
			json_object_set_new(i, f[k][0], json_string(f[k][1]));
	if (in->attachments)
		json_object_set(i, "attachments", in->attachments);
	if (in->history)
		json_object_set(i, "history", in->history);
	json_object_set_new(st, "in", i);
	return st;
}

/* Pause the turn at call index of calls in a new approval request. True
 * when it is stored (t->parked set). */
static bool turn_park(struct turn *t, json_t *calls, size_t index,
		      const char *tool, const struct rt_policy_verdict *v)
{
	struct rt_agent *a = t->a;
	const struct rt_turn_in *in = t->in;
	json_t *c = json_array_get(calls, index);
	if (!a->approvals)
		return false;
	json_t *args = json_object_get(c, "arguments");
	json_t *rec = json_pack(
		"{s:s, s:s, s:O, s:I, s:b, s:s, s:s, s:s, s:s, s:o}", "tool",
		tool, "model_tool",
		json_string_value(json_object_get(c, "name")), "arguments",
		args ? args : json_null(), "rule", (json_int_t)v->rule,
		"chat_approval", v->chat_approval, "conversation",
		in->conversation, "channel", in->channel ? in->channel : "",
		"sender", in->sender_id ? in->sender_id : "", "message_id",
		in->id ? in->id : "", "turn", turn_state(t, calls, index));
	if (!rec)
		return false;
	json_object_set_new(rec, "category",
			    v->category ? json_string(v->category)
					: json_null());
	if (rt_approvals_create(a->approvals, rec, a->cfg.policy.approval_ttl_s,
				t->parked)) {
		t->parked[0] = '\0';
		return false;
	}
	t->parked_chat = v->chat_approval;
	atomic_fetch_add(&a->approvals_asked, 1);
	log_info("turn %s: the call of '%s' (category %s) waits for approval "
		 "%s",
		 in->conversation, tool, v->category ? v->category : "none",
		 t->parked);
	return true;
}

/* The text a tool call gets from the policy instead of running (caller
 * frees), or NULL when it may run; may pause the turn (t->parked). */
static char *turn_policy(struct turn *t, json_t *calls, size_t index)
{
	struct rt_agent *a = t->a;
	json_t *c = json_array_get(calls, index);
	const char *name = json_string_value(json_object_get(c, "name"));
	char tool[600], *text = NULL;
	struct rt_policy_verdict v;
	rt_policy_tool_name(name ? name : "", tool, sizeof(tool));
	rt_policy_decide(&a->cfg.policy, tool, json_object_get(c, "arguments"),
			 &v);
	if (v.action == RT_POLICY_ALLOW)
		return NULL;
	if (v.action == RT_POLICY_ASK && turn_park(t, calls, index, tool, &v))
		return NULL;
	atomic_fetch_add(&a->policy_denied, 1);
	log_info("turn %s: the call of '%s' is refused by the tool policy "
		 "(%s)",
		 t->in->conversation, tool,
		 v.action == RT_POLICY_ASK ? "an approval could not be stored"
					   : "deny");
	if (asprintf(
		    &text,
		    v.action == RT_POLICY_ASK
			    ? "Error: the operator's policy requires an "
			      "approval for '%s', and the request could not be "
			      "stored, so it did not run."
			    : "Error: the operator's policy denies the tool "
			      "'%s'; it did not run. Do not retry it; tell the "
			      "user it is not allowed.",
		    tool) < 0)
		text = NULL;
	return text ? text : strdup("Error: denied by the operator's policy.");
}

/* Append a tool result to the turn's messages. */
static void turn_tool_result(struct turn *t, json_t *c, const char *text,
			     bool is_error)
{
	if (is_error) {
		atomic_fetch_add(&t->a->tool_errors, 1);
		rt_usage_count(t->a->usage, RT_USAGE_TOOL_ERRORS, 1);
	}
	json_array_append_new(
		t->msgs,
		json_pack("{s:s, s:O, s:s, s:s, s:b}", "role", "tool",
			  "tool_call_id", json_object_get(c, "id"), "name",
			  json_string_value(json_object_get(c, "name")),
			  "content", text ? text : "Error: out of memory",
			  "is_error", is_error));
}

/* Run the model's tool calls from index from on, appending the results
 * to the turn's messages; stops early when one pauses the turn for an
 * approval (t->parked). */
static void turn_run_tools(struct turn *t, json_t *calls, size_t from)
{
	struct rt_agent *a = t->a;
	json_t *c;
	for (size_t i = from; i < json_array_size(calls); i++) {
		c = json_array_get(calls, i);
		const char *name =
			json_string_value(json_object_get(c, "name"));
		const char *bad = json_string_value(
			json_object_get(c, "arguments_error"));
		long long left = t->deadline - rt_now_ms();
		bool is_error = true;
		char *text;
		atomic_fetch_add(&a->tool_calls, 1);
		rt_usage_count(a->usage, RT_USAGE_TOOL_CALLS, 1);
		if (bad) {
			text = NULL;
			if (asprintf(&text,
				     "Error: invalid arguments for '%s': "
				     "%s. Call it again with a JSON object.",
				     name, bad) < 0)
				text = NULL;
		} else if ((text = turn_policy(t, calls, i)) != NULL) {
			/* refused by the policy */
		} else if (t->parked[0]) {
			return; /* paused for an approval */
		} else if (left <= 0) {
			text = strdup("Error: the turn's time budget ran out "
				      "before this tool could run.");
		} else {
			text = rt_tools_call(a->tools, &t->ctx, name,
					     json_object_get(c, "arguments"),
					     (long)left, &is_error);
			/* Time the user spent answering is not the turn's. */
			t->deadline += atomic_exchange(&t->ctx.asked_ms, 0);
		}
		turn_tool_result(t, c, text, is_error);
		free(text);
	}
}

/* The reply of a turn that paused for an approval: what the model said
 * so far is kept for the end; the user is told what waits. */
static void turn_park_reply(struct turn *t)
{
	struct rt_agent *a = t->a;
	char buf[900];
	json_t *view = rt_approvals_view(a->approvals, t->parked);
	const char *tool = json_string_value(json_object_get(view, "tool"));
	const char *cat = json_string_value(json_object_get(view, "category"));
	const char *exp = json_string_value(json_object_get(view, "expires"));
	snprintf(
		buf, sizeof(buf),
		"(Waiting for approval: I want to use the tool '%.200s'%s%s%s, "
		"and the operator's policy asks a person to approve it "
		"first. Request %s, open until %s.) %s",
		tool ? tool : "?", cat ? " (" : "", cat ? cat : "",
		cat ? ")" : "", t->parked, exp ? exp : "?",
		t->parked_chat
			? "Reply \"approve\" to let it run or \"deny\" to "
			  "refuse."
			: "The operator has been asked; I will go on once "
			  "they decide and tell you with my next reply.");
	json_decref(view);
	t->out->reply = strdup(buf);
	snprintf(t->out->approval, sizeof(t->out->approval), "%s", t->parked);
	t->out->question = t->parked_chat;
	if (!t->parked_chat && t->on_delta && t->out->reply)
		t->on_delta(buf, strlen(buf), t->cls);
}

/* The limit that stops the turn after this step, or NULL. */
static const char *turn_limit(const struct turn *t)
{
	if (t->steps >= t->a->cfg.limits.max_steps)
		return "step limit";
	if (rt_now_ms() >= t->deadline)
		return "time budget";
	return NULL;
}

/* The turn stops at limit: tell the user, in the reply and the stream. */
static void turn_cut_off_note(struct turn *t, const char *limit)
{
	char note[300];
	snprintf(note, sizeof(note),
		 "(I had to stop here: this request reached its %s before I "
		 "could finish. Ask me to continue if you want me to go on.)",
		 limit);
	if (t->said.len) {
		claw_buf_puts(&t->said, "\n\n");
		if (t->on_delta)
			t->on_delta("\n\n", 2, t->cls);
	}
	if (t->on_delta)
		t->on_delta(note, strlen(note), t->cls);
	claw_buf_puts(&t->said, note);
	json_array_append_new(
		t->msgs,
		json_pack("{s:s, s:s}", "role", "assistant", "content", note));
	t->out->truncated = true;
	atomic_fetch_add(&t->a->turns_cut, 1);
	log_info("turn %s cut short: %s (%ld steps)", t->in->conversation,
		 limit, t->steps);
}

/* Model calls and tool runs until the model answers without tool calls
 * or a limit cuts the turn short. On a failed call the reply already says
 * what failed and its status is returned. */
static enum rt_llm_status turn_loop(struct turn *t)
{
	for (;;) {
		struct rt_llm_result res;
		enum rt_llm_status st = turn_call_llm(t, &res);
		if (st != RT_LLM_OK) {
			rt_llm_result_release(&res);
			reply_set(t->out, failure_text(st), t->on_delta,
				  t->cls);
			atomic_fetch_add(&t->a->turns_failed, 1);
			return st;
		}
		bool more = turn_take_answer(t, &res);
		if (more)
			turn_run_tools(t, res.tool_calls, 0);
		rt_llm_result_release(&res);
		if (!more || t->parked[0])
			return RT_LLM_OK;
		const char *limit = turn_limit(t);
		if (limit) {
			turn_cut_off_note(t, limit);
			return RT_LLM_OK;
		}
	}
}

/* The reply is what the model said; the turn's messages go to the
 * transcript (a failure is logged: the user still gets the reply). */
static void turn_save(struct turn *t)
{
	char err[300];
	if (!t->said.len)
		claw_buf_puts(&t->said, "(no answer)");
	t->out->reply = claw_buf_steal(&t->said);
	if (rt_session_append(t->ss, t->msgs, err, sizeof(err))) {
		log_error("session %s: the turn could not be saved: %s",
			  t->in->conversation, err);
		atomic_fetch_add(&t->a->turns_failed, 1);
	}
}

enum claw_rc rt_agent_turn(struct rt_agent *a, struct rt_session *ss,
			   const struct rt_turn_in *in,
			   const struct rt_turn_hooks *hooks,
			   struct rt_turn_out *out)
{
	static const struct rt_turn_hooks none;
	if (!hooks)
		hooks = &none;
	rt_llm_delta_fn on_delta = hooks->on_delta;
	void *cls = hooks->cls;
	struct turn t = {
		.a = a,
		.ss = ss,
		.in = in,
		.on_delta = on_delta,
		.cls = cls,
		.out = out,
		.deadline = rt_now_ms() + a->cfg.limits.turn_timeout_ms,
	};
	t.ctx.ask = hooks->ask;
	t.ctx.ask_cls = hooks->ask_cls;
	memset(out, 0, sizeof(*out));
	atomic_fetch_add(&a->turns, 1);
	rt_usage_turn(a->usage);
	/* Delivered again while its turn waits for an approval: the same
	 * request, never a second one (nor a second run). */
	if (a->approvals && in->id &&
	    rt_approvals_for_message(a->approvals, in->conversation, in->id,
				     t.parked, &t.parked_chat)) {
		log_info("message %s waits for approval %s; same reply sent",
			 in->id, t.parked);
		turn_park_reply(&t);
		return out->reply ? CLAW_OK : CLAW_ERR_NOMEM;
	}
	if (!command(a, ss, in, on_delta, cls, out)) {
		claw_buf_init(&t.said, 0);
		if (turn_prepare(&t) == CLAW_OK && turn_loop(&t) == RT_LLM_OK) {
			if (t.parked[0])
				turn_park_reply(&t);
			else
				turn_save(&t);
		}
		claw_buf_release(&t.said);
		json_decref(t.msgs);
		json_decref(t.tools);
		free(t.system);
	}
	return out->reply ? CLAW_OK : CLAW_ERR_NOMEM;
}

void rt_turn_out_release(struct rt_turn_out *out)
{
	free(out->reply);
	out->reply = NULL;
}

/* The decided call's result for the model (caller frees) and whether it
 * is an error; runs the tool when it is approved and not run before. */
static char *resume_result(struct turn *t, json_t *rec, json_t *c,
			   bool *is_error)
{
	struct rt_agent *a = t->a;
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *state = json_string_value(json_object_get(rec, "state"));
	const char *phase = json_string_value(json_object_get(rec, "phase"));
	const char *tool = json_string_value(json_object_get(rec, "tool"));
	const char *by = json_string_value(json_object_get(rec, "decided_by"));
	char *text = NULL;
	*is_error = true;
	tool = tool ? tool : "?";
	if (phase && strcmp(phase, "ran") == 0) { /* kept before a restart */
		const char *r =
			json_string_value(json_object_get(rec, "result"));
		const char *o =
			json_string_value(json_object_get(rec, "outcome"));
		*is_error = !o || strcmp(o, "ran") != 0;
		return strdup(r ? r : "Error: the tool's result was lost.");
	}
	if (state && strcmp(state, "approved") == 0) {
		atomic_fetch_add(&a->approvals_approved, 1);
		if (!rt_approvals_claim(a->approvals, id)) {
			log_error("approval %s: the run was claimed before; it "
				  "is not run again",
				  id);
			return strdup("Error: this approved call was already "
				      "handled; it was not run again.");
		}
		log_info("approval %s: approved by %s; running '%s'", id,
			 by ? by : "?", tool);
		text = rt_tools_call(
			a->tools, &t->ctx,
			json_string_value(json_object_get(c, "name")),
			json_object_get(c, "arguments"),
			(long)(t->deadline - rt_now_ms()), is_error);
		t->deadline += atomic_exchange(&t->ctx.asked_ms, 0);
		rt_approvals_set_phase(
			a->approvals, id, "ran", *is_error ? "error" : "ran",
			text ? text : "Error: out of memory", NULL);
		return text;
	}
	if (state && strcmp(state, "denied") == 0) {
		atomic_fetch_add(&a->approvals_denied, 1);
		if (asprintf(&text,
			     "Error: a person (%s) denied this call of '%s' "
			     "under the operator's policy; it did not run. Do "
			     "not retry it unless the user asks again.",
			     by ? by : "?", tool) < 0)
			text = NULL;
	} else {
		atomic_fetch_add(&a->approvals_expired, 1);
		if (asprintf(&text,
			     "Error: the approval this call of '%s' needed "
			     "under the operator's policy expired without a "
			     "decision; it did not run.",
			     tool) < 0)
			text = NULL;
	}
	rt_approvals_set_phase(
		a->approvals, id, "ran",
		state && strcmp(state, "denied") == 0 ? "denied" : "expired",
		text ? text : "Error: not approved", NULL);
	return text;
}

enum claw_rc rt_agent_resume(struct rt_agent *a, struct rt_session *ss,
			     json_t *rec, const struct rt_turn_hooks *hooks,
			     struct rt_turn_out *out)
{
	static const struct rt_turn_hooks none;
	json_t *st = json_object_get(rec, "turn");
	json_t *ji = json_object_get(st, "in");
	const char *id = json_string_value(json_object_get(rec, "id"));
	struct rt_turn_in in = {
		str_at(ji, "id"),
		str_at(ji, "channel"),
		str_at(ji, "conversation"),
		str_at(ji, "sender_id"),
		str_at(ji, "sender_name"),
		str_at(ji, "text"),
		str_at(ji, "time"),
		json_object_get(ji, "attachments"),
		json_object_get(ji, "history"),
		(long)json_integer_value(json_object_get(ji, "max_tokens")),
	};
	json_t *calls = json_object_get(st, "calls");
	size_t index = (size_t)json_integer_value(json_object_get(st, "index"));
	char err[300];
	if (!hooks)
		hooks = &none;
	struct turn t = {
		.a = a,
		.ss = ss,
		.in = &in,
		.on_delta = hooks->on_delta,
		.cls = hooks->cls,
		.out = out,
		.deadline = rt_now_ms() + a->cfg.limits.turn_timeout_ms,
	};
	t.ctx.ask = hooks->ask;
	t.ctx.ask_cls = hooks->ask_cls;
	memset(out, 0, sizeof(*out));
	claw_buf_init(&t.said, 0);
	if (!in.conversation || !in.text || !json_is_array(calls) ||
	    index >= json_array_size(calls) ||
	    !json_is_array(json_object_get(st, "msgs"))) {
		log_error("approval %s: the paused turn cannot be read; it "
			  "ends here",
			  id ? id : "?");
		rt_approvals_set_phase(a->approvals, id, "done", "error", NULL,
				       NULL);
		reply_set(out, msg_storage, t.on_delta, t.cls);
		goto out;
	}
	t.history = in.history ? in.history
			       : rt_session_history(ss, err, sizeof(err));
	if (!t.history) {
		log_error("session %s: %s", in.conversation, err);
		reply_set(out, msg_storage, t.on_delta, t.cls);
		goto out; /* left for the next start */
	}
	/* Saved before a crash cut the end of the record short. */
	const char *prev =
		in.history || !in.id ? NULL : rt_session_find_reply(ss, in.id);
	if (prev) {
		rt_approvals_set_phase(a->approvals, id, "done", NULL, NULL,
				       prev);
		reply_set(out, prev, t.on_delta, t.cls);
		goto out;
	}
	snprintf(t.sender_key, sizeof(t.sender_key), "%s:%s",
		 in.channel ? in.channel : "",
		 in.sender_id ? in.sender_id : "");
	t.ctx.sender_key = t.sender_key;
	t.system = turn_system(a, &in, t.sender_key);
	t.tools = rt_tools_list(a->tools);
	t.msgs = json_deep_copy(json_object_get(st, "msgs"));
	t.steps = (long)json_integer_value(json_object_get(st, "steps"));
	out->input_tokens =
		(long)json_integer_value(json_object_get(st, "input_tokens"));
	out->output_tokens =
		(long)json_integer_value(json_object_get(st, "output_tokens"));
	const char *said = json_string_value(json_object_get(st, "said"));
	if (said && *said)
		claw_buf_puts(&t.said, said);
	t.base = a->cfg.limits.context_tokens - a->cfg.providers[0].max_tokens -
		(long)strlen(t.system) / 4 - rt_agent_estimate(t.tools);
	t.budget = t.base -
		(in.history ? 0 : summary_cost(rt_session_summary(ss)));
	bool is_error;
	json_t *c = json_array_get(calls, index);
	char *text = resume_result(&t, rec, c, &is_error);
	turn_tool_result(&t, c, text, is_error);
	free(text);
	turn_run_tools(&t, calls, index + 1);
	enum rt_llm_status lst = RT_LLM_OK;
	if (!t.parked[0]) {
		const char *limit = turn_limit(&t);
		if (limit)
			turn_cut_off_note(&t, limit);
		else
			lst = turn_loop(&t);
	}
	if (lst != RT_LLM_OK) {
		rt_approvals_set_phase(a->approvals, id, "done", NULL, NULL,
				       out->reply);
	} else if (t.parked[0]) {
		turn_park_reply(&t);
		rt_approvals_set_phase(a->approvals, id, "done", NULL, NULL,
				       out->reply);
	} else {
		turn_save(&t);
		rt_approvals_set_phase(a->approvals, id, "done", NULL, NULL,
				       out->reply);
	}
out:
	claw_buf_release(&t.said);
	json_decref(t.msgs);
	json_decref(t.tools);
	free(t.system);
	return out->reply ? CLAW_OK : CLAW_ERR_NOMEM;
}
