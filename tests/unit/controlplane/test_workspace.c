/*
 * test_workspace.c - which git repositories a deploy may name
 * (controlplane/workspace.c): https and ssh only, local paths and file://
 * only where the fleet allows them, never an address or localhost unless
 * listed, hosts from workspace-hosts when it is set; the refusal texts
 * never repeat the URL; resolutions off the request thread keep their cap
 * and end with the daemon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "workspace.h"

static void test_classify(void **state)
{
	static const struct {
		const char *url;
		enum cp_ws_kind kind;
		const char *host;
	} cases[] = {
		{"https://github.com/a/b.git", CP_WS_HTTPS, "github.com"},
		{"HTTPS://User:tok@Git.Example.COM:8443/a", CP_WS_HTTPS,
		 "git.example.com"},
		{"https://[::1]:443/x", CP_WS_HTTPS, "::1"},
		{"ssh://git@host.example:22/a.git", CP_WS_SSH, "host.example"},
		{"git@github.com:a/b.git", CP_WS_SSH, "github.com"},
		{"host.example:a/b", CP_WS_SSH, "host.example"},
		{"/etc", CP_WS_LOCAL, ""},
		{"./repo", CP_WS_LOCAL, ""},
		{"./a:b", CP_WS_LOCAL, ""},
		{"repo", CP_WS_LOCAL, ""},
		{"file:///srv/repo", CP_WS_LOCAL, ""},
		{"http://github.com/a", CP_WS_OTHER, ""},
		{"git://github.com/a", CP_WS_OTHER, ""},
		{"ext::sh -c x", CP_WS_OTHER, ""},
		{NULL, 0, NULL},
	};
	enum cp_ws_kind k;
	char host[CP_WS_HOST_MAX];

	(void)state;
	for (int i = 0; cases[i].url; i++) {
		if (!strncmp(cases[i].url, "ext::", 5)) {
			/* white space: not an address at all */
			assert_false(cp_ws_classify(cases[i].url, &k, host,
						    sizeof(host)));
			continue;
		}
		assert_true(
			cp_ws_classify(cases[i].url, &k, host, sizeof(host)));
		assert_int_equal(k, cases[i].kind);
		if (k == CP_WS_HTTPS || k == CP_WS_SSH)
			assert_string_equal(host, cases[i].host);
	}
	assert_false(cp_ws_classify("", &k, host, sizeof(host)));
	assert_false(cp_ws_classify("https://a b/x", &k, host, sizeof(host)));
	assert_false(cp_ws_classify("https:///x", &k, host, sizeof(host)));
	assert_false(cp_ws_classify("https://h\x01/x", &k, host, sizeof(host)));
}

static void test_rules(void **state)
{
	const struct cp_ws_rules open = {NULL, false, 1000};
	const struct cp_ws_rules local = {NULL, true, 1000};
	const struct cp_ws_rules listed = {"git.example.com, *.corp.example, "
					   "10.0.0.5",
					   false, 1000};
	static const char *never[] = {"/etc",
				      "file:///etc",
				      "./x",
				      "http://github.com/a",
				      "git://github.com/a",
				      "https://127.0.0.1/x",
				      "https://127.1/x",
				      "https://2130706433/x",
				      "https://0x7f.1/x",
				      "https://[::1]/x",
				      "https://localhost/x",
				      "https://a.localhost/x",
				      "ssh://10.0.0.5/x",
				      "git@127.0.0.1:x",
				      NULL};
	const char *why;

	(void)state;
	for (int i = 0; never[i]; i++) {
		assert_false(cp_ws_allowed(&open, never[i], &why));
		assert_null(strstr(why, never[i]));
	}
	assert_true(cp_ws_allowed(&open, "https://github.com/a/b", &why));
	assert_true(cp_ws_allowed(&open, "git@github.com:a/b", &why));
	assert_true(cp_ws_allowed(&local, "/srv/repo", &why));
	assert_true(cp_ws_allowed(&local, "file:///srv/repo", &why));
	assert_false(cp_ws_allowed(&local, "http://github.com/a", &why));
	assert_false(cp_ws_allowed(&local, "https://127.0.0.1/x", &why));
	/* with a host list: only those hosts (an address when listed) */
	assert_true(cp_ws_allowed(&listed, "https://git.example.com/a", &why));
	assert_true(
		cp_ws_allowed(&listed, "https://GIT.example.com:8443/a", &why));
	assert_true(cp_ws_allowed(&listed, "ssh://x.corp.example/a", &why));
	assert_true(cp_ws_allowed(&listed, "https://a.b.corp.example/a", &why));
	assert_true(cp_ws_allowed(&listed, "https://10.0.0.5/a", &why));
	assert_false(cp_ws_allowed(&listed, "https://corp.example/a", &why));
	assert_false(cp_ws_allowed(&listed, "https://xcorp.example/a", &why));
	assert_false(cp_ws_allowed(&listed, "https://github.com/a", &why));
	assert_false(cp_ws_allowed(
		&listed, "https://git.example.com.evil.example/a", &why));
	assert_false(cp_ws_allowed(&listed, "https://10.0.0.6/a", &why));
	assert_false(cp_ws_allowed(&listed, "/srv/repo", &why));
}

