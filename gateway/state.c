/*
 * state.c - small shared helpers of the gateway's global state: the
 * current config behind a mutex with reference counts (so SIGHUP can swap
 * it while workers still use the old one), clocks, and an interruptible
 * sleep for retry loops, the one pointer every thread of the gateway
 * starts through, and the one-line position files of the streaming
 * channels (gw_mark_load/gw_mark_save).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "claw/buf.h"
#include "claw/file.h"
#include "claw/log.h"
#include "gw.h"

int (*gw_thread_create)(pthread_t *thr, const pthread_attr_t *attr,
			void *(*fn)(void *), void *arg) = pthread_create;

struct gw_conf *gw_conf_get(struct gw *g)
{
	pthread_mutex_lock(&g->conf_mu);
	struct gw_conf *c = g->conf;
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&g->conf_mu);
	return c;
}

void gw_conf_swap(struct gw *g, struct gw_conf *c)
{
	pthread_mutex_lock(&g->conf_mu);
	struct gw_conf *old = g->conf;
	g->conf = c;
	pthread_mutex_unlock(&g->conf_mu);
	gw_conf_put(old);
}

double gw_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long gw_unix_now(void)
{
	return (long long)time(NULL);
}

void gw_sleep_ms(struct gw *g, long ms)
{
	while (ms > 0 && !atomic_load(&g->stopping)) {
		long step = ms > 50 ? 50 : ms;
		struct timespec ts = {0, step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

static char *mark_path(const struct gw *g, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/gateway/%s", g->data_dir, name) < 0)
		return NULL;
	return p;
}

char *gw_mark_load(const struct gw *g, const char *name, size_t max)
{
	struct claw_buf b;
	char *p = mark_path(g, name), *v = NULL;
	if (!p)
		return NULL;
	claw_buf_init(&b, max);
	if (claw_file_read(p, &b) == CLAW_OK && b.len &&
	    !memchr(b.data, '\n', b.len) && !memchr(b.data, '\r', b.len))
		v = claw_buf_steal(&b);
	claw_buf_release(&b);
	free(p);
	return v;
}

bool gw_mark_save(const struct gw *g, const char *name, const char *value,
		  const char *what)
{
	char *p = mark_path(g, name), *tmp = NULL;
	bool ok = false;
	if (!p || asprintf(&tmp, "%s.tmp", p) < 0) {
		free(p);
		return false;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		size_t n = strlen(value);
		ok = write(fd, value, n) == (ssize_t)n && fsync(fd) == 0;
		ok = close(fd) == 0 && ok && rename(tmp, p) == 0;
	}
	if (!ok)
		log_error("unable to save %s in '%s'", what, p);
	free(tmp);
	free(p);
	return ok;
}
