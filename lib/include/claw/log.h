/*
 * log.h - structured JSON logging to stderr, one object per line.
 *
 * The level is checked before the arguments are evaluated (as Redis does).
 * A thread's current request id, when set, is added to every line it logs.
 * Never pass secret values to these functions.
 */
#ifndef CLAW_LOG_H
#define CLAW_LOG_H

#include <stdio.h>

enum claw_log_level {
	CLAW_LOG_DEBUG = 0,
	CLAW_LOG_INFO,
	CLAW_LOG_WARN,
	CLAW_LOG_ERROR,
};

extern enum claw_log_level claw_log_threshold;

/* component: short name copied into every line ("controlplane"). out: the
 * stream to write (NULL for stderr). Not thread-safe: call once at start. */
void claw_log_init(const char *component, enum claw_log_level threshold,
		   FILE *out);

/* For a tenant's container: logging never blocks its caller. A
 * container's output waits in a pipe of 64 KiB that dockerd empties; with
 * dockerd down (a restart under live-restore) or behind, a blocking write
 * stalls every thread that logs. After this call, when the output is a
 * pipe (not a terminal, whose description a shell shares, nor a file),
 * each line goes out with one write to it, made O_NONBLOCK; a line the
 * reader has no room for is dropped, and the next line written is
 * preceded by a warning that says how many were. 0, or -1 with errno. Call
 * once, after claw_log_init. */
int claw_log_nonblocking(void);

/* "debug" "info" "warn" "error" -> level; returns -1 when unknown. */
int claw_log_level_parse(const char *name);

/* Borrowed pointer kept for this thread until set again (NULL clears). */
void claw_log_set_request_id(const char *request_id);

void claw_log_emit(enum claw_log_level level, const char *file, int line,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define claw_log(level, ...)                                                   \
	do {                                                                   \
		if ((level) >= claw_log_threshold)                             \
			claw_log_emit((level), __FILE__, __LINE__,             \
				      __VA_ARGS__);                            \
	} while (0)
#define log_debug(...) claw_log(CLAW_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) claw_log(CLAW_LOG_INFO, __VA_ARGS__)
#define log_warn(...) claw_log(CLAW_LOG_WARN, __VA_ARGS__)
#define log_error(...) claw_log(CLAW_LOG_ERROR, __VA_ARGS__)

/* Print to stderr and abort: an impossible state. */
#define claw_fatal(...) claw_fatal_at(__FILE__, __LINE__, __VA_ARGS__)
void claw_fatal_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#endif
