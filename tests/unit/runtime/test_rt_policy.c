/*
 * test_rt_policy.c - the tool policy (policy.h: globs, JSON pointers,
 * argument conditions, categories, rule order, the default, the config's
 * refusals, redaction) and the approval store (approvals.h: persisted,
 * found again after a restart, decided exactly once even by racing
 * threads, expiry, the tool run claimed once, a run cut by a crash never
 * repeated, chat decisions only by the asking sender).
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
#include <time.h>
#include <unistd.h>

#include "approvals.h"
#include "policy.h"
#include "config.h"
#include "rt_test.h"
#include "../testutil.h"

static json_t *parse(const char *s)
{
	json_t *v = json_loads(s, 0, NULL);
	assert_non_null(v);
	return v;
}

static void test_globs(void **state)
{
	(void)state;
	assert_true(rt_glob_match("*", "web/fetch"));
	assert_true(rt_glob_match("web/*", "web/fetch"));
	assert_false(rt_glob_match("web/*", "webx/fetch"));
	assert_true(rt_glob_match("*/delete_*", "db/delete_row"));
	assert_false(rt_glob_match("*/delete_*", "db/undelete"));
	assert_true(rt_glob_match("pay?", "pays"));
	assert_false(rt_glob_match("pay?", "pay"));
	assert_true(rt_glob_match("[a-c]x", "bx"));
	assert_false(rt_glob_match("[!a-c]x", "bx"));
	assert_true(rt_glob_match("[]]", "]"));
	assert_true(rt_glob_match("a\\*b", "a*b"));
	assert_false(rt_glob_match("a\\*b", "axb"));
	assert_true(rt_glob_match("*a*b*c*", "xxaxxbxxcxx"));
	assert_false(rt_glob_match("*a*b*c*", "xxaxxcxxbxx"));
	assert_true(rt_glob_match("**", ""));
	assert_false(rt_glob_match("a", ""));
	/* exact: the whole name */
	assert_false(rt_glob_match("web/fetch", "web/fetch2"));

	assert_true(rt_glob_valid("web/*"));
	assert_true(rt_glob_valid("[]]"));
	assert_false(rt_glob_valid(""));
	assert_false(rt_glob_valid("web/[abc"));
	assert_false(rt_glob_valid("web\\"));
	assert_false(rt_glob_valid("a\tb"));
	char big[RT_GLOB_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(rt_glob_valid(big));
}

static void test_pointers(void **state)
{
	(void)state;
	json_t *d = parse("{\"a\": {\"b/c\": [1, {\"~k\": \"v\"}]}, \"\": 5}");
	assert_true(rt_json_pointer_get(d, "") == d);
	assert_int_equal(
		json_integer_value(rt_json_pointer_get(d, "/a/b~1c/0")), 1);
	assert_string_equal(
		json_string_value(rt_json_pointer_get(d, "/a/b~1c/1/~0k")),
		"v");
	assert_int_equal(json_integer_value(rt_json_pointer_get(d, "/")), 5);
	assert_null(rt_json_pointer_get(d, "/a/b~1c/01"));
	assert_null(rt_json_pointer_get(d, "/a/b~1c/9"));
	assert_null(rt_json_pointer_get(d, "/a/x"));
	assert_false(rt_json_pointer_valid("a"));
	assert_false(rt_json_pointer_valid("/a~2"));
	assert_false(rt_json_pointer_valid("/a~"));
	json_decref(d);
}

static struct rt_policy load(const char *pol, const char *cats)
{
	struct rt_policy p;
	char err[300];
	json_t *jp = pol ? parse(pol) : NULL, *jc = cats ? parse(cats) : NULL;
	enum claw_rc rc = rt_policy_parse(jp, jc, &p, err, sizeof(err));
	if (rc)
		fail_msg("refused: %s", err);
	json_decref(jp);
	json_decref(jc);
	return p;
}

