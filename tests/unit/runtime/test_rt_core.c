/*
 * test_rt_core.c - config validation and secrets, the tool allow-list,
 * the context budget, transcripts (torn lines, resets, order tickets),
 * JSON-RPC classification and the mapping of MCP tool results, the codes
 * of config, JSON-RPC and memory failures, and the system prompt: from the
 * workspace's files, from the config's inline persona (the same builder:
 * the same texts give the same prompt), the workspace winning over the
 * persona, and the persona's checks at config load.
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

/* Make each directory of the NULL-ended list under tmpdir, in order. */
static void make_dirs(const char *const *rel)
{
	char path[600];
	for (; *rel; rel++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, *rel);
		assert_int_equal(mkdir(path, 0700), 0);
	}
}

/* The prompt's files are read in order, a long one is cut, and a FIFO in
 * the workspace is skipped instead of blocking the start. */
static void test_prompt(void **state)
{
	(void)state;
	char dir[512], path[600], err[200];
	snprintf(dir, sizeof(dir), "%s/ws", tmpdir);
	make_dirs((const char *const[]){"ws", "ws/skills", "ws/skills/b",
					"ws/skills/a", NULL});
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

	char *p = rt_prompt_load(dir, NULL, err, sizeof(err));
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

	p = rt_prompt_load(NULL, NULL, err, sizeof(err));
	assert_non_null(p);
	assert_non_null(strstr(p, "helpful assistant"));
	free(p);
}

/* A config of RT_TEST_PROV and "persona": persona (consumed). */
static enum claw_rc load_persona(json_t *persona, struct rt_config *c,
				 char *err)
{
	json_t *prov = json_loads("{" RT_TEST_PROV "}", 0, NULL);
	assert_non_null(prov);
	assert_int_equal(json_object_set_new(prov, "persona", persona), 0);
	char *text = json_dumps(prov, 0);
	assert_non_null(text);
	enum claw_rc rc = load(text, c, err);
	free(text);
	json_decref(prov);
	return rc;
}

/* The prompt from the config's persona: the same builder as the files
 * (the same texts make the same prompt), and a workspace wins over it. */
