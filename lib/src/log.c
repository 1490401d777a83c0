/*
 * log.c - one JSON object per line: time, level, component, request id,
 * message and, for warnings and errors, the source location.
 */
#include "claw/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum claw_log_level claw_log_threshold = CLAW_LOG_INFO;

static const char *log_component = "claw";
static FILE *log_out;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread const char *log_request_id;
/* claw_log_nonblocking: its descriptor (-1: stdio, blocking), the lines
 * dropped since the last one written, and whether that one was cut short
 * (under log_lock) */
static int log_nb_fd = -1;
static unsigned long log_dropped;
static bool log_cut;

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

/* One line, without its newline: malloc'd, or NULL when out of memory. */
static char *log_line(enum claw_log_level level, const char *file, int line,
		      const char *msg)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char ts[40];
	size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

	json_t *o = json_object();
	if (!o)
		return NULL;
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
	return s;
}

/* Write s and a newline to the non-blocking descriptor; false when the
 * reader had no room for it. A line of up to PIPE_BUF bytes goes into a
 * pipe whole or not at all; a longer one (or a socket) can be cut short,
 * and is then ended before the next line. Under log_lock. */
static bool nb_write_line(const char *s)
{
	size_t len = strlen(s), off = 0;
	struct iovec iov[2];
	if (log_cut) {
		if (write(log_nb_fd, "\n", 1) != 1)
			return false;
		log_cut = false;
	}
	while (off < len + 1) {
		int n = 0;
		if (off < len)
			iov[n++] = (struct iovec){(char *)s + off, len - off};
		iov[n++] = (struct iovec){"\n", 1};
		ssize_t w = writev(log_nb_fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off > 0 && off < len + 1)
		log_cut = true;
	return off == len + 1;
}

/* A line for the non-blocking descriptor, after the count of those
 * dropped before it when there were any. Under log_lock. */
static void nb_emit(const char *s)
{
	if (log_dropped) {
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "%lu log line(s) dropped: the log's reader (dockerd) "
			 "did not keep up",
			 log_dropped);
		char *notice = log_line(CLAW_LOG_WARN, __FILE__, __LINE__, msg);
		bool ok = notice && nb_write_line(notice);
		free(notice);
		if (!ok) {
			log_dropped++;
			return;
		}
		log_dropped = 0;
	}
	if (!nb_write_line(s))
		log_dropped++;
}

static void log_vemit(enum claw_log_level level, const char *file, int line,
		      const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	char *s = log_line(level, file, line, msg);
	if (!s)
		return;
	FILE *out = log_out ? log_out : stderr;
	pthread_mutex_lock(&log_lock);
	if (log_nb_fd >= 0) {
		nb_emit(s);
	} else {
		fputs(s, out);
		fputc('\n', out);
		fflush(out);
	}
	pthread_mutex_unlock(&log_lock);
	free(s);
}

int claw_log_nonblocking(void)
{
	FILE *out = log_out ? log_out : stderr;
	int fd = fileno(out);
	struct stat st;
	fflush(out);
	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	/* A terminal's description is shared with the shell, which would
	 * then read EAGAIN; a file never waits for a reader. */
	if (!S_ISFIFO(st.st_mode))
		return 0;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	pthread_mutex_lock(&log_lock);
	log_nb_fd = fd;
	pthread_mutex_unlock(&log_lock);
	return 0;
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
