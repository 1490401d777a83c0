/*
 * workspace.c - which repositories a deploy may name, and their refs
 * listed on a worker thread under a deadline (see workspace.h).
 *
 * A resolution is a job shared by a waiter (the caller of cp_ws_resolve,
 * or a runner thread of cp_ws_job_start) and a detached git worker (which
 * lists the refs with libgit2); whichever lets go last frees it, so a
 * waiter that timed out goes on at once and the worker ends whenever
 * libgit2 gives up. A job takes one of WORKERS_MAX slots when it is made
 * and gives it back when its git worker ends, so a host that never
 * answers cannot pile workers up. One mutex and one condition variable
 * (CLOCK_MONOTONIC) serve every job: there are only a few.
 */
#include "workspace.h"

#include <arpa/inet.h>
#include <git2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "claw/deadline.h"
#include "claw/log.h"

#define WORKERS_MAX 4
#define URL_MAX 1024

/* ---- classification and rules */

static bool host_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == ':' || c == '[' || c == ']'))
			return false;
	}
	return n > 0;
}

/* Copy s[0..n) lowercased into out; false when it does not fit. */
static bool put_host(const char *s, size_t n, char *out, size_t outlen)
{
	if (n == 0 || n >= outlen)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] =
			(s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	out[n] = '\0';
	return true;
}

/* The host of an authority "[user[:pw]@]host[:port]" or "[v6]:port". */
static bool authority_host(const char *a, size_t n, char *out, size_t outlen)
{
	const char *at = NULL, *h, *end = a + n, *colon;

	for (const char *p = a; p < end; p++)
		if (*p == '@')
			at = p;
	h = at ? at + 1 : a;
	if (h < end && *h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));

		if (!close)
			return false;
		return host_chars(h + 1, (size_t)(close - h - 1)) &&
			put_host(h + 1, (size_t)(close - h - 1), out, outlen);
	}
	colon = memchr(h, ':', (size_t)(end - h));
	if (colon)
		end = colon;
	return host_chars(h, (size_t)(end - h)) &&
		put_host(h, (size_t)(end - h), out, outlen);
}

bool cp_ws_classify(const char *url, enum cp_ws_kind *kind, char *host,
		    size_t hostlen)
{
	const char *sep, *colon, *slash;
	size_t n = url ? strlen(url) : 0;

	host[0] = '\0';
	if (n == 0 || n > URL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return false;
	sep = strstr(url, "://");
	if (sep) {
		const char *auth = sep + 3;
		size_t an = strcspn(auth, "/?#");

		if (!strncasecmp(url, "file://", 7)) {
			*kind = CP_WS_LOCAL;
			return true;
		}
		if (!strncasecmp(url, "https://", 8))
			*kind = CP_WS_HTTPS;
		else if (!strncasecmp(url, "ssh://", 6))
			*kind = CP_WS_SSH;
		else {
			*kind = CP_WS_OTHER;
			return true;
		}
		return authority_host(auth, an, host, hostlen);
	}
	/* scp-like "[user@]host:path": a ':' before any '/' */
	colon = strchr(url, ':');
	slash = strchr(url, '/');
	if (colon && (!slash || colon < slash) && colon != url) {
		*kind = CP_WS_SSH;
		return authority_host(url, (size_t)(colon - url), host,
				      hostlen);
	}
	*kind = CP_WS_LOCAL;
	return true;
}

/* An address rather than a name: IPv4 in any form inet_aton takes
 * ("127.1", "2130706433", "0x7f.1"), IPv6, or localhost. */
static bool host_is_address(const char *host)
{
	struct in_addr a;
	size_t n = strlen(host);

	return inet_aton(host, &a) || strchr(host, ':') ||
		!strcmp(host, "localhost") ||
		(n > 10 && !strcmp(host + n - 10, ".localhost"));
}

/* Whether host is an entry of list ("host" exact, "*.domain" below). */
static bool host_listed(const char *list, const char *host)
{
	const char *p = list;
	size_t hn = strlen(host);

	while (p && *p) {
		size_t n = strcspn(p, ", \t\r\n");

		if (n == hn && !strncasecmp(p, host, n))
			return true;
		if (n > 2 && p[0] == '*' && p[1] == '.' && hn > n - 1 &&
		    host[hn - (n - 1)] == '.' &&
		    !strncasecmp(host + hn - (n - 2), p + 2, n - 2))
			return true;
		p += n;
		p += strspn(p, ", \t\r\n");
	}
	return false;
}

bool cp_ws_allowed(const struct cp_ws_rules *r, const char *url,
		   const char **why)
{
	enum cp_ws_kind kind;
	char host[CP_WS_HOST_MAX];

	if (!cp_ws_classify(url, &kind, host, sizeof(host))) {
		*why = "repo is not a repository address the control plane "
		       "takes (https://HOST/PATH or ssh)";
		return false;
	}
	switch (kind) {
	case CP_WS_OTHER:
		*why = "only https and ssh repositories are allowed";
		return false;
	case CP_WS_LOCAL:
		if (!r->allow_local) {
			*why = "local paths and file:// repositories are not "
			       "allowed on this fleet; use https or ssh";
			return false;
		}
		return true;
	default:
		break;
	}
	if (host_is_address(host) &&
	    !(r->hosts && host_listed(r->hosts, host))) {
		*why = "the repository must be named by a host name, not an "
		       "address";
		return false;
	}
	if (r->hosts && !host_listed(r->hosts, host)) {
		*why = "the repository's host is not one the fleet allows "
		       "(workspace-hosts)";
		return false;
	}
	return true;
}

const char *cp_ws_result_text(enum cp_ws_result res)
{
	switch (res) {
	case CP_WS_OK:
		return "resolved";
	case CP_WS_NO_REF:
		return "the repository has no such branch or tag";
	case CP_WS_UNREACHABLE:
		return "the repository could not be listed; check repo and "
		       "that the fleet can reach it";
	case CP_WS_AUTH:
		return "the repository wants credentials; give ref as a full "
		       "commit id with token_secret";
	case CP_WS_TIMEOUT:
		return "the repository did not answer in time";
	case CP_WS_BUSY:
		return "too many workspaces are being resolved; retry shortly";
	case CP_WS_CANCELLED:
		return "the control plane stopped before the repository "
		       "answered; deploy again";
	}
	return "the repository could not be listed";
}

/* ---- listing refs on a worker */

static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t ws_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ws_cv; /* a job done, a runner gone, a cancel */
static int workers;          /* slots taken (reserved or running) */
static int runners;          /* runner threads alive */
static bool cancelled;       /* cp_ws_stop: waiters end now */

static void ws_init(void)
{
	pthread_condattr_t ca;

	git_libgit2_init();
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ws_cv, &ca);
	pthread_condattr_destroy(&ca);
}

