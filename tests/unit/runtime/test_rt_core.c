/*
 * test_rt_core.c - config validation and secrets, the tool allow-list,
 * the context budget, transcripts (torn lines, resets, order tickets),
 * JSON-RPC classification and the mapping of MCP tool results, the codes
 * of config, JSON-RPC and memory failures, and the system prompt's files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "claw/crypto.h"
#include "config.h"
#include "jsonrpc.h"
#include "mcp.h"
#include "memory.h"
#include "prompt.h"
#include "session.h"
#include "rt_test.h"

static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
	rt_test_write(tmpdir, name, text);
}

static enum claw_rc load(const char *json, struct rt_config *c, char *err)
{
	char path[512];
	write_file("c.json", json);
	snprintf(path, sizeof(path), "%s/c.json", tmpdir);
	return rt_config_load(path, tmpdir, c, err, 300);
}

static void test_config(void **state)
{
	(void)state;
	struct rt_config c;
	char err[300];
	write_file("key", "sk-123\n");
	assert_int_equal(
		load("{\"providers\":[{\"kind\":\"openai\",\"base_url\":"
		     "\"http://h/v1/\",\"model\":\"m\",\"api_key_secret\":"
		     "\"key\"}],\"tools\":{\"allow\":[\"fs__*\","
		     "\"memory_save\"]},\"mcp_servers\":[{\"name\":\"fs\","
		     "\"command\":[\"x\"],\"env_secrets\":{\"T\":\"key\"}}]}",
		     &c, err),
		CLAW_OK);
	assert_string_equal(c.providers[0].api_key, "sk-123");
	assert_string_equal(c.providers[0].base_url, "http://h/v1");
	assert_string_equal(c.mcp[0].env[0], "T=sk-123");
	assert_int_equal(c.limits.max_steps, 25);
	assert_true(rt_config_tool_allowed(&c, "fs__read"));
	assert_true(rt_config_tool_allowed(&c, "memory_save"));
	assert_false(rt_config_tool_allowed(&c, "memory_delete"));
	assert_false(rt_config_tool_allowed(&c, "web__get"));
	rt_config_release(&c);

	static const struct {
		const char *json, *want;
		enum claw_rc rc;
	} bad[] = {
		{"{\"providers\":[]}", "providers", CLAW_ERR_INVALID},
		{"{\"providers\":[{\"kind\":\"openai\",\"base_url\":\"ftp://"
		 "x\","
		 "\"model\":\"m\"}]}",
		 "base_url must start", CLAW_ERR_INVALID},
		{"{\"providers\":[{\"kind\":\"openai\",\"base_url\":\"http://"
		 "x\","
		 "\"model\":\"m\",\"api_key_secret\":\"../key\"}]}",
		 "not a plain file name", CLAW_ERR_INVALID},
		{"{\"providers\":[{\"kind\":\"openai\","
		 "\"base_url\":\"http://x\",\"model\":\"m\","
		 "\"api_key_secret\":\"nokey\"}]}",
		 "providers[0]", CLAW_ERR_NOT_FOUND},
		{"{\"providers\":[{\"kind\":\"openai\",\"base_url\":\"http://"
		 "x\","
		 "\"model\":\"m\"}],\"limits\":{\"max_steps\":0}}",
		 "limits.max_steps", CLAW_ERR_INVALID},
		{"{\"providers\":[{\"kind\":\"openai\",\"base_url\":\"http://"
		 "x\","
		 "\"model\":\"m\"}],\"mcp_servers\":[{\"name\":\"a__b\","
		 "\"url\":\"http://x\"}]}",
		 "mcp_servers[0]", CLAW_ERR_INVALID},
		{"{\"providers\":[{\"kind\":\"openai\",\"base_url\":\"http://"
		 "x\","
		 "\"model\":\"m\"}],\"workspace\":{\"repo\":\"/r\",\"commit\":"
		 "\"abc\"}}",
		 "40 lowercase hex", CLAW_ERR_INVALID},
		{"{\"providers\": [", "line 1", CLAW_ERR_PARSE},
		{"{\"tenant\":\"a\",\"tenant\":\"b\"}", "duplicate",
		 CLAW_ERR_PARSE},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load(bad[i].json, &c, err), bad[i].rc);
		if (!strstr(err, bad[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
				 bad[i].want);
		assert_null(strstr(err, "sk-123"));
		assert_null(c.providers); /* left empty on failure */
	}
	assert_int_equal(rt_config_load("/nonexistent/c.json", tmpdir, &c, err,
					sizeof(err)),
			 CLAW_ERR_IO);
	assert_non_null(strstr(err, "/nonexistent/c.json"));
}

