/*
 * logs.h - following a tenant container's log as it grows, for the local
 * API's streamed logs and the control-plane relay. Docker's multiplexed
 * log stream is decoded into lines; a follow survives restarts and
 * replacements of the container (each window looks up the current one).
 *
 * Design: Docker's follow=1 stream cannot be interrupted while the
 * container is silent (libcurl blocks), so it is read in windows of at most
 * wait_ms; each line carries Docker's timestamp (timestamps=1), and the
 * next window asks for lines `since` the last one, so none is lost or
 * repeated. No thread of its own: the caller's thread reads.
 *
 * Ownership: na_follow_open gives a handle the caller frees with
 * na_follow_free. Safe from any thread but the reconcile thread.
 */
#ifndef NA_LOGS_H
#define NA_LOGS_H

#include "agent.h"

struct na_follow;

/* One log line: stream 1 stdout or 2 stderr, Docker's time stamp
 * (RFC 3339, UTC) or "" when it had none, the text without its newline
 * (not NUL-terminated; may hold any bytes). */
typedef enum claw_rc (*na_follow_fn)(int stream, const char *time,
				     const char *text, size_t len, void *cls);

/* Follow role r of tenant, starting with its last `tail` lines. */
enum claw_rc na_follow_open(struct na_agent *a, const char *tenant,
			    enum na_role r, unsigned tail,
			    struct na_follow **out);
/* Hand the lines that come within about wait_ms to fn. CLAW_OK (maybe
 * with no line), CLAW_ERR_NOT_FOUND once the tenant is no longer on this
 * node, or what fn returned. */
enum claw_rc na_follow_next(struct na_follow *f, long wait_ms, na_follow_fn fn,
			    void *cls);
void na_follow_free(struct na_follow *f);

/* Write text as a JSON-safe UTF-8 string into out: invalid sequences
 * become U+FFFD. */
enum claw_rc na_utf8_sanitize(const char *text, size_t len,
			      struct claw_buf *out);

#endif
