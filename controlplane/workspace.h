/*
 * workspace.h - agent config as code: a deploy's git workspace resolved
 * safely (docs/fleet.md, "Agent config as code").
 *
 * Which repositories may be named is the operator's: https and ssh URLs
 * (ssh://... or user@host:path), local paths and file:// only when the
 * fleet allows them (workspace-allow-local), hosts only from
 * workspace-hosts when it is set, and never an IP literal or "localhost"
 * unless workspace-hosts names it. The refs are listed with libgit2 on a
 * worker thread under a deadline (workspace-timeout-ms), redirects to
 * another host are not followed, and a failure is reported as one of a
 * few fixed sentences: never the URL, a path, an address or libgit2's own
 * message, which would tell the caller what exists behind the control
 * plane.
 *
 * A deploy resolves off its request thread (cp_ws_job_new reserves one of
 * the few resolution slots while the request can still answer 503, then
 * cp_ws_job_start resolves on a thread of its own and calls back);
 * cp_ws_stop, at the daemon's stop, ends the waits and waits for the
 * callbacks.
 */
#ifndef CP_WORKSPACE_H
#define CP_WORKSPACE_H

#include <stdbool.h>
#include <stddef.h>

#define CP_WS_HOST_MAX 256

enum cp_ws_kind {
	CP_WS_HTTPS,
	CP_WS_SSH,
	CP_WS_LOCAL, /* a path or file:// */
	CP_WS_OTHER, /* http://, git://, anything else: never */
};

/* What kind of repository address url is, and its host (lowercase, no
 * port, no user) for https and ssh. false when it is not even that. */
bool cp_ws_classify(const char *url, enum cp_ws_kind *kind, char *host,
		    size_t hostlen);

/* The fleet's rules (the options, read once). hosts: comma- or
 * space-separated "host" or "*.domain" entries, NULL for any public
 * host. */
struct cp_ws_rules {
	const char *hosts;
	bool allow_local;
	long timeout_ms;
};

/* Whether the rules allow url. On false, why is a fixed sentence (static)
 * that never quotes url. */
bool cp_ws_allowed(const struct cp_ws_rules *r, const char *url,
		   const char **why);

enum cp_ws_result {
	CP_WS_OK = 0,
	CP_WS_NO_REF,      /* the repository has no such branch or tag */
	CP_WS_UNREACHABLE, /* no answer, refused, not a repository, ... */
	CP_WS_AUTH,        /* the repository wants credentials */
	CP_WS_TIMEOUT,     /* no answer within the deadline */
	CP_WS_BUSY,        /* too many resolutions running */
	CP_WS_CANCELLED,   /* the daemon stops (cp_ws_stop) */
};

/* Resolve ref (a branch, a tag, "HEAD", or a full commit id taken as it
 * is) of the repository at url to a commit (40 hex + NUL), listing its
 * refs on a worker thread; waits at most r->timeout_ms. The worker of a
 * timed-out call finishes on its own; at most a few run at once
 * (CP_WS_BUSY beyond). Call cp_ws_allowed first. */
enum cp_ws_result cp_ws_resolve(const struct cp_ws_rules *r, const char *url,
				const char *ref, char out[41]);
/* A fixed sentence for a result (static; never the URL). */
const char *cp_ws_result_text(enum cp_ws_result res);

/* ---- resolving off the request thread */

struct cp_ws_job;

/* Reserve one of the resolution slots for resolving ref of url (both
 * copied): NULL when every slot is taken (answer CP_WS_BUSY), a value is
 * too long or out of memory. Call cp_ws_allowed first. */
struct cp_ws_job *cp_ws_job_new(const char *url, const char *ref);
/* Give an unused reservation back. NULL is a no-op. */
void cp_ws_job_drop(struct cp_ws_job *j);

/* What a started job calls, once, on its own thread: commit is the 40
 * hex digits with CP_WS_OK, else NULL. With CP_WS_CANCELLED the daemon
 * stops: release cls and touch nothing else (no database). */
typedef void (*cp_ws_done_fn)(enum cp_ws_result res, const char *commit,
			      void *cls);
/* Resolve j on a thread of its own, waiting at most timeout_ms, then call
 * done(res, commit, cls) there. Consumes j. -1 when no thread could be
 * started or the daemon stops (done is not called; cls stays the
 * caller's). */
int cp_ws_job_start(struct cp_ws_job *j, long timeout_ms, cp_ws_done_fn done,
		    void *cls);

/* The daemon's start and stop ("workspaces" hook): after cp_ws_stop every
 * waiting resolution ends with CP_WS_CANCELLED, no job starts, and it
 * returns once every callback has returned. cp_ws_start allows jobs
 * again. */
void cp_ws_start(void);
void cp_ws_stop(void);

#endif
