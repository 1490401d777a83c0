/*
 * test_daemon.c - the daemon skeleton (claw/daemon.h) with real signals.
 *
 * The loop tests run in this process: a helper thread, started after
 * claw_daemon_init so it inherits the blocked mask, signals the process
 * (kill(getpid())) while the main thread sits in claw_daemon_run. The stop
 * tests end the process on purpose (_exit), so each runs in a forked
 * child; the parent checks the exit status and that it came promptly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "claw/daemon.h"

struct counts {
	atomic_int reloads, ticks, children;
	pid_t child;               /* the child the child callback reaps */
	int child_status;          /* its wait status */
	enum claw_rc reload_rc[2]; /* what the first two reloads return */
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to 5 s for *v to reach want. */
static int wait_count(atomic_int *v, int want)
{
	for (int i = 0; i < 5000 && atomic_load(v) < want; i++)
		sleep_ms(1);
	return atomic_load(v) >= want;
}

static enum claw_rc on_reload(void *cls)
{
	struct counts *c = cls;
	int n = atomic_fetch_add(&c->reloads, 1);
	return n < 2 ? c->reload_rc[n] : CLAW_OK;
}

static void on_tick(void *cls)
{
	struct counts *c = cls;
	if (atomic_fetch_add(&c->ticks, 1) + 1 == 3)
		claw_daemon_stop(CLAW_OK); /* from a callback */
}

static enum claw_rc on_child(void *cls)
{
	struct counts *c = cls;
	atomic_fetch_add(&c->children, 1);
	if (c->child > 0 &&
	    waitpid(c->child, &c->child_status, WNOHANG) == c->child)
		return CLAW_ERR_IO;
	return CLAW_OK;
}

/* SIGHUP twice (a reload that works, one that fails), then SIGTERM. */
static void *hup_hup_term(void *cls)
{
	struct counts *c = cls;
	kill(getpid(), SIGHUP);
	if (wait_count(&c->reloads, 1))
		kill(getpid(), SIGHUP);
	if (wait_count(&c->reloads, 2))
		kill(getpid(), SIGTERM);
	return NULL;
}

static void test_reload_then_term(void **state)
{
	(void)state;
	struct counts c = {.reload_rc = {CLAW_OK, CLAW_ERR_INVALID}};
	struct claw_daemon_config dc = {
		.reload = on_reload, .cls = &c, .stop_timeout_ms = 10000};
	pthread_t t;

	assert_int_equal(claw_daemon_init(&dc), CLAW_OK);
	assert_false(claw_daemon_ready());
	claw_daemon_set_ready(true);
	assert_true(claw_daemon_ready());
	assert_int_equal(pthread_create(&t, NULL, hup_hup_term, &c), 0);
	/* a failed reload keeps the loop running: only SIGTERM ends it */
	assert_int_equal(claw_daemon_run(), CLAW_OK);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&c.reloads), 2);
	assert_false(claw_daemon_ready()); /* cleared when the stop begins */
	claw_daemon_stopped();
}

static void test_tick(void **state)
{
	(void)state;
	struct counts c = {0};
	struct claw_daemon_config dc = {
		.tick = on_tick, .tick_ms = 10, .cls = &c};
	int64_t t0 = now_ms();

	assert_int_equal(claw_daemon_init(&dc), CLAW_OK);
	assert_int_equal(claw_daemon_run(), CLAW_OK);
	assert_int_equal(atomic_load(&c.ticks), 3);
	assert_true(now_ms() - t0 >= 25);
	claw_daemon_stopped();

	/* a tick needs a period, and a period a tick */
	dc.tick_ms = 0;
	assert_int_equal(claw_daemon_init(&dc), CLAW_ERR_INVALID);
	dc.tick = NULL;
	dc.tick_ms = 10;
	assert_int_equal(claw_daemon_init(&dc), CLAW_ERR_INVALID);
}

static void test_child_exit_stops(void **state)
{
	(void)state;
	struct counts c = {0};
	struct claw_daemon_config dc = {.child = on_child, .cls = &c};

	assert_int_equal(claw_daemon_init(&dc), CLAW_OK);
	c.child = fork();
	assert_true(c.child >= 0);
	if (c.child == 0)
		_exit(7);
	assert_int_equal(claw_daemon_run(), CLAW_ERR_IO);
	assert_true(atomic_load(&c.children) >= 1);
	assert_true(WIFEXITED(c.child_status));
	assert_int_equal(WEXITSTATUS(c.child_status), 7);
	claw_daemon_stopped();
}

static void *stop_later(void *unused)
{
	(void)unused;
	sleep_ms(20);
	claw_daemon_stop(CLAW_ERR_TIMEOUT);
	return NULL;
}

static void test_stop_from_thread(void **state)
{
	(void)state;
	struct claw_daemon_config dc = {0};
	pthread_t t;

	assert_int_equal(claw_daemon_init(&dc), CLAW_OK);
	assert_int_equal(pthread_create(&t, NULL, stop_later, NULL), 0);
	assert_int_equal(claw_daemon_run(), CLAW_ERR_TIMEOUT);
	pthread_join(t, NULL);
	claw_daemon_stopped();
}

enum stop_how {
	STOP_CLEAN,
	STOP_TOO_SLOW,
	STOP_SECOND_SIGNAL
};

/* A child that stops on SIGTERM, tells the parent on fd, then finishes
 * its stop steps (CLEAN) or hangs in them. */
static void stopping_child(enum stop_how how, int fd)
{
	struct claw_daemon_config dc = {
		.stop_timeout_ms = how == STOP_SECOND_SIGNAL ? 0 : 200};

	if (claw_daemon_init(&dc))
		_exit(10);
	kill(getpid(), SIGTERM);
	if (claw_daemon_run() != CLAW_OK)
		_exit(11);
	if (write(fd, "s", 1) != 1)
		_exit(12);
	if (how == STOP_CLEAN) {
		claw_daemon_stopped();
		sleep_ms(400); /* past the deadline: it must be off */
		_exit(0);
	}
	for (;;)
		sleep_ms(1000);
}

/* Exit status of a stopping child; *took: ms from its stop to its exit. */
static int run_child(enum stop_how how, int64_t *took)
{
	int p[2], status = -1;
	char b;
	pid_t pid;
	int64_t t0;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		stopping_child(how, p[1]);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &b, 1), 1);
	t0 = now_ms();
	if (how == STOP_SECOND_SIGNAL) {
		sleep_ms(300); /* no deadline: it would hang for ever */
		assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
		kill(pid, SIGTERM);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	*took = now_ms() - t0;
	close(p[0]);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_stop_deadline(void **state)
{
	(void)state;
	int64_t took;

	assert_int_equal(run_child(STOP_CLEAN, &took), 0);
	assert_true(took >= 350); /* the deadline did not cut it short */
	assert_int_equal(run_child(STOP_TOO_SLOW, &took), 1);
	assert_true(took < 3000);
	assert_int_equal(run_child(STOP_SECOND_SIGNAL, &took), 1);
	assert_true(took < 3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_then_term),
		cmocka_unit_test(test_tick),
		cmocka_unit_test(test_child_exit_stops),
		cmocka_unit_test(test_stop_from_thread),
		cmocka_unit_test(test_stop_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
