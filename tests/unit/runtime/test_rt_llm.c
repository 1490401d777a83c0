/*
 * test_rt_llm.c - the provider codecs: request bodies in each wire format
 * (roles, tool calls, tool results, merged Anthropic turns), whole and
 * streamed answers assembled into one result, and bad answers refused
 * with their codes (CLAW_ERR_PARSE, CLAW_ERR_PROTO), kept by a failed
 * stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "llm.h"
#include "../testutil.h"

static json_t *history(void)
{
	return json_pack("[{s:s, s:s}, {s:s, s:s, s:[{s:s, s:s, s:{s:i}}]},"
			 " {s:s, s:s, s:s, s:s, s:b}, {s:s, s:s}]",
			 "role", "user", "content", "hi", "role", "assistant",
			 "content", "", "tool_calls", "id", "c1", "name", "t",
			 "arguments", "a", 1, "role", "tool", "tool_call_id",
			 "c1", "name", "t", "content", "result", "is_error", 1,
			 "role", "user", "content", "next");
}

static void test_requests(void **state)
{
	(void)state;
	struct rt_provider_cfg p = {.model = "m", .max_tokens = 50};
	json_t *h = history();
	struct rt_llm_request req = {
		.system = "be kind",
		.messages = h,
		.tools = json_pack("[{s:s, s:s, s:{}}]", "name", "t",
				   "description", "d", "input_schema")};
	json_t *o = rt_openai_request(&p, &req, true);
	json_t *msgs = json_object_get(o, "messages");
	assert_int_equal(json_array_size(msgs), 5);
	assert_json_str(json_array_get(msgs, 0), "role", "system");
	json_t *call = json_array_get(
		json_object_get(json_array_get(msgs, 2), "tool_calls"), 0);
	assert_json_str(json_object_get(call, "function"), "arguments",
			"{\"a\":1}");
	assert_true(json_is_null(
		json_object_get(json_array_get(msgs, 2), "content")));
	assert_true(json_is_true(json_object_get(
		json_object_get(o, "stream_options"), "include_usage")));
	json_decref(o);

	json_t *a = rt_anthropic_request(&p, &req, false);
	msgs = json_object_get(a, "messages");
	/* user, assistant(tool_use), user(tool_result + text merged) */
	assert_int_equal(json_array_size(msgs), 3);
	json_t *last = json_object_get(json_array_get(msgs, 2), "content");
	assert_int_equal(json_array_size(last), 2);
	json_t *tr = json_array_get(last, 0);
	assert_json_str(tr, "type", "tool_result");
	assert_true(json_is_true(json_object_get(tr, "is_error")));
	assert_json_str(a, "system", "be kind");
	assert_null(json_object_get(a, "stream"));
	json_decref(a);
	json_decref(req.tools);
	json_decref(h);
}

static void delta(const char *t, size_t n, void *cls)
{
	assert_int_equal(claw_buf_append(cls, t, n), CLAW_OK);
}

static void test_openai_stream(void **state)
{
	(void)state;
	static const char in[] =
		"data: "
		"{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"He\"}}]}"
		"\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":"
		"\"llo\",\"tool_calls\":[{\"index\":0,\"id\":\"x\","
		"\"function\":"
		"{\"name\":\"f\",\"arguments\":\"{\\\"q\\\"\"}}]}}]}\n\n"
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
		"[{\"index\":0,\"function\":{\"arguments\":\":2}\"}}]},"
		"\"finish_reason\":\"tool_calls\"}]}\n\n"
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,"
		"\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
	struct claw_buf shown;
	struct rt_llm_stream s;
	struct rt_llm_result r = {0};
	claw_buf_init(&shown, 64);
	rt_llm_stream_init(&s, RT_PROVIDER_OPENAI, delta, &shown);
	for (size_t i = 0; i < sizeof(in) - 1; i += 7)
		assert_int_equal(rt_llm_stream_feed(&s, in + i,
						    sizeof(in) - 1 - i < 7
							    ? sizeof(in) - 1 - i
							    : 7),
				 CLAW_OK);
	assert_int_equal(rt_llm_stream_finish(&s, &r), CLAW_OK);
	assert_string_equal(r.text, "Hello");
	assert_string_equal(shown.data, "Hello");
	assert_string_equal(r.stop, "tool_calls");
	assert_int_equal(r.input_tokens, 4);
	json_t *c = json_array_get(r.tool_calls, 0);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(c, "arguments"), "q")),
			 2);
	rt_llm_result_release(&r);
	rt_llm_stream_release(&s);
	claw_buf_release(&shown);
}