static void test_commit_taken_as_is(void **state)
{
	const struct cp_ws_rules r = {NULL, false, 1000};
	const char *c = "0123456789abcdef0123456789abcdef01234567";
	char out[41];

	(void)state;
	/* a full commit id is pinned without listing anything */
	assert_int_equal(cp_ws_resolve(&r, "https://nowhere.invalid/x", c, out),
			 CP_WS_OK);
	assert_string_equal(out, c);
	for (int res = CP_WS_OK; res <= CP_WS_CANCELLED; res++)
		assert_null(strstr(cp_ws_result_text(res), "nowhere"));
}

struct done_seen {
	enum cp_ws_result res;
	char commit[41];
	int calls;
};

static void on_done(enum cp_ws_result res, const char *commit, void *cls)
{
	struct done_seen *d = cls;

	d->res = res;
	snprintf(d->commit, sizeof(d->commit), "%s", commit ? commit : "");
	d->calls++;
}

/* Resolutions off the request thread: a slot is reserved while the
 * request can still answer 503, at most four at once; a started job calls
 * back on its own thread, and cp_ws_stop waits for the callbacks. */
static void test_jobs(void **state)
{
	const char *c = "0123456789abcdef0123456789abcdef01234567";
	struct cp_ws_job *j[5];
	struct done_seen d = {0};

	(void)state;
	cp_ws_start();
	for (int i = 0; i < 4; i++)
		assert_non_null(j[i] = cp_ws_job_new("https://h.example/r", c));
	/* all four slots are taken: the fifth is refused */
	assert_null(j[4] = cp_ws_job_new("https://h.example/r", c));
	cp_ws_job_drop(j[3]);
	assert_non_null(j[3] = cp_ws_job_new("https://h.example/r", c));
	/* a commit id needs no listing; the callback runs on a thread */
	assert_int_equal(cp_ws_job_start(j[0], 1000, on_done, &d), 0);
	cp_ws_stop(); /* returns once the callback has returned */
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.res, CP_WS_OK);
	assert_string_equal(d.commit, c);
	/* stopped: nothing starts, the reservation is given back */
	assert_int_equal(cp_ws_job_start(j[1], 1000, on_done, &d), -1);
	assert_int_equal(d.calls, 1);
	cp_ws_job_drop(j[2]);
	cp_ws_job_drop(j[3]);
	cp_ws_start();
	/* every slot is free again */
	for (int i = 0; i < 4; i++)
		assert_non_null(j[i] = cp_ws_job_new("https://h.example/r", c));
	for (int i = 0; i < 4; i++)
		cp_ws_job_drop(j[i]);
	/* too long a ref is refused before taking a slot */
	{
		char ref[300];

		memset(ref, 'a', sizeof(ref) - 1);
		ref[sizeof(ref) - 1] = '\0';
		assert_null(cp_ws_job_new("https://h.example/r", ref));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_commit_taken_as_is),
		cmocka_unit_test(test_jobs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
