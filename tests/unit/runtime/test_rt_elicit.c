/*
 * test_rt_elicit.c - elicitation (the restricted schema, answers checked
 * and completed with defaults, the question as text, chat answers read
 * back), the question registry of "ask" mode (answers that do not fit,
 * decline, cancel, time-out notes, shutdown), compaction's pure parts
 * (where the history is cut, what the summariser is given), transcripts
 * with summary and note lines, and the config keys of both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "ask.h"
#include "config.h"
#include "elicit.h"
#include "session.h"
#include "rt_test.h"
#include "../testutil.h"

static json_t *parse(const char *s)
{
	json_t *v = json_loads(s, 0, NULL);
	assert_non_null(v);
	return v;
}

/* The form of the conformance suite's SEP-1034 scenario, plus bounds. */
static const char form[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"name\":{\"type\":\"string\",\"default\":\"John Doe\","
	"\"minLength\":2,\"maxLength\":10},"
	"\"age\":{\"type\":\"integer\",\"default\":30,\"minimum\":0,"
	"\"maximum\":150},"
	"\"score\":{\"type\":\"number\",\"default\":95.5},"
	"\"status\":{\"type\":\"string\",\"enum\":[\"active\",\"inactive\"],"
	"\"default\":\"active\"},"
	"\"verified\":{\"type\":\"boolean\",\"default\":true},"
	"\"mail\":{\"type\":\"string\",\"format\":\"email\"},"
	"\"day\":{\"type\":\"string\",\"format\":\"date\"},"
	"\"size\":{\"type\":\"string\",\"oneOf\":[{\"const\":\"s\","
	"\"title\":\"Small\"},{\"const\":\"l\",\"title\":\"Large\"}]},"
	"\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
	"\"enum\":[\"a\",\"b\",\"c\"]},\"maxItems\":2}},"
	"\"required\":[\"mail\"]}";

static void test_schema_check(void **state)
{
	(void)state;
	char err[300];
	json_t *ok = parse(form);
	assert_int_equal(rt_elicit_schema_check(ok, err, sizeof(err)), CLAW_OK);
	json_decref(ok);
	static const char *const bad[] = {
		"[]",
		"{\"type\":\"array\",\"properties\":{}}",
		"{\"type\":\"object\"}",
		"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
		"\"object\"}}}",
		"{\"type\":\"object\",\"properties\":{\"x\":{}}}",
		"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
		"\"string\",\"enum\":[\"a\"],\"default\":\"b\"}}}",
		"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
		"\"string\",\"format\":\"phone\"}}}",
		"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
		"\"string\",\"enum\":[]}}}",
		"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
		"\"integer\",\"minimum\":\"1\"}}}",
		"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
		"\"boolean\"}},\"required\":[\"y\"]}",
		"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
		"\"array\",\"items\":{\"type\":\"string\"}}}}",
		"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
		"\"string\",\"minLength\":-1}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *v = parse(bad[i]);
		err[0] = '\0';
		assert_int_equal(rt_elicit_schema_check(v, err, sizeof(err)),
				 CLAW_ERR_INVALID);
		assert_true(err[0] != '\0');
		json_decref(v);
	}
	/* at most RT_ELICIT_MAX_FIELDS fields */
	json_t *many = parse("{\"type\":\"object\",\"properties\":{}}");
	for (int i = 0; i <= RT_ELICIT_MAX_FIELDS; i++) {
		char k[16];
		snprintf(k, sizeof(k), "f%d", i);
		json_object_set_new(json_object_get(many, "properties"), k,
				    json_pack("{s:s}", "type", "boolean"));
	}
	assert_int_equal(rt_elicit_schema_check(many, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	json_decref(many);
}

/* Check content text against the form; the code, err and content. */
static enum claw_rc check(const char *content_text, json_t **content, char *err)
{
	json_t *schema = parse(form);
	*content = parse(content_text);
	enum claw_rc rc = rt_elicit_content_check(schema, *content, err, 300);
	json_decref(schema);
	return rc;
}

static void test_content_defaults_and_rules(void **state)
{
	(void)state;
	char err[300];
	json_t *c;
	assert_int_equal(check("{\"mail\":\"a@b.org\"}", &c, err), CLAW_OK);
	assert_json_str(c, "name", "John Doe");
	assert_int_equal(json_integer_value(json_object_get(c, "age")), 30);
	assert_true(json_real_value(json_object_get(c, "score")) == 95.5);
	assert_json_str(c, "status", "active");
	assert_true(json_is_true(json_object_get(c, "verified")));
	assert_null(json_object_get(c, "tags")); /* no default: absent */
	json_decref(c);
	/* an integral number for an integer becomes one */
	assert_int_equal(check("{\"mail\":\"a@b.org\",\"age\":41.0}", &c, err),
			 CLAW_OK);
	assert_true(json_is_integer(json_object_get(c, "age")));
	json_decref(c);
	static const struct {
		const char *content, *why;
	} bad[] = {
		{"{}", "'mail' is required"},
		{"{\"mail\":\"nope\"}", "'mail' must be a valid email"},
		{"{\"mail\":\"a@b.org\",\"x\":1}", "'x' is not a field"},
		{"{\"mail\":\"a@b.org\",\"name\":\"J\"}", "at least 2"},
		{"{\"mail\":\"a@b.org\",\"name\":\"Jonathan Doe\"}",
		 "at most 10"},
		{"{\"mail\":\"a@b.org\",\"age\":-1}", "at least 0"},
		{"{\"mail\":\"a@b.org\",\"age\":1.5}", "whole number"},
		{"{\"mail\":\"a@b.org\",\"score\":\"9\"}", "must be a number"},
		{"{\"mail\":\"a@b.org\",\"status\":\"gone\"}", "choices"},
		{"{\"mail\":\"a@b.org\",\"verified\":1}", "true or false"},
		{"{\"mail\":\"a@b.org\",\"day\":\"2026-13-01\"}", "valid date"},
		{"{\"mail\":\"a@b.org\",\"size\":\"m\"}", "choices"},
		{"{\"mail\":\"a@b.org\",\"tags\":[\"a\",\"a\"]}", "twice"},
		{"{\"mail\":\"a@b.org\",\"tags\":[\"a\",\"b\",\"c\"]}",
		 "at most 2"},
		{"{\"mail\":\"a@b.org\",\"tags\":[\"d\"]}", "listed choices"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(check(bad[i].content, &c, err),
				 CLAW_ERR_INVALID);
		assert_contains(err, bad[i].why);
		json_decref(c);
	}
}

static void test_question_and_chat_answers(void **state)
{
	(void)state;
	char err[300];
	json_t *schema = parse(form), *c = NULL;
	char *q = rt_elicit_question("shop", "Your details?", schema);
	assert_contains(q,
			"The tool server 'shop' asks: Your "
			"details?");
	assert_contains(q, "- age: a whole number; default 30");
	assert_contains(q, "- size: one of s (Small), l (Large)");
	assert_contains(q, "- mail: text; required");
	assert_contains(q, "\"/decline\" to refuse");
	free(q);

	assert_int_equal(
		rt_elicit_parse_answer(schema,
				       "Mail: a@b.org\nage: 7\nverified: no\n"
				       "size: large\ntags: A, c\n",
				       &c, err, sizeof(err)),
		CLAW_OK);
	assert_int_equal(rt_elicit_content_check(schema, c, err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(json_integer_value(json_object_get(c, "age")), 7);
	assert_true(json_is_false(json_object_get(c, "verified")));
	assert_json_str(c, "size", "l");
	assert_int_equal(json_array_size(json_object_get(c, "tags")), 2);
	json_decref(c);
	/* JSON as is */
	assert_int_equal(rt_elicit_parse_answer(schema,
						" {\"mail\":\"x@y.z\"} ", &c,
						err, sizeof(err)),
			 CLAW_OK);
	json_decref(c);
	static const char *const bad[] = {
		"no colon here", "colour: red", "age: seven", "verified: maybe",
		"size: medium",  "tags: a, z",  "{not json",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = NULL;
		assert_int_equal(rt_elicit_parse_answer(schema, bad[i], &c, err,
							sizeof(err)),
				 CLAW_ERR_INVALID);
		assert_null(c);
	}
	json_decref(schema);

	/* one field: the whole text is its value */
	schema = parse("{\"type\":\"object\",\"properties\":{\"n\":{"
		       "\"type\":\"number\"}}}");
	assert_int_equal(
		rt_elicit_parse_answer(schema, " 2.5\n", &c, err, sizeof(err)),
		CLAW_OK);
	assert_true(json_real_value(json_object_get(c, "n")) == 2.5);
	json_decref(c);
	json_decref(schema);
	/* no field: a confirmation */
	schema = parse("{\"type\":\"object\",\"properties\":{}}");
	assert_int_equal(
		rt_elicit_parse_answer(schema, "yes", &c, err, sizeof(err)),
		CLAW_OK);
	assert_int_equal(json_object_size(c), 0);
	json_decref(c);
	assert_int_equal(rt_elicit_parse_answer(schema, "whatever", &c, err,
						sizeof(err)),
			 CLAW_ERR_INVALID);
	json_decref(schema);
}

/* ---- the question registry */

struct asker {
	struct rt_asks *q;
	json_t *schema;
	long timeout_ms;
	bool can_show;
	int shown;
	enum rt_elicit_action act;
	json_t *content;
	pthread_mutex_t mu;
};

static bool show(void *owner, const char *text)
{
	struct asker *a = owner;
	assert_contains(text, "asks: Which?");
	pthread_mutex_lock(&a->mu);
	a->shown++;
	pthread_mutex_unlock(&a->mu);
	return a->can_show;
}

static void *ask_main(void *arg)
{
	struct asker *a = arg;
	a->act = rt_ask_wait(a->q, "conv", "srv", "Which?", a->schema,
			     a->timeout_ms, show, a, &a->content);
	return NULL;
}

static int attached;
static void attach(void *owner, void *cls)
{
	(void)owner;
	(void)cls;
	attached++;
}

static void wait_shown(struct asker *a)
{
	for (;;) {
		pthread_mutex_lock(&a->mu);
		int n = a->shown;
		pthread_mutex_unlock(&a->mu);
		if (n)
			break;
		usleep(1000);
	}
	usleep(5000); /* the question is registered under the same lock */
}

/* Start a's question in *th and wait until it is shown. */
static void ask_start(struct asker *a, pthread_t *th)
{
	a->shown = 0;
	pthread_create(th, NULL, ask_main, a);
	wait_shown(a);
}

static void test_asks(void **state)
{
	(void)state;
	struct rt_asks *q = rt_asks_new();
	json_t *schema = parse("{\"type\":\"object\",\"properties\":{"
			       "\"n\":{\"type\":\"integer\",\"minimum\":1}},"
			       "\"required\":[\"n\"]}");
	struct asker a = {q, schema, 60000, true,
			  0, 0,      NULL,  PTHREAD_MUTEX_INITIALIZER};
	char *now = NULL;
	pthread_t th;
	/* no question: a message like any other */
	assert_false(rt_ask_answer(q, "conv", "5", &now, attach, NULL));

	/* answers that do not fit, then a good one */
	ask_start(&a, &th);
	assert_true(rt_ask_answer(q, "conv", "zero", &now, attach, NULL));
	assert_contains(now, "does not fit: 'n' is not a whole");
	assert_contains(now, "asks: Which?");
	free(now);
	assert_true(rt_ask_answer(q, "conv", "0", &now, attach, NULL));
	assert_contains(now, "'n' must be at least 1");
	free(now);
	assert_false(rt_ask_answer(q, "other", "3", &now, attach, NULL));
	assert_true(rt_ask_answer(q, "conv", "3", &now, attach, NULL));
	assert_null(now);
	pthread_join(th, NULL);
	assert_int_equal(attached, 1);
	assert_int_equal(a.act, RT_ELICIT_ACCEPT);
	assert_int_equal(json_integer_value(json_object_get(a.content, "n")),
			 3);
	json_decref(a.content);

	/* /decline, then any other command cancels */
	ask_start(&a, &th);
	assert_true(rt_ask_answer(q, "conv", "/decline", &now, attach, NULL));
	pthread_join(th, NULL);
	assert_int_equal(a.act, RT_ELICIT_DECLINE);
	assert_null(a.content);
	ask_start(&a, &th);
	assert_true(rt_ask_answer(q, "conv", " /reset", &now, attach, NULL));
	pthread_join(th, NULL);
	assert_int_equal(a.act, RT_ELICIT_CANCEL);

	/* three answers that do not fit cancel the question */
	ask_start(&a, &th);
	for (int i = 0; i < 2; i++) {
		assert_true(rt_ask_answer(q, "conv", "x", &now, attach, NULL));
		assert_non_null(now);
		free(now);
	}
	assert_true(rt_ask_answer(q, "conv", "x", &now, attach, NULL));
	assert_null(now);
	pthread_join(th, NULL);
	assert_int_equal(a.act, RT_ELICIT_CANCEL);

	/* nowhere to show it: cancelled, and no question waits */
	a.can_show = false;
	ask_main(&a);
	assert_int_equal(a.act, RT_ELICIT_CANCEL);
	assert_false(rt_ask_answer(q, "conv", "3", &now, attach, NULL));

	/* unanswered in time: cancelled, with a note for the next reply */
	a.can_show = true;
	a.timeout_ms = 30;
	ask_main(&a);
	assert_int_equal(a.act, RT_ELICIT_CANCEL);
	rt_asks_add_note(q, "conv", "second");
	char *note = rt_asks_take_note(q, "conv");
	assert_contains(note,
			"No answer came within 1 seconds to "
			"the question of the tool server 'srv'");
	assert_contains(note, ".)\n\nsecond");
	free(note);
	assert_null(rt_asks_take_note(q, "conv"));

	/* shutdown: waiting questions are cancelled, new ones declined */
	a.timeout_ms = 60000;
	ask_start(&a, &th);
	rt_asks_cancel_all(q);
	pthread_join(th, NULL);
	assert_int_equal(a.act, RT_ELICIT_CANCEL);
	ask_main(&a);
	assert_int_equal(a.act, RT_ELICIT_DECLINE);

	json_decref(schema);
	rt_asks_free(q);
}

/* ---- compaction */

static json_t *msg(const char *role, const char *text)
{
	return json_pack("{s:s, s:s}", "role", role, "content", text);
}

static void test_compact_cut_and_input(void **state)
{
	(void)state;
	char big[401];
	memset(big, 'x', 400);
	big[400] = '\0';
	json_t *h = json_array();
	for (int i = 0; i < 4; i++) {
		json_array_append_new(h, msg("user", big));
		json_t *a = msg("assistant", "calling");
		json_object_set_new(a, "tool_calls",
				    json_pack("[{s:s, s:s, s:{s:i}}]", "id",
					      "c1", "name", "web__get",
					      "arguments", "n", i));
		json_array_append_new(h, a);
		json_t *t = msg("tool", "result");
		json_object_set_new(t, "name", json_string("web__get"));
		json_array_append_new(h, t);
	}
	long two = 0; /* what the last two turns cost */
	for (size_t i = 6; i < 12; i++)
		two += rt_agent_estimate(json_array_get(h, i));
	assert_int_equal(rt_agent_compact_cut(h, two), 6);
	assert_int_equal(rt_agent_compact_cut(h, two - 1), 9);
	assert_int_equal(rt_agent_compact_cut(h, 100000), 0); /* all fit */
	assert_int_equal(rt_agent_compact_cut(h, 10), 12);    /* none fits */

	char *in = rt_agent_compact_input("before", h, 6, 100, 100000);
	assert_true(strncmp(in, "Summarise the conversation below.\n\n", 35) ==
		    0);
	assert_contains(in, "Summary of what came before it:\nbefore");
	assert_contains(in, "[... 300 more bytes]");
	assert_contains(in,
			"assistant: calling [calls web__get "
			"{\"n\":1}]");
	assert_contains(in, "tool web__get: result");
	assert_lacks(in, "left out");
	free(in);
	in = rt_agent_compact_input(NULL, h, 6, 100, 200);
	assert_contains(in,
			"[3 earlier messages are left out here "
			"for lack of room]");
	assert_lacks(in, "Summary of what");
	free(in);
	json_decref(h);
}

static void test_transcript_summary_lines(void **state)
{
	(void)state;
	char dir[] = "/tmp/rt-elicit-XXXXXX", err[300], path[600];
	char *summary = NULL;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.jsonl", dir);
	FILE *f = fopen(path, "w");
	fputs("{\"role\":\"user\",\"content\":\"u1\"}\n"
	      "{\"role\":\"assistant\",\"content\":\"a1\"}\n"
	      "{\"role\":\"user\",\"content\":\"u2\"}\n"
	      "{\"role\":\"assistant\",\"content\":\"a2\"}\n"
	      "{\"type\":\"compaction_failed\",\"reason\":\"down\"}\n"
	      "{\"type\":\"summary\",\"content\":\"S1\",\"kept\":2}\n"
	      "{\"role\":\"user\",\"content\":\"u3\"}\n",
	      f);
	fclose(f);
	json_t *h = rt_transcript_read(path, &summary, err, sizeof(err));
	assert_int_equal(json_array_size(h), 3); /* u2 a2 u3 */
	assert_json_str(json_array_get(h, 0), "content", "u2");
	assert_string_equal(summary, "S1");
	free(summary);
	json_decref(h);
	f = fopen(path, "a");
	fputs("{\"type\":\"reset\"}\n", f);
	fclose(f);
	h = rt_transcript_read(path, &summary, err, sizeof(err));
	assert_int_equal(json_array_size(h), 0);
	assert_null(summary);
	json_decref(h);

	/* rt_session_compact writes the line and changes the history */
	struct rt_sessions *s;
	assert_int_equal(rt_sessions_open(dir, 4, 0, &s, err, sizeof(err)),
			 CLAW_OK);
	struct rt_session *ss = rt_session_queue(s, "c");
	rt_session_wait(ss);
	json_t *turn = json_array();
	for (int i = 0; i < 3; i++) {
		json_array_append_new(turn, msg("user", "q"));
		json_array_append_new(turn, msg("assistant", "a"));
	}
	assert_int_equal(rt_session_append(ss, turn, err, sizeof(err)),
			 CLAW_OK);
	assert_null(rt_session_summary(ss));
	assert_int_equal(rt_session_compact(ss, "S", 7, NULL, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	json_t *meta = json_pack("{s:s}", "model", "m");
	assert_int_equal(rt_session_compact(ss, "S", 2, meta, err, sizeof(err)),
			 CLAW_OK);
	json_decref(meta);
	assert_string_equal(rt_session_summary(ss), "S");
	assert_int_equal(
		json_array_size(rt_session_history(ss, err, sizeof(err))), 2);
	json_t *bad = json_pack("{s:s}", "type", "summary");
	assert_int_equal(rt_session_note(ss, bad, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	json_decref(bad);
	json_t *note = json_pack("{s:s}", "type", "compaction_failed");
	assert_int_equal(rt_session_note(ss, note, err, sizeof(err)), CLAW_OK);
	json_decref(note);
	rt_session_leave(ss);
	rt_sessions_close(s);
	json_decref(turn);
	/* read back from the file: the same */
	assert_int_equal(rt_sessions_open(dir, 4, 0, &s, err, sizeof(err)),
			 CLAW_OK);
	ss = rt_session_queue(s, "c");
	rt_session_wait(ss);
	assert_int_equal(
		json_array_size(rt_session_history(ss, err, sizeof(err))), 2);
	assert_string_equal(rt_session_summary(ss), "S");
	rt_session_leave(ss);
	rt_sessions_close(s);
	assert_int_equal(nftw(dir, test_rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

#define PROV RT_TEST_PROV
#define load_cfg(json, c, err) rt_test_load_cfg((json), NULL, (c), (err))

static void test_config_keys(void **state)
{
	(void)state;
	struct rt_config c;
	char err[400];
	assert_int_equal(load_cfg("{" PROV "}", &c, err), CLAW_OK);
	assert_int_equal(c.elicitation, RT_ELICIT_MODE_DECLINE);
	assert_int_equal(c.elicitation_timeout_ms, 600000);
	assert_null(c.compaction_model);
	assert_int_equal(c.limits.compact_at_percent, 80);
	assert_int_equal(c.limits.summary_tokens, 1024);
	rt_config_release(&c);
	assert_int_equal(
		load_cfg("{" PROV ",\"elicitation\":\"ask\","
			 "\"elicitation_timeout_ms\":5000,"
			 "\"compaction_model\":\"small\",\"limits\":{"
			 "\"compact_at_percent\":0,\"summary_tokens\":200}}",
			 &c, err),
		CLAW_OK);
	assert_int_equal(c.elicitation, RT_ELICIT_MODE_ASK);
	assert_int_equal(c.elicitation_timeout_ms, 5000);
	assert_string_equal(c.compaction_model, "small");
	assert_int_equal(c.limits.compact_at_percent, 0);
	assert_int_equal(c.limits.summary_tokens, 200);
	rt_config_release(&c);
	static const struct {
		const char *json, *why;
	} bad[] = {
		{"{" PROV ",\"elicitation\":\"accept\"}",
		 "config.elicitation: must be 'decline' or 'ask'"},
		{"{" PROV ",\"elicitation_timeout_ms\":10}",
		 "elicitation_timeout_ms"},
		{"{" PROV ",\"compaction_model\":\"\"}", "compaction_model"},
		{"{" PROV ",\"limits\":{\"compact_at_percent\":101}}",
		 "compact_at_percent"},
		{"{" PROV ",\"limits\":{\"summary_tokens\":1}}",
		 "summary_tokens"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load_cfg(bad[i].json, &c, err),
				 CLAW_ERR_INVALID);
		assert_contains(err, bad[i].why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_check),
		cmocka_unit_test(test_content_defaults_and_rules),
		cmocka_unit_test(test_question_and_chat_answers),
		cmocka_unit_test(test_asks),
		cmocka_unit_test(test_compact_cut_and_input),
		cmocka_unit_test(test_transcript_summary_lines),
		cmocka_unit_test(test_config_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
