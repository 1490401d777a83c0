/*
 * workspace.c - which repositories a deploy may name, and their refs
 * listed on a worker thread under a deadline (see workspace.h).
 *
 * A resolution is a job shared by the request (which waits for it until
 * the deadline) and a detached worker (which lists the refs with
 * libgit2); whichever lets go last frees it, so a request that timed out
 * returns at once and the worker ends whenever libgit2 gives up. At most
 * WORKERS_MAX workers exist, so a host that never answers cannot pile
 * them up.
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
	}
	return "the repository could not be listed";
}

/* ---- listing refs on a worker */

static pthread_once_t git_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t workers_mu = PTHREAD_MUTEX_INITIALIZER;
static int workers;

static void git_init(void)
{
	git_libgit2_init();
}

static bool is_commit(const char *s)
{
	return strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

struct job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs; /* the waiter and the worker */
	bool done;
	char url[URL_MAX + 1];
	char ref[256];
	char out[41];
	enum cp_ws_result res;
};

static void job_put(struct job *j)
{
	bool last;

	pthread_mutex_lock(&j->mu);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (last) {
		pthread_mutex_destroy(&j->mu);
		pthread_cond_destroy(&j->cv);
		free(j);
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
	struct job *j = arg;
	char out[41] = "";
	enum cp_ws_result res = list_refs(j->url, j->ref, out);

	pthread_mutex_lock(&j->mu);
	j->res = res;
	memcpy(j->out, out, sizeof(out));
	j->done = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	job_put(j);
	pthread_mutex_lock(&workers_mu);
	workers--;
	pthread_mutex_unlock(&workers_mu);
	return NULL;
}

/* Start a worker for j (which takes one reference). */
static bool worker_start(struct job *j)
{
	pthread_attr_t attr;
	pthread_t t;
	bool ok;

	pthread_mutex_lock(&workers_mu);
	ok = workers < WORKERS_MAX;
	if (ok)
		workers++;
	pthread_mutex_unlock(&workers_mu);
	if (!ok)
		return false;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ok = pthread_create(&t, &attr, worker_main, j) == 0;
	pthread_attr_destroy(&attr);
	if (!ok) {
		log_error("workspace: unable to start a resolver thread");
		pthread_mutex_lock(&workers_mu);
		workers--;
		pthread_mutex_unlock(&workers_mu);
	}
	return ok;
}

enum cp_ws_result cp_ws_resolve(const struct cp_ws_rules *r, const char *url,
				const char *ref, char out[41])
{
	struct timespec deadline;
	pthread_condattr_t ca;
	struct job *j;
	enum cp_ws_result res;

	if (is_commit(ref)) {
		snprintf(out, 41, "%s", ref);
		return CP_WS_OK;
	}
	if (strlen(url) > URL_MAX || strlen(ref) >= sizeof(j->ref))
		return CP_WS_UNREACHABLE;
	pthread_once(&git_once, git_init);
	j = calloc(1, sizeof(*j));
	if (!j)
		return CP_WS_BUSY;
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	j->refs = 2;
	snprintf(j->url, sizeof(j->url), "%s", url);
	snprintf(j->ref, sizeof(j->ref), "%s", ref);
	if (!worker_start(j)) {
		j->refs = 1;
		job_put(j);
		return CP_WS_BUSY;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += r->timeout_ms / 1000;
	deadline.tv_nsec += (r->timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->mu);
	while (!j->done &&
	       pthread_cond_timedwait(&j->cv, &j->mu, &deadline) == 0)
		;
	res = j->done ? j->res : CP_WS_TIMEOUT;
	if (j->done && res == CP_WS_OK)
		memcpy(out, j->out, 41);
	pthread_mutex_unlock(&j->mu);
	job_put(j);
	return res;
}