static bool is_commit(const char *s)
{
	return strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

struct cp_ws_job {
	int refs; /* the waiter and the git worker; under ws_mu */
	bool done;
	bool slot; /* holds one of the WORKERS_MAX slots */
	char url[URL_MAX + 1];
	char ref[256];
	char out[41];
	enum cp_ws_result res;
	/* a runner's */
	long timeout_ms;
	cp_ws_done_fn done_fn;
	void *cls;
};

/* Drop one reference (under ws_mu); frees j with the last. */
static void job_put_locked(struct cp_ws_job *j)
{
	if (--j->refs == 0)
		free(j);
}

static void slot_put_locked(struct cp_ws_job *j)
{
	if (j->slot) {
		j->slot = false;
		workers--;
	}
}

/* libgit2's failure as one of our results; its message is logged only at
 * debug level (it may name the address). */
static enum cp_ws_result git_failure(int code)
{
	const git_error *e = git_error_last();

	log_debug("workspace: libgit2 error %d (class %d)", code,
		  e ? e->klass : 0);
	if (code == GIT_EAUTH)
		return CP_WS_AUTH;
	return CP_WS_UNREACHABLE;
}

static enum cp_ws_result list_refs(const char *url, const char *ref,
				   char out[41])
{
	git_remote_connect_options opts;
	const git_remote_head **heads;
	git_remote *r = NULL;
	char want[3][300];
	size_t n;
	int found = -1, code;

	git_remote_connect_options_init(&opts,
					GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	opts.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	snprintf(want[0], sizeof(want[0]), "%s", ref);
	snprintf(want[1], sizeof(want[1]), "refs/heads/%s", ref);
	snprintf(want[2], sizeof(want[2]), "refs/tags/%s", ref);
	if ((code = git_remote_create_detached(&r, url)) ||
	    (code = git_remote_connect_ext(r, GIT_DIRECTION_FETCH, &opts)) ||
	    (code = git_remote_ls(&heads, &n, r))) {
		git_remote_free(r);
		return git_failure(code);
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = heads[i]->name;
		char peeled[310];

		for (int k = 0; k < 3; k++) {
			snprintf(peeled, sizeof(peeled), "%s^{}", want[k]);
			if (!strcmp(name,
				    peeled)) /* an annotated tag's commit */
				found = (int)i;
			else if (!strcmp(name, want[k]) && found < 0)
				found = (int)i;
		}
	}
	if (found >= 0)
		git_oid_tostr(out, 41, &heads[found]->oid);
	git_remote_free(r);
	return found >= 0 ? CP_WS_OK : CP_WS_NO_REF;
}

static void *worker_main(void *arg)
{
	struct cp_ws_job *j = arg;
	char out[41] = "";
	enum cp_ws_result res = list_refs(j->url, j->ref, out);

	pthread_mutex_lock(&ws_mu);
	j->res = res;
	memcpy(j->out, out, sizeof(out));
	j->done = true;
	slot_put_locked(j);
	pthread_cond_broadcast(&ws_cv);
	job_put_locked(j);
	pthread_mutex_unlock(&ws_mu);
	return NULL;
}

/* Start a detached thread running fn(arg); false when none could be
 * started. */
static bool detached(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	bool ok;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ok = pthread_create(&t, &attr, fn, arg) == 0;
	pthread_attr_destroy(&attr);
	if (!ok)
		log_error("workspace: unable to start a resolver thread");
	return ok;
}

struct cp_ws_job *cp_ws_job_new(const char *url, const char *ref)
{
	struct cp_ws_job *j;

	if (strlen(url) > URL_MAX || strlen(ref) >= sizeof(j->ref))
		return NULL;
	pthread_once(&ws_once, ws_init);
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	pthread_mutex_lock(&ws_mu);
	if (workers < WORKERS_MAX) {
		workers++;
		j->slot = true;
	}
	pthread_mutex_unlock(&ws_mu);
	if (!j->slot) {
		free(j);
		return NULL;
	}
	j->refs = 1;
	snprintf(j->url, sizeof(j->url), "%s", url);
	snprintf(j->ref, sizeof(j->ref), "%s", ref);
	return j;
}

void cp_ws_job_drop(struct cp_ws_job *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&ws_mu);
	slot_put_locked(j);
	job_put_locked(j);
	pthread_mutex_unlock(&ws_mu);
}

/* Resolve j in this thread: start its git worker and wait until it is
 * done, timeout_ms pass or cp_ws_stop; drops the caller's reference. */
static enum cp_ws_result job_wait(struct cp_ws_job *j, long timeout_ms,
				  char out[41])
{
	struct timespec deadline;
	enum cp_ws_result res;
	bool started;

	if (is_commit(j->ref)) {
		snprintf(out, 41, "%s", j->ref);
		cp_ws_job_drop(j);
		return CP_WS_OK;
	}
	pthread_mutex_lock(&ws_mu);
	j->refs++; /* the worker's */
	pthread_mutex_unlock(&ws_mu);
	started = detached(worker_main, j);
	pthread_mutex_lock(&ws_mu);
	if (!started) {
		j->refs--;
		slot_put_locked(j);
		job_put_locked(j);
		pthread_mutex_unlock(&ws_mu);
		return CP_WS_UNREACHABLE;
	}
	deadline = claw_deadline_ms(CLOCK_MONOTONIC, timeout_ms);
	while (!j->done && !cancelled &&
	       pthread_cond_timedwait(&ws_cv, &ws_mu, &deadline) == 0)
		;
	res = j->done ? j->res : cancelled ? CP_WS_CANCELLED : CP_WS_TIMEOUT;
	if (j->done && res == CP_WS_OK)
		memcpy(out, j->out, 41);
	job_put_locked(j);
	pthread_mutex_unlock(&ws_mu);
	return res;
}

enum cp_ws_result cp_ws_resolve(const struct cp_ws_rules *r, const char *url,
				const char *ref, char out[41])
{
	struct cp_ws_job *j;

	if (is_commit(ref)) {
		snprintf(out, 41, "%s", ref);
		return CP_WS_OK;
	}
	if (strlen(url) > URL_MAX || strlen(ref) >= 256)
		return CP_WS_UNREACHABLE;
	j = cp_ws_job_new(url, ref);
	if (!j)
		return CP_WS_BUSY;
	return job_wait(j, r->timeout_ms, out);
}

static void *runner_main(void *arg)
{
	struct cp_ws_job *j = arg;
	cp_ws_done_fn fn = j->done_fn;
	void *cls = j->cls;
	char out[41] = "";
	enum cp_ws_result res = job_wait(j, j->timeout_ms, out);

	fn(res, res == CP_WS_OK ? out : NULL, cls);
	pthread_mutex_lock(&ws_mu);
	runners--;
	pthread_cond_broadcast(&ws_cv);
	pthread_mutex_unlock(&ws_mu);
	return NULL;
}

int cp_ws_job_start(struct cp_ws_job *j, long timeout_ms, cp_ws_done_fn done,
		    void *cls)
{
	bool stopping;

	j->timeout_ms = timeout_ms;
	j->done_fn = done;
	j->cls = cls;
	pthread_mutex_lock(&ws_mu);
	stopping = cancelled;
	if (!stopping)
		runners++;
	pthread_mutex_unlock(&ws_mu);
	if (stopping) {
		cp_ws_job_drop(j);
		return -1;
	}
	if (!detached(runner_main, j)) {
		pthread_mutex_lock(&ws_mu);
		runners--;
		pthread_cond_broadcast(&ws_cv);
		pthread_mutex_unlock(&ws_mu);
		cp_ws_job_drop(j);
		return -1;
	}
	return 0;
}

void cp_ws_start(void)
{
	pthread_once(&ws_once, ws_init);
	pthread_mutex_lock(&ws_mu);
	cancelled = false;
	pthread_mutex_unlock(&ws_mu);
}

void cp_ws_stop(void)
{
	pthread_once(&ws_once, ws_init);
	pthread_mutex_lock(&ws_mu);
	cancelled = true;
	pthread_cond_broadcast(&ws_cv);
	while (runners > 0)
		pthread_cond_wait(&ws_cv, &ws_mu);
	pthread_mutex_unlock(&ws_mu);
}