static void test_anthropic_stream_and_truncation(void **state)
{
	(void)state;
	static const char in[] =
		"event: message_start\ndata: {\"type\":\"message_start\","
		"\"message\":{\"usage\":{\"input_tokens\":9,\"output_tokens\":"
		"1}}}"
		"\n\nevent: content_block_start\ndata: {\"type\":"
		"\"content_block_start\",\"index\":0,\"content_block\":{"
		"\"type\":"
		"\"tool_use\",\"id\":\"tu\",\"name\":\"g\",\"input\":{}}}\n\n"
		"event: content_block_delta\ndata: {\"type\":"
		"\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
		"\"input_json_delta\",\"partial_json\":\"{\\\"k\\\": [1\"}}\n\n"
		"event: content_block_delta\ndata: {\"type\":"
		"\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
		"\"input_json_delta\",\"partial_json\":\"]}\"}}\n\n"
		"event: message_delta\ndata: "
		"{\"type\":\"message_delta\",\"delta\":"
		"{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":6}"
		"}\n\n";
	static const char end[] = "event: message_stop\ndata: {\"type\":"
				  "\"message_stop\"}\n\n";
	for (int complete = 0; complete < 2; complete++) {
		struct rt_llm_stream s;
		struct rt_llm_result r = {0};
		rt_llm_stream_init(&s, RT_PROVIDER_ANTHROPIC, NULL, NULL);
		assert_int_equal(rt_llm_stream_feed(&s, in, sizeof(in) - 1),
				 CLAW_OK);
		if (complete)
			assert_int_equal(
				rt_llm_stream_feed(&s, end, sizeof(end) - 1),
				CLAW_OK);
		enum claw_rc rc = rt_llm_stream_finish(&s, &r);
		if (!complete) {
			assert_int_equal(rc, CLAW_ERR_PROTO);
			assert_contains(s.why, "truncated");
		} else {
			assert_int_equal(rc, CLAW_OK);
			assert_string_equal(r.stop, "tool_calls");
			assert_int_equal(r.output_tokens, 6);
			json_t *c = json_array_get(r.tool_calls, 0);
			assert_json_str(c, "id", "tu");
			assert_int_equal(
				json_array_size(json_object_get(
					json_object_get(c, "arguments"), "k")),
				1);
		}
		rt_llm_result_release(&r);
		rt_llm_stream_release(&s);
	}
}

static void test_whole_answers(void **state)
{
	(void)state;
	struct rt_llm_result r = {0};
	char why[200];
	const char *ok = "{\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
			 "{\"type\":\"tool_use\",\"id\":\"i\",\"name\":\"n\","
			 "\"input\":{\"x\":1}}],\"stop_reason\":\"tool_use\","
			 "\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}";
	assert_int_equal(
		rt_anthropic_parse(ok, strlen(ok), &r, why, sizeof(why)),
		CLAW_OK);
	assert_string_equal(r.text, "a");
	assert_int_equal(json_array_size(r.tool_calls), 1);
	rt_llm_result_release(&r);
	const char *bad_args = "{\"choices\":[{\"message\":{\"content\":null,"
			       "\"tool_calls\":[{\"id\":\"1\",\"function\":{"
			       "\"name\":\"f\",\"arguments\":\"[\"}}]}}]}";
	assert_int_equal(rt_openai_parse(bad_args, strlen(bad_args), &r, why,
					 sizeof(why)),
			 CLAW_OK);
	assert_non_null(json_object_get(json_array_get(r.tool_calls, 0),
					"arguments_error"));
	rt_llm_result_release(&r);
	const char *err = "{\"error\":{\"message\":\"bad key\"}}";
	assert_int_equal(
		rt_openai_parse(err, strlen(err), &r, why, sizeof(why)),
		CLAW_ERR_PROTO);
	assert_contains(why, "bad key");
	rt_llm_result_release(&r);
	assert_int_equal(
		rt_openai_parse("{\"choices\":[]}", 14, &r, why, sizeof(why)),
		CLAW_ERR_PROTO);
	rt_llm_result_release(&r);
	assert_int_equal(
		rt_anthropic_parse("{\"content\":", 11, &r, why, sizeof(why)),
		CLAW_ERR_PARSE);
	rt_llm_result_release(&r);
}

/* A stream's failure keeps its code: later feeds and the finish return
 * it, and the reason stays. */
static void test_stream_failure_codes(void **state)
{
	(void)state;
	static const char not_json[] = "data: {\"choices\":\n\n";
	static const char error[] = "data: {\"type\":\"error\",\"error\":"
				    "{\"message\":\"overloaded\"}}\n\n";
	struct rt_llm_stream s;
	struct rt_llm_result r = {0};
	rt_llm_stream_init(&s, RT_PROVIDER_OPENAI, NULL, NULL);
	assert_int_equal(rt_llm_stream_feed(&s, not_json, sizeof(not_json) - 1),
			 CLAW_ERR_PARSE);
	assert_int_equal(rt_llm_stream_feed(&s, "data: [DONE]\n\n", 14),
			 CLAW_ERR_PARSE);
	assert_int_equal(rt_llm_stream_finish(&s, &r), CLAW_ERR_PARSE);
	assert_contains(s.why, "not a JSON object");
	rt_llm_result_release(&r);
	rt_llm_stream_release(&s);

	rt_llm_stream_init(&s, RT_PROVIDER_ANTHROPIC, NULL, NULL);
	assert_int_equal(rt_llm_stream_feed(&s, error, sizeof(error) - 1),
			 CLAW_ERR_PROTO);
	assert_contains(s.why, "overloaded");
	rt_llm_stream_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_openai_stream),
		cmocka_unit_test(test_anthropic_stream_and_truncation),
		cmocka_unit_test(test_whole_answers),
		cmocka_unit_test(test_stream_failure_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
