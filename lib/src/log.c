/*
 * log.c - one JSON object per line: time, level, component, request id,
 * message and, for warnings and errors, the source location.
 */
#include "claw/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

enum claw_log_level claw_log_threshold = CLAW_LOG_INFO;

static const char *log_component = "claw";
static FILE *log_out;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread const char *log_request_id;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void claw_log_init(const char *component, enum claw_log_level threshold,
		   FILE *out)
{
	log_component = component;
	claw_log_threshold = threshold;
	log_out = out;
}

int claw_log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++)
		if (name && strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void claw_log_set_request_id(const char *request_id)
{
	log_request_id = request_id;
}

static void log_vemit(enum claw_log_level level, const char *file, int line,
		      const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);

	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char ts[40];
	size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

	json_t *o = json_object();
	if (!o)
		return;
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "level", json_string(level_names[level]));
	json_object_set_new(o, "component", json_string(log_component));
	if (log_request_id)
		json_object_set_new(o, "request_id",
				    json_string(log_request_id));
	/* json_string refuses invalid UTF-8; never lose the line for it. */
	json_t *m = json_string(msg);
	json_object_set_new(o, "msg",
			    m ? m : json_string("(message not UTF-8)"));
	if (level >= CLAW_LOG_WARN) {
		char where[256];
		const char *base = strrchr(file, '/');
		snprintf(where, sizeof(where), "%s:%d", base ? base + 1 : file,
			 line);
		json_object_set_new(o, "at", json_string(where));
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return;
	FILE *out = log_out ? log_out : stderr;
	pthread_mutex_lock(&log_lock);
	fputs(s, out);
	fputc('\n', out);
	fflush(out);
	pthread_mutex_unlock(&log_lock);
	free(s);
}

void claw_log_emit(enum claw_log_level level, const char *file, int line,
		   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vemit(level, file, line, fmt, ap);
	va_end(ap);
}

void claw_fatal_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vemit(CLAW_LOG_ERROR, file, line, fmt, ap);
	va_end(ap);
	abort();
}