static void refused(const char *pol, const char *cats, const char *says)
{
	struct rt_policy p;
	char err[300] = "";
	json_t *jp = pol ? parse(pol) : NULL, *jc = cats ? parse(cats) : NULL;
	assert_int_equal(rt_policy_parse(jp, jc, &p, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	if (!strstr(err, says))
		fail_msg("'%s' does not say '%s'", err, says);
	assert_null(p.rules);
	json_decref(jp);
	json_decref(jc);
}

static enum rt_policy_action act(const struct rt_policy *p, const char *tool,
				 const char *args, long *rule)
{
	struct rt_policy_verdict v;
	json_t *a = args ? parse(args) : NULL;
	rt_policy_decide(p, tool, a, &v);
	json_decref(a);
	if (rule)
		*rule = v.rule;
	return v.action;
}

static void test_decide(void **state)
{
	(void)state;
	long rule;
	struct rt_policy p = load(
		"{\"default\": \"deny\", \"approval_ttl_s\": 60, \"rules\": ["
		"{\"tool\": \"mail/send\", \"args\": [{\"pointer\": \"/to\", "
		"\"glob\": \"*@example.com\"}], \"action\": \"allow\"},"
		"{\"category\": \"outbound_message\", \"action\": \"ask\", "
		"\"chat_approval\": true},"
		"{\"tool\": \"shop/*\", \"args\": [{\"pointer\": \"/amount\", "
		"\"glob\": \"[0-9]\"}], \"action\": \"allow\"},"
		"{\"category\": \"payment\", \"action\": \"ask\"},"
		"{\"tool\": \"web/*\", \"action\": \"allow\"},"
		"{\"tool\": \"web/*\", \"action\": \"deny\"}]}",
		"{\"mail/*\": \"outbound_message\", \"shop/pay\": \"payment\", "
		"\"shop/*\": \"read_only\", \"*\": \"network_fetch\"}");
	assert_int_equal(p.approval_ttl_s, 60);
	/* argument match, then the category rule */
	assert_int_equal(
		act(&p, "mail/send", "{\"to\": \"a@example.com\"}", &rule),
		RT_POLICY_ALLOW);
	assert_int_equal(rule, 0);
	assert_int_equal(
		act(&p, "mail/send", "{\"to\": \"a@evil.com\"}", &rule),
		RT_POLICY_ASK);
	assert_int_equal(rule, 1);
	assert_int_equal(act(&p, "mail/send", NULL, &rule), RT_POLICY_ASK);
	/* numbers match as their JSON text */
	assert_int_equal(act(&p, "shop/pay", "{\"amount\": 7}", &rule),
			 RT_POLICY_ALLOW);
	assert_int_equal(act(&p, "shop/pay", "{\"amount\": 70}", &rule),
			 RT_POLICY_ASK);
	assert_int_equal(rule, 3);
	assert_int_equal(act(&p, "shop/pay", "{\"amount\": \"7\"}", &rule),
			 RT_POLICY_ALLOW);
	assert_int_equal(act(&p, "shop/pay", "{\"amount\": [7]}", &rule),
			 RT_POLICY_ASK);
	/* first matching category glob: shop/list is read_only */
	assert_string_equal(rt_policy_category(&p, "shop/list"), "read_only");
	assert_string_equal(rt_policy_category(&p, "shop/pay"), "payment");
	/* order: the first of two web rules */
	assert_int_equal(act(&p, "web/fetch", "{}", &rule), RT_POLICY_ALLOW);
	assert_int_equal(rule, 4);
	/* default */
	assert_int_equal(act(&p, "memory_save", "{}", &rule), RT_POLICY_DENY);
	assert_int_equal(rule, -1);
	struct rt_policy_verdict v;
	rt_policy_decide(&p, "mail/send", NULL, &v);
	assert_true(v.chat_approval);
	assert_string_equal(v.category, "outbound_message");
	rt_policy_release(&p);

	/* no policy: everything allowed, 24 h */
	p = load(NULL, NULL);
	assert_int_equal(act(&p, "x/y", NULL, &rule), RT_POLICY_ALLOW);
	assert_int_equal(p.approval_ttl_s, 24 * 3600);
	rt_policy_release(&p);

	char name[64];
	rt_policy_tool_name("web__fetch__x", name, sizeof(name));
	assert_string_equal(name, "web/fetch__x");
	rt_policy_tool_name("memory_save", name, sizeof(name));
	assert_string_equal(name, "memory_save");
}

static void test_refusals(void **state)
{
	(void)state;
	refused("{\"rules\": [{\"tool\": \"a[\", \"action\": \"ask\"}]}", NULL,
		"tool_policy.rules[0].tool");
	refused("{\"rules\": [{\"category\": \"payments\", \"action\": "
		"\"ask\"}]}",
		NULL, "unknown category 'payments'");
	refused(NULL, "{\"a/*\": \"nope\"}", "tool_categories.a/*");
	refused(NULL, "{\"a/[\": \"payment\"}", "not a valid glob");
	refused("{\"rules\": [{\"action\": \"ask\"}]}", NULL,
		"needs 'tool' or 'category'");
	refused("{\"rules\": [{\"tool\": \"a\", \"action\": \"maybe\"}]}", NULL,
		"rules[0].action");
	refused("{\"rules\": [{\"tool\": \"a\", \"action\": \"allow\", "
		"\"chat_approval\": true}]}",
		NULL, "only for the action 'ask'");
	refused("{\"rules\": [{\"tool\": \"a\", \"action\": \"ask\", "
		"\"args\": [{\"pointer\": \"x\", \"glob\": \"*\"}]}]}",
		NULL, "args[0].pointer");
	refused("{\"rules\": [{\"tool\": \"a\", \"action\": \"ask\", "
		"\"args\": [{\"pointer\": \"/x\", \"glob\": \"\"}]}]}",
		NULL, "args[0].glob");
	refused("{\"rules\": [], \"what\": 1}", NULL, "unknown key 'what'");
	refused("{\"approval_ttl_s\": 0}", NULL, "approval_ttl_s");
	refused("{\"default\": \"maybe\"}", NULL, "tool_policy.default");
	refused("[]", NULL, "must be an object");
}

static void test_redact(void **state)
{
	(void)state;
	json_t *a = parse("{\"to\": \"x\", \"Password\": \"p\", \"auth\": "
			  "{\"api_key\": \"k\", \"pin\": 1, \"spin\": 2}, "
			  "\"list\": [{\"access_token\": \"t\"}]}");
	json_t *r = rt_policy_redact(a);
	char *s = json_dumps(r, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(
		s,
		"{\"Password\":\"[redacted]\",\"auth\":{\"api_key\":"
		"\"[redacted]\",\"pin\":\"[redacted]\",\"spin\":2},\"list\":"
		"[{\"access_token\":\"[redacted]\"}],\"to\":\"x\"}");
	free(s);
	json_decref(r);
	json_decref(a);
}

/* ---- the approval store */

static char dir[256];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_rt_policy.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	nftw(dir, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct rt_approvals *open_store(void)
{
	struct rt_approvals *s;
	char err[300], sub[300];
	snprintf(sub, sizeof(sub), "%s/approvals", dir);
	assert_int_equal(rt_approvals_open(sub, &s, err, sizeof(err)), CLAW_OK);
	return s;
}

static void create(struct rt_approvals *s, const char *conv, bool chat,
		   long ttl, char id[32])
{
	json_t *rec = json_pack(
		"{s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:b, s:{}, s:s}", "tool",
		"shop/pay", "arguments", "amount", "5", "password", "hunter2",
		"category", "payment", "conversation", conv, "sender", "u1",
		"chat_approval", chat, "turn", "message_id", conv);
	assert_int_equal(rt_approvals_create(s, rec, ttl, id), CLAW_OK);
	assert_int_equal(strlen(id), 28);
}

/* The audit feed (rt_approvals_changes): each record once at its
 * creation and once at its decision, in rev order, past a restart, with
 * no arguments; paged by limit. */
static void test_store_audit_feed(void **state)
{
	(void)state;
	char id[32], id2[32];
	long long rev = 0, cur;
	bool more = true;
	json_t *rec = NULL, *ch;
	struct rt_approvals *s = open_store();
	create(s, "c1", false, 3600, id);
	create(s, "c2", true, 3600, id2);
	ch = rt_approvals_changes(s, 0, 1, &rev, &more);
	assert_int_equal(json_array_size(ch), 1);
	assert_true(more);
	assert_json_str(json_array_get(ch, 0), "id", id);
	json_decref(ch);
	ch = rt_approvals_changes(s, 0, 10, &rev, &more);
	assert_int_equal(json_array_size(ch), 2);
	assert_false(more);
	json_t *v = json_array_get(ch, 1);
	assert_json_str(v, "id", id2);
	assert_json_str(v, "state", "pending");
	assert_json_str(v, "tool", "shop/pay");
	assert_json_str(v, "category", "payment");
	assert_json_str(v, "sender", "u1");
	assert_null(json_object_get(v, "arguments"));
	assert_null(json_object_get(v, "turn"));
	assert_int_equal(json_integer_value(json_object_get(v, "rev")), rev);
	assert_true(json_integer_value(json_object_get(json_array_get(ch, 0),
						       "rev")) < rev);
	json_decref(ch);
	cur = rev;
	ch = rt_approvals_changes(s, cur, 10, &rev, &more);
	assert_int_equal(json_array_size(ch), 0);
	json_decref(ch);
	/* a decision moves the record past the cursor, once */
	assert_int_equal(rt_approvals_decide(s, id, false, "chat:web:u1", &rec),
			 RT_DECIDE_OK);
	json_decref(rec);
	rt_approvals_set_phase(s, id, "done", "denied", NULL, "no");
	ch = rt_approvals_changes(s, cur, 10, &rev, &more);
	assert_int_equal(json_array_size(ch), 1);
	assert_json_str(json_array_get(ch, 0), "state", "denied");
	assert_json_str(json_array_get(ch, 0), "decided_by", "chat:web:u1");
	assert_null(json_object_get(json_array_get(ch, 0), "reply"));
	json_decref(ch);
	cur = rev;
	rt_approvals_close(s);
	/* a restart keeps the revs: nothing new past the cursor */
	s = open_store();
	ch = rt_approvals_changes(s, cur, 10, &rev, &more);
	assert_int_equal(json_array_size(ch), 0);
	assert_int_equal(rev, cur);
	json_decref(ch);
	json_t *ex = rt_approvals_expire(s, (long long)time(NULL) + 7200);
	assert_int_equal(json_array_size(ex), 1);
	json_decref(ex);
	ch = rt_approvals_changes(s, cur, 10, &rev, &more);
	assert_int_equal(json_array_size(ch), 1);
	assert_json_str(json_array_get(ch, 0), "decided_by", "expiry");
	assert_true(rev > cur);
	json_decref(ch);
	rt_approvals_close(s);
}

static void test_store_restart_and_once(void **state)
{
	(void)state;
	char id[32], id2[32];
	json_t *rec = NULL;
	struct rt_approvals *s = open_store();
	create(s, "c1", false, 3600, id);
	create(s, "c2", true, 3600, id2);
	rt_approvals_close(s);

	/* a restart: both still pending, in order, redacted in the view */
	s = open_store();
	json_t *l = rt_approvals_list(s, 10);
	assert_int_equal(json_array_size(l), 2);
	json_t *v = json_array_get(l, 0);
	assert_json_str(v, "id", id);
	assert_json_str(v, "state", "pending");
	assert_json_str(json_object_get(v, "arguments"), "password",
			"[redacted]");
	assert_null(json_object_get(v, "turn"));
	json_decref(l);

	/* decided once */
	assert_int_equal(rt_approvals_decide(s, id, true, "ops", &rec),
			 RT_DECIDE_OK);
	assert_json_str(rec, "state", "approved");
	assert_non_null(json_object_get(rec, "turn"));
	json_decref(rec);
	assert_int_equal(rt_approvals_decide(s, id, false, "ops", &rec),
			 RT_DECIDE_ALREADY);
	assert_null(rec);
	assert_int_equal(rt_approvals_decide(s, "apr_nope", true, "x", &rec),
			 RT_DECIDE_NOT_FOUND);
	/* the run is claimed once */
	assert_true(rt_approvals_claim(s, id));
	assert_false(rt_approvals_claim(s, id));
	assert_false(rt_approvals_claim(s, id2)); /* not approved */
	rt_approvals_close(s);

	/* a crash while running: never run again, "interrupted" */
	s = open_store();
	assert_int_equal(rt_approvals_decide(s, id, true, "ops", &rec),
			 RT_DECIDE_ALREADY);
	json_t *todo = rt_approvals_unfinished(s);
	assert_int_equal(json_array_size(todo), 1);
	rec = json_array_get(todo, 0);
	assert_json_str(rec, "phase", "ran");
	assert_json_str(rec, "outcome", "interrupted");
	assert_false(rt_approvals_claim(s, id));
	json_decref(todo);
	rt_approvals_set_phase(s, id, "done", NULL, NULL, "the reply");
	todo = rt_approvals_unfinished(s);
	assert_int_equal(json_array_size(todo), 0);
	json_decref(todo);
	v = rt_approvals_view(s, id);
	assert_true(json_is_true(json_object_get(v, "applied")));
	assert_json_str(v, "reply", "the reply");
	json_decref(v);

	/* a message delivered again finds its request until it is done */
	char found[32];
	bool chat = false;
	assert_false(rt_approvals_for_message(s, "c1", "c1", found, &chat));
	assert_true(rt_approvals_for_message(s, "c2", "c2", found, &chat));
	assert_string_equal(found, id2);
	assert_true(chat);
	assert_false(rt_approvals_for_message(s, "c1", "c2", found, &chat));
	/* chat decisions: only the asking sender, only chat_approval */
	assert_false(rt_approvals_chat_pending(s, "c1", "u1", found));
	assert_false(rt_approvals_chat_pending(s, "c2", "u2", found));
	assert_true(rt_approvals_chat_pending(s, "c2", "u1", found));
	assert_string_equal(found, id2);
	size_t pending, total;
	rt_approvals_counts(s, &pending, &total);
	assert_int_equal(pending, 1);
	assert_int_equal(total, 2);
	rt_approvals_close(s);
}

static void test_store_expiry(void **state)
{
	(void)state;
	char id[32];
	json_t *rec = NULL;
	struct rt_approvals *s = open_store();
	create(s, "c1", true, 1, id);
	long long now = (long long)time(NULL);
	json_t *ex = rt_approvals_expire(s, now - 10);
	assert_int_equal(json_array_size(ex), 0);
	json_decref(ex);
	ex = rt_approvals_expire(s, now + 5);
	assert_int_equal(json_array_size(ex), 1);
	assert_json_str(json_array_get(ex, 0), "state", "expired");
	json_decref(ex);
	ex = rt_approvals_expire(s, now + 5); /* once */
	assert_int_equal(json_array_size(ex), 0);
	json_decref(ex);
	assert_int_equal(rt_approvals_decide(s, id, true, "ops", &rec),
			 RT_DECIDE_EXPIRED);
	char found[32];
	assert_false(rt_approvals_chat_pending(s, "c1", "u1", found));
	rt_approvals_close(s);
	/* still expired after a restart, and its turn still to finish */
	s = open_store();
	assert_int_equal(rt_approvals_decide(s, id, true, "ops", &rec),
			 RT_DECIDE_EXPIRED);
	json_t *todo = rt_approvals_unfinished(s);
	assert_int_equal(json_array_size(todo), 1);
	json_decref(todo);
	rt_approvals_close(s);
}

struct race {
	struct rt_approvals *s;
	const char *id;
	int wins;
};

static void *racer(void *arg)
{
	struct race *r = arg;
	json_t *rec = NULL;
	if (rt_approvals_decide(r->s, r->id, true, "racer", &rec) ==
	    RT_DECIDE_OK)
		__atomic_fetch_add(&r->wins, 1, __ATOMIC_SEQ_CST);
	json_decref(rec);
	return NULL;
}

static void test_store_race(void **state)
{
	(void)state;
	char id[32];
	pthread_t th[8];
	struct rt_approvals *s = open_store();
	create(s, "c1", false, 3600, id);
	struct race r = {s, id, 0};
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, racer, &r), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(r.wins, 1);
	rt_approvals_close(s);
}

static void test_store_bad_files(void **state)
{
	(void)state;
	char path[400];
	struct rt_approvals *s = open_store();
	rt_approvals_close(s);
	snprintf(path, sizeof(path), "%s/approvals", dir);
	rt_test_write(path, "apr_bad.json", "{not json");
	rt_test_write(path, "apr_other.json",
		      "{\"id\": \"apr_x\", \"created\": 1, \"expires\": 2}");
	s = open_store(); /* logged and left, not loaded */
	json_t *l = rt_approvals_list(s, 10);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	rt_approvals_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_globs),
		cmocka_unit_test(test_pointers),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_redact),
		cmocka_unit_test_setup_teardown(test_store_audit_feed,
						setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_store_restart_and_once,
						setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_store_expiry, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_store_race, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_store_bad_files, setup_dir,
						teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