static json_t *msg(const char *role, const char *text)
{
	return json_pack("{s:s, s:s}", "role", role, "content", text);
}

static void test_fit_drops_whole_turns(void **state)
{
	(void)state;
	char big[400];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	json_t *h = json_array();
	json_array_append_new(h, msg("user", big));
	json_array_append_new(h, msg("assistant", big));
	json_array_append_new(h, msg("tool", "t"));
	json_array_append_new(h, msg("user", "recent"));
	json_array_append_new(h, msg("assistant", "answer"));
	json_t *all = rt_agent_fit(h, 100000);
	assert_int_equal(json_array_size(all), 5);
	json_decref(all);
	json_t *some = rt_agent_fit(h, 50);
	assert_int_equal(json_array_size(some), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(some, 0), "content")),
			    "recent");
	json_decref(some);
	json_t *none = rt_agent_fit(h, 1);
	assert_int_equal(json_array_size(none), 0);
	json_decref(none);
	json_decref(h);
}

static void test_transcript(void **state)
{
	(void)state;
	char err[300], dir[512];
	struct rt_sessions *s;
	snprintf(dir, sizeof(dir), "%s/sessions", tmpdir);
	assert_int_equal(rt_sessions_open(dir, 1, 0, &s, err, sizeof(err)),
			 CLAW_OK);
	struct rt_session *a = rt_session_queue(s, "conv");
	struct rt_session *b = rt_session_queue(s, "conv");
	rt_session_wait(a);
	json_t *turn = json_array();
	json_t *u = msg("user", "q1");
	json_object_set_new(u, "id", json_string("m1"));
	json_array_append_new(turn, u);
	json_array_append_new(turn, msg("assistant", "a1"));
	assert_int_equal(rt_session_append(a, turn, err, sizeof(err)), CLAW_OK);
	assert_string_equal(rt_session_find_reply(a, "m1"), "a1");
	assert_null(rt_session_find_reply(a, "m2"));
	rt_session_leave(a);
	rt_session_wait(b); /* served after a */
	assert_int_equal(rt_session_reset(b, err, sizeof(err)), CLAW_OK);
	assert_int_equal(rt_session_append(b, turn, err, sizeof(err)), CLAW_OK);
	rt_session_leave(b);
	json_decref(turn);
	rt_sessions_close(s);

	/* a torn last line is skipped; the reset hides what was before */
	char hex[65], path[700];
	claw_blake2b_hex("conv", 4, hex);
	snprintf(path, sizeof(path), "%s/%s.jsonl", dir, hex);
	FILE *f = fopen(path, "a");
	fputs("{\"role\":\"user\",\"cont", f);
	fclose(f);
	json_t *h = rt_transcript_read(path, NULL, err, sizeof(err));
	assert_non_null(h);
	assert_int_equal(json_array_size(h), 2);
	json_decref(h);

	/* a bounded session keeps only the recent whole turns in memory */
	assert_int_equal(rt_sessions_open(dir, 4, 120, &s, err, sizeof(err)),
			 CLAW_OK);
	struct rt_session *c = rt_session_queue(s, "bounded");
	rt_session_wait(c);
	for (int i = 0; i < 5; i++) {
		json_t *t = json_array();
		json_array_append_new(t, msg("user", "question"));
		json_array_append_new(t, msg("assistant", "answer"));
		assert_int_equal(rt_session_append(c, t, err, sizeof(err)),
				 CLAW_OK);
		json_decref(t);
	}
	json_t *kept = rt_session_history(c, err, sizeof(err));
	assert_true(json_array_size(kept) < 10);
	assert_int_equal(json_array_size(kept) % 2, 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(kept, 0), "role")),
			    "user");
	rt_session_leave(c);
	rt_sessions_close(s);
}

