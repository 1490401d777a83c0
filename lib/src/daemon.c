/*
 * daemon.c - the daemon skeleton; see daemon.h.
 *
 * The main thread takes the blocked signals with sigtimedwait, the timeout
 * being the next tick. SIGUSR1 is blocked too and reserved as a wake-up:
 * claw_daemon_stop sends it to the main thread (pthread_kill) when called
 * from another thread, and claw_daemon_stopped sends it to the watchdog;
 * one sent from outside only makes the loop look at its state again. Once
 * run has returned, the watchdog thread waits for SIGTERM/SIGINT until the
 * stop deadline and ends the process on either.
 */
#include "claw/daemon.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "claw/log.h"

#define WAKE_SIGNAL SIGUSR1

static struct claw_daemon_config daemon_cfg;
static bool daemon_inited;
static pthread_t main_thread;
static atomic_bool daemon_ready;
static atomic_int stop_rc = -1; /* -1: no stop asked for */

static pthread_t watchdog;
static bool watching;
static atomic_bool watch_done;
static int64_t stop_deadline; /* monotonic ms; 0: none */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One of set's signals, 0 when the monotonic time until passed first (0:
 * wait without end), -1 when interrupted. */
static int wait_signal(const sigset_t *set, int64_t until)
{
	int sig;

	if (until) {
		int64_t left = until - now_ms();
		struct timespec ts;

		if (left <= 0)
			return 0;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		sig = sigtimedwait(set, NULL, &ts);
	} else {
		sig = sigwaitinfo(set, NULL);
	}
	if (sig < 0)
		return errno == EAGAIN ? 0 : -1;
	return sig;
}

static void run_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, WAKE_SIGNAL);
	if (daemon_cfg.child)
		sigaddset(set, SIGCHLD);
}

/* The first stop asked for wins. */
static void ask_stop(enum claw_rc rc)
{
	int none = -1;

	atomic_compare_exchange_strong(&stop_rc, &none, (int)rc);
}

enum claw_rc claw_daemon_init(const struct claw_daemon_config *cfg)
{
	struct sigaction sa;
	sigset_t set;

	if (!cfg->tick != !cfg->tick_ms)
		return CLAW_ERR_INVALID;
	claw_daemon_stopped(); /* a previous run's watch, in tests */
	daemon_cfg = *cfg;
	main_thread = pthread_self();
	atomic_store(&stop_rc, -1);
	atomic_store(&daemon_ready, false);
	run_set(&set);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return CLAW_ERR_INTERNAL;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	/* a peer gone mid-write, or a file-size limit hit by a journal or log
	 * write, is an error the write returns, not a reason to die */
	if (sigaction(SIGPIPE, &sa, NULL) != 0 ||
	    sigaction(SIGXFSZ, &sa, NULL) != 0)
		return CLAW_ERR_INTERNAL;
	daemon_inited = true;
	return CLAW_OK;
}

static void on_signal(int sig)
{
	enum claw_rc rc;

	switch (sig) {
	case SIGHUP:
		if (!daemon_cfg.reload) {
			log_info("SIGHUP ignored: nothing to reload");
			break;
		}
		rc = daemon_cfg.reload(daemon_cfg.cls);
		if (rc)
			log_debug("reload failed (%s): the old config stays",
				  claw_strerror(rc));
		break;
	case SIGCHLD:
		rc = daemon_cfg.child(daemon_cfg.cls);
		if (rc)
			ask_stop(rc);
		break;
	case SIGTERM:
	case SIGINT:
		if (atomic_load(&stop_rc) < 0)
			log_info("stopping on signal %d", sig);
		ask_stop(CLAW_OK);
		break;
	default: /* the wake-up: the loop looks at stop_rc */
		break;
	}
}

static void *watch_main(void *unused)
{
	sigset_t set;

	(void)unused;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, WAKE_SIGNAL);
	for (;;) {
		int sig = wait_signal(&set, stop_deadline);

		if (atomic_load(&watch_done))
			return NULL;
		if (sig == SIGTERM || sig == SIGINT) {
			log_error("signal %d during the stop: exiting now",
				  sig);
			_exit(1);
		}
		if (sig == 0) {
			log_error("stop not done in %u ms: exiting now",
				  daemon_cfg.stop_timeout_ms);
			_exit(1);
		}
	}
}

static void watch_start(void)
{
	stop_deadline = 0;
	if (daemon_cfg.stop_timeout_ms)
		stop_deadline = now_ms() + daemon_cfg.stop_timeout_ms;
	atomic_store(&watch_done, false);
	if (pthread_create(&watchdog, NULL, watch_main, NULL) != 0) {
		log_warn("unable to start the stop watchdog: the stop has no "
			 "deadline");
		return;
	}
	watching = true;
}

enum claw_rc claw_daemon_run(void)
{
	int64_t next_tick = 0;
	sigset_t set;
	int rc;

	run_set(&set);
	if (daemon_cfg.tick_ms)
		next_tick = now_ms() + daemon_cfg.tick_ms;
	while ((rc = atomic_load(&stop_rc)) < 0) {
		int sig = wait_signal(&set, next_tick);

		if (sig > 0) {
			on_signal(sig);
		} else if (sig == 0) {
			int64_t now;

			daemon_cfg.tick(daemon_cfg.cls);
			now = now_ms();
			next_tick += daemon_cfg.tick_ms;
			if (next_tick <= now) /* a slow tick: no catching up */
				next_tick = now + daemon_cfg.tick_ms;
		}
	}
	atomic_store(&daemon_ready, false);
	watch_start();
	return (enum claw_rc)rc;
}

void claw_daemon_stop(enum claw_rc rc)
{
	ask_stop(rc);
	if (daemon_inited && !pthread_equal(pthread_self(), main_thread))
		pthread_kill(main_thread, WAKE_SIGNAL);
}

void claw_daemon_stopped(void)
{
	if (!watching)
		return;
	atomic_store(&watch_done, true);
	pthread_kill(watchdog, WAKE_SIGNAL);
	pthread_join(watchdog, NULL);
	watching = false;
}

void claw_daemon_set_ready(bool ready)
{
	atomic_store(&daemon_ready, ready);
}

bool claw_daemon_ready(void)
{
	return atomic_load(&daemon_ready);
}