static void test_prompt_persona(void **state)
{
	(void)state;
	struct rt_config c;
	char dir[512], path[600], err[300];

	assert_int_equal(
		load_persona(json_pack("{s:s, s:s, s:{s:s, s:s}}", "soul",
				       "I am Inline.", "agents", "Agent rules.",
				       "skills", "zed", "skill zed", "alpha",
				       "skill alpha"),
			     &c, err),
		CLAW_OK);
	assert_true(c.persona.set);
	assert_int_equal(c.persona.n_skills, 2);
	assert_string_equal(c.persona.skills[0].name, "alpha"); /* sorted */
	char *p = rt_prompt_load(NULL, &c.persona, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(strncmp(p, "I am Inline.", 12), 0);
	char *a = strstr(p, "# Skill: alpha"), *z = strstr(p, "# Skill: zed");
	assert_non_null(a);
	assert_true(a < z);
	assert_non_null(strstr(p, "\n\n# AGENTS.md\n\nAgent rules."));
	assert_non_null(strstr(p, "# Rules of this runtime"));

	/* the same texts as files give the very same prompt */
	snprintf(dir, sizeof(dir), "%s/same", tmpdir);
	make_dirs((const char *const[]){"same", "same/skills",
					"same/skills/zed", "same/skills/alpha",
					NULL});
	write_file("same/SOUL.md", "I am Inline.");
	write_file("same/AGENTS.md", "Agent rules.");
	write_file("same/skills/zed/SKILL.md", "skill zed");
	write_file("same/skills/alpha/SKILL.md", "skill alpha");
	char *f = rt_prompt_load(dir, NULL, err, sizeof(err));
	assert_non_null(f);
	assert_string_equal(f, p);
	free(f);
	free(p);

	/* a workspace overrides the persona, even one without SOUL.md */
	write_file("same/SOUL.md", "I am the workspace.");
	p = rt_prompt_load(dir, &c.persona, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(strncmp(p, "I am the workspace.", 19), 0);
	assert_null(strstr(p, "Inline"));
	free(p);
	snprintf(path, sizeof(path), "%s/SOUL.md", dir);
	assert_int_equal(unlink(path), 0);
	p = rt_prompt_load(dir, &c.persona, err, sizeof(err));
	assert_non_null(strstr(p, "helpful assistant"));
	assert_null(strstr(p, "Inline"));
	free(p);
	rt_config_release(&c);

	/* a text of exactly the cap is shown whole */
	char *big = malloc(RT_PERSONA_TEXT_MAX + 2);
	assert_non_null(big);
	memset(big, 'y', RT_PERSONA_TEXT_MAX + 1);
	big[RT_PERSONA_TEXT_MAX] = '\0';
	assert_int_equal(load_persona(json_pack("{s:s}", "soul", big), &c, err),
			 CLAW_OK);
	p = rt_prompt_load(NULL, &c.persona, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(strspn(p, "y"), RT_PERSONA_TEXT_MAX);
	assert_null(strstr(p, "[cut:"));
	free(p);
	rt_config_release(&c);
	/* one byte more is refused at load, naming the text */
	big[RT_PERSONA_TEXT_MAX] = 'y';
	big[RT_PERSONA_TEXT_MAX + 1] = '\0';
	assert_int_equal(load_persona(json_pack("{s:s, s:{s:s}}", "soul", "s",
						"skills", "k", big),
				      &c, err),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "persona.skills.k: is over 65536 bytes"));
	free(big);
	/* 64 skills pass, 65 do not */
	json_t *skills = json_object();
	for (int i = 0; i < RT_PERSONA_SKILLS_MAX; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%02d", i);
		json_object_set_new(skills, name, json_string("t"));
	}
	assert_int_equal(load_persona(json_pack("{s:s, s:O}", "soul", "s",
						"skills", skills),
				      &c, err),
			 CLAW_OK);
	assert_int_equal(c.persona.n_skills, RT_PERSONA_SKILLS_MAX);
	rt_config_release(&c);
	json_object_set_new(skills, "one-more", json_string("t"));
	assert_int_equal(load_persona(json_pack("{s:s, s:o}", "soul", "s",
						"skills", skills),
				      &c, err),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(err,
			       "persona.skills: must be an object of at "
			       "most 64"));
}

/* What the persona's check refuses, each naming its JSON path. */
static void test_persona_refused(void **state)
{
	(void)state;
	static const struct {
		const char *persona, *want;
		enum claw_rc rc;
	} bad[] = {
		{"{\"soul\":\"s\",\"extra\":1}", "persona: unknown key 'extra'",
		 CLAW_ERR_INVALID},
		{"{\"agents\":\"a\"}", "persona.soul: is required",
		 CLAW_ERR_INVALID},
		{"{\"soul\":7}", "persona.soul: must be a string",
		 CLAW_ERR_INVALID},
		{"{\"soul\":\"s\",\"agents\":[]}", "persona.agents: must be",
		 CLAW_ERR_INVALID},
		{"\"text\"", "persona: must be an object", CLAW_ERR_INVALID},
		{"{\"soul\":\"s\",\"skills\":[]}", "persona.skills: must be",
		 CLAW_ERR_INVALID},
		{"{\"soul\":\"s\",\"skills\":{\"-a\":\"t\"}}",
		 "skill #1: a name is", CLAW_ERR_INVALID},
		{"{\"soul\":\"s\",\"skills\":{\"a b\":\"t\"}}",
		 "skill #1: a name is", CLAW_ERR_INVALID},
		{"{\"soul\":\"s\",\"skills\":{\"\":\"t\"}}",
		 "skill #1: a name is", CLAW_ERR_INVALID},
		{"{\"soul\":\"s\",\"skills\":{\"ok\":\"t\",\"../x\":\"t\"}}",
		 "skill #2: a name is", CLAW_ERR_INVALID},
		{"{\"soul\":\"s\",\"skills\":{\"a\":null}}",
		 "persona.skills.a: must be a string", CLAW_ERR_INVALID},
		/* NUL and invalid UTF-8: the JSON parser refuses them */
		{"{\"soul\":\"a\\u0000b\"}", "line 1", CLAW_ERR_PARSE},
		{"{\"soul\":\"a\xff\"}", "line 1", CLAW_ERR_PARSE},
		{"{\"soul\":\"\\ud800\"}", "line 1", CLAW_ERR_PARSE},
	};
	struct rt_config c;
	char err[300], json[400];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json),
			 "{" RT_TEST_PROV ",\"persona\":%s}", bad[i].persona);
		assert_int_equal(load(json, &c, err), bad[i].rc);
		if (!strstr(err, bad[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
				 bad[i].want);
		assert_false(c.persona.set); /* left empty on failure */
	}
	/* a 65-byte name is one too long */
	snprintf(json, sizeof(json),
		 "{" RT_TEST_PROV ",\"persona\":{\"soul\":\"\",\"skills\":"
		 "{\"%065d\":\"t\"}}}",
		 0);
	assert_int_equal(load(json, &c, err), CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "skill #1"));
	/* 64 bytes and an empty soul pass */
	snprintf(json, sizeof(json),
		 "{" RT_TEST_PROV ",\"persona\":{\"soul\":\"\",\"skills\":"
		 "{\"%064d\":\"t\"}}}",
		 0);
	assert_int_equal(load(json, &c, err), CLAW_OK);
	rt_config_release(&c);
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
		cmocka_unit_test(test_prompt_persona),
		cmocka_unit_test(test_persona_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