static void test_jsonrpc_and_results(void **state)
{
	(void)state;
	struct rt_jsonrpc_msg m;
	char why[200];
	const char *req =
		"{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\"}";
	assert_int_equal(
		rt_jsonrpc_parse(req, strlen(req), &m, why, sizeof(why)),
		CLAW_OK);
	assert_int_equal(m.kind, RT_JSONRPC_REQUEST);
	rt_jsonrpc_release(&m);
	const char *note = "{\"jsonrpc\":\"2.0\",\"method\":\"n\"}";
	assert_int_equal(
		rt_jsonrpc_parse(note, strlen(note), &m, why, sizeof(why)),
		CLAW_OK);
	assert_int_equal(m.kind, RT_JSONRPC_NOTIFICATION);
	rt_jsonrpc_release(&m);
	const char *err = "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":"
			  "-32602,\"message\":\"bad\"}}";
	assert_int_equal(
		rt_jsonrpc_parse(err, strlen(err), &m, why, sizeof(why)),
		CLAW_OK);
	assert_int_equal(m.error_code, -32602);
	rt_jsonrpc_release(&m);
	const char *bad = "{\"jsonrpc\":\"2.0\",\"id\":1}";
	assert_int_equal(
		rt_jsonrpc_parse(bad, strlen(bad), &m, why, sizeof(why)),
		CLAW_ERR_PROTO);
	assert_int_equal(
		rt_jsonrpc_parse("{\"jsonrpc\"", 10, &m, why, sizeof(why)),
		CLAW_ERR_PARSE);
	assert_non_null(strstr(why, "not JSON"));

	bool is_error;
	json_t *r = json_pack("{s:[{s:s, s:s}, {s:s, s:s, s:s}], s:b}",
			      "content", "type", "text", "text",
			      "h\xc3\xa9llo world", "type", "image", "data",
			      "AAAA", "mimeType", "image/png", "isError", 1);
	char *t = rt_mcp_result_text(r, 1000, &is_error);
	assert_true(is_error);
	assert_string_equal(t,
			    "h\xc3\xa9llo world\n[image: image/png, 4 bytes "
			    "base64]");
	free(t);
	t = rt_mcp_result_text(r, 2, &is_error); /* cut inside the é */
	assert_int_equal(strncmp(t, "h\n[cut:", 7), 0);
	free(t);
	json_decref(r);
}

static void test_memory_codes(void **state)
{
	(void)state;
	char dir[512], err[200];
	snprintf(dir, sizeof(dir), "%s/memory", tmpdir);
	assert_int_equal(rt_memory_save(dir, "web:1", "", err, sizeof(err)),
			 CLAW_ERR_INVALID);
	assert_int_equal(
		rt_memory_save(dir, "web:1", "likes tea", err, sizeof(err)),
		CLAW_OK);
	json_t *notes = rt_memory_notes(dir, "web:1");
	assert_int_equal(json_array_size(notes), 1);
	json_decref(notes);
	assert_int_equal(rt_memory_delete(dir, "web:1", 2, err, sizeof(err)),
			 CLAW_ERR_NOT_FOUND);
	assert_non_null(strstr(err, "no note number 2"));
	assert_int_equal(rt_memory_delete(dir, "web:1", 1, err, sizeof(err)),
			 CLAW_OK);
	notes = rt_memory_notes(dir, "web:1");
	assert_int_equal(json_array_size(notes), 0);
	json_decref(notes);
}

/* The prompt's files are read in order, a long one is cut, and a FIFO in
 * the workspace is skipped instead of blocking the start. */
static void test_prompt(void **state)
{
	(void)state;
	char dir[512], path[600], err[200];
	snprintf(dir, sizeof(dir), "%s/ws", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/skills", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/skills/b", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/skills/a", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	write_file("ws/SOUL.md", "I am Soul.");
	write_file("ws/skills/b/SKILL.md", "skill bee");
	char *big = malloc((70u << 10) + 1);
	assert_non_null(big);
	memset(big, 'x', 70u << 10);
	big[70u << 10] = '\0';
	write_file("ws/skills/a/SKILL.md", big);
	free(big);
	snprintf(path, sizeof(path), "%s/AGENTS.md", dir);
	assert_int_equal(mkfifo(path, 0600), 0);

	char *p = rt_prompt_load(dir, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(strncmp(p, "I am Soul.", 10), 0);
	assert_null(strstr(p, "# AGENTS.md"));
	char *a = strstr(p, "# Skill: a"), *b = strstr(p, "# Skill: b");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_non_null(strstr(p, "[cut: the file is longer than 64 KiB]"));
	assert_non_null(strstr(p, "# Rules of this runtime"));
	free(p);

	p = rt_prompt_load(NULL, err, sizeof(err));
	assert_non_null(p);
	assert_non_null(strstr(p, "helpful assistant"));
	free(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rt-unit-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return claw_crypto_init() ? -1 : 0;
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_fit_drops_whole_turns),
		cmocka_unit_test(test_transcript),
		cmocka_unit_test(test_jsonrpc_and_results),
		cmocka_unit_test(test_memory_codes),
		cmocka_unit_test(test_prompt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
