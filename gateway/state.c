/*
 * state.c - small shared helpers of the gateway's global state: the
 * current config behind a mutex with reference counts (so SIGHUP can swap
 * it while workers still use the old one), clocks, and an interruptible
 * sleep for retry loops, the one pointer every thread of the gateway
 * starts through, and the one-line position files of the streaming
 * channels (gw_mark_load/gw_mark_save).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "claw/buf.h"
#include "claw/deadline.h"
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

/* Sleepers wait on one condition that gw_stop broadcasts: an idle
 * gateway's retry and poll loops wake when their time is up or the
 * gateway stops, not every few milliseconds to look (hundreds of idle
 * tenants on a node add those wake-ups up). */
static pthread_mutex_t sleep_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cv;
static pthread_once_t sleep_once = PTHREAD_ONCE_INIT;

static void sleep_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC); /* not the wall clock */
	pthread_cond_init(&sleep_cv, &a);
	pthread_condattr_destroy(&a);
}

void gw_sleep_ms(struct gw *g, long ms)
{
	if (ms <= 0)
		return;
	pthread_once(&sleep_once, sleep_init);
	struct timespec until = claw_deadline_ms(CLOCK_MONOTONIC, ms);
	pthread_mutex_lock(&sleep_mu);
	while (!atomic_load(&g->stopping) &&
	       pthread_cond_timedwait(&sleep_cv, &sleep_mu, &until) !=
		       ETIMEDOUT)
		;
	pthread_mutex_unlock(&sleep_mu);
}

void gw_stop(struct gw *g)
{
	pthread_once(&sleep_once, sleep_init);
	pthread_mutex_lock(&sleep_mu);
	atomic_store(&g->stopping, true);
	pthread_cond_broadcast(&sleep_cv);
	pthread_mutex_unlock(&sleep_mu);
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
