/*
 * test_script.c - the scripted LLM's decisions: echo (of every text part),
 * tool calls only for offered tools, tool results, and the request errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "script.h"

static int decide(const char *json, struct sllm_turn *t, char *err)
{
	json_t *req = json_loads(json, 0, NULL);
	assert_non_null(req);
	int rc = sllm_decide(req, t, err, 256);
	json_decref(req);
	return rc;
}

static void test_echo(void **state)
{
	(void)state;
	struct sllm_turn t;
	char err[256];
	assert_int_equal(
		decide("{\"model\":\"m\",\"messages\":[{\"role\":\"system\","
		       "\"content\":\"be nice\"},{\"role\":\"user\","
		       "\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]}",
		       &t, err),
		0);
	assert_string_equal(t.content, "echo: hi");
	assert_null(t.tool_name);
	assert_true(t.prompt_tokens > 0);
	sllm_turn_release(&t);
}

/* Text parts are joined in order; parts without text are skipped. */
static void test_echo_parts(void **state)
{
	(void)state;
	struct sllm_turn t;
	char err[256];
	const char *req = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
			  "\"content\":["
			  "{\"type\":\"text\",\"text\":\"one "
			  "\"},{\"type\":\"image_url\"},"
			  "{\"type\":\"text\",\"text\":\"\"},"
			  "{\"type\":\"text\",\"text\":\"two\"}]}]}";
	assert_int_equal(decide(req, &t, err), 0);
	assert_string_equal(t.content, "echo: one two");
	sllm_turn_release(&t);
}

/* "show system prompt" answers with the start of the system message, cut
 * at SLLM_SYSTEM_MAX bytes on a character boundary; without a system
 * message, "system: " alone; any other text is echoed. */
static void test_show_system(void **state)
{
	(void)state;
	struct sllm_turn t;
	char err[256];
	assert_int_equal(
		decide("{\"model\":\"m\",\"messages\":[{\"role\":\"system\","
		       "\"content\":\"You are Ada.\"},{\"role\":\"user\","
		       "\"content\":\"show system prompt\"}]}",
		       &t, err),
		0);
	assert_string_equal(t.content, "system: You are Ada.");
	sllm_turn_release(&t);
	assert_int_equal(
		decide("{\"model\":\"m\",\"messages\":[{\"role\":"
		       "\"user\",\"content\":\"show system prompt\"}]}",
		       &t, err),
		0);
	assert_string_equal(t.content, "system: ");
	sllm_turn_release(&t);
	assert_int_equal(
		decide("{\"model\":\"m\",\"messages\":[{\"role\":"
		       "\"user\",\"content\":\"show system prompt!\"}]}",
		       &t, err),
		0);
	assert_string_equal(t.content, "echo: show system prompt!");
	sllm_turn_release(&t);
	/* 199 ASCII bytes then a 2-byte character: cut before it */
	char req[1024];
	snprintf(req, sizeof(req),
		 "{\"model\":\"m\",\"messages\":[{\"role\":\"system\","
		 "\"content\":\"%0199d\u00e9tail\"},{\"role\":\"user\","
		 "\"content\":\"show system prompt\"}]}",
		 0);
	assert_int_equal(decide(req, &t, err), 0);
	assert_int_equal(strlen(t.content), strlen("system: ") + 199);
	sllm_turn_release(&t);
}

static void test_tool_call_only_when_offered(void **state)
{
	(void)state;
	struct sllm_turn t;
	char err[256];
	const char *offered = "{\"model\":\"m\",\"tools\":[{\"type\":"
			      "\"function\",\"function\":"
			      "{\"name\":\"add\"}}],\"messages\":[{\"role\":"
			      "\"user\",\"content\":"
			      "\"use tool add {\\\"a\\\":1}\"}]}";
	assert_int_equal(decide(offered, &t, err), 0);
	assert_string_equal(t.tool_name, "add");
	assert_string_equal(t.tool_arguments, "{\"a\":1}");
	assert_null(t.content);
	sllm_turn_release(&t);

	const char *absent =
		"{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
		"\"content\":\"use tool add\"}]}";
	assert_int_equal(decide(absent, &t, err), 0);
	assert_string_equal(t.content, "echo: use tool add");
	sllm_turn_release(&t);
}

static void test_tool_result(void **state)
{
	(void)state;
	struct sllm_turn t;
	char err[256];
	assert_int_equal(
		decide("{\"model\":\"m\",\"messages\":[{\"role\":\"tool\","
		       "\"tool_call_id\":\"c\",\"content\":\"42\"}]}",
		       &t, err),
		0);
	assert_string_equal(t.content, "tool result: 42");
	sllm_turn_release(&t);
}

static void test_errors(void **state)
{
	(void)state;
	struct sllm_turn t;
	char err[256];
	assert_int_equal(decide("{\"messages\":[]}", &t, err), -1);
	assert_non_null(strstr(err, "model"));
	assert_int_equal(decide("{\"model\":\"m\",\"messages\":[]}", &t, err),
			 -1);
	assert_int_equal(decide("{\"model\":\"m\",\"messages\":[{}]}", &t, err),
			 -1);
	assert_non_null(strstr(err, "role"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_echo_parts),
		cmocka_unit_test(test_show_system),
		cmocka_unit_test(test_tool_call_only_when_offered),
		cmocka_unit_test(test_tool_result),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
