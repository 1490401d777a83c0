/*
 * bench_usage.c - the cost of the usage counting (runtime/usage.c) on the
 * turn's path, printed as figures (never asserted). One plain turn counts
 * a message in, the turn, one LLM request (rt_usage_add) and a message
 * out; the loop runs that with the counting and without it (the same loop
 * calling nothing), on 1 and on 2 threads sharing one counter set, and
 * prints the difference per turn. Also the cost of one GET /v1/usage
 * document (rt_usage_json). Built and run by bench_runtime.py:
 * bench_usage N
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "claw/crypto.h"
#include "claw/log.h"
#include "usage.h"

static struct rt_usage *U;
static long N;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* What the agent and the server count for one plain turn. */
static void *turns(void *counted)
{
	volatile long sink = 0;
	for (long i = 0; i < N; i++) {
		if (counted) {
			rt_usage_count(U, RT_USAGE_MESSAGES_IN, 1);
			rt_usage_turn(U);
			rt_usage_add(U, "main", 1200, 80, true);
			rt_usage_count(U, RT_USAGE_MESSAGES_OUT, 1);
		}
		sink = sink + i;
	}
	return NULL;
}

/* ns per turn of threads threads running turns(counted) at once. */
static double run(int threads, bool counted)
{
	pthread_t th[2];
	double t0 = now_ns();
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, turns, counted ? U : NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	return (now_ns() - t0) / (double)N;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/bench-usage-XXXXXX", path[300];
	N = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	if (N <= 0 || !mkdtemp(dir))
		return 2;
	claw_log_init("bench", CLAW_LOG_WARN, NULL);
	claw_crypto_init();
	snprintf(path, sizeof(path), "%s/usage.json", dir);
	if (rt_usage_open(path, "bench", &U))
		return 1;
	for (int threads = 1; threads <= 2; threads++) {
		double off = run(threads, false), on = run(threads, true);
		printf("usage counting: %.1f ns per turn on %d thread%s (%.1f "
		       "with, %.1f without; %ld turns a thread)\n",
		       on - off, threads, threads > 1 ? "s" : "", on, off, N);
	}
	long docs = N / 1000 + 1;
	double t0 = now_ns();
	for (long i = 0; i < docs; i++)
		json_decref(rt_usage_json(U));
	printf("GET /v1/usage document: %.0f ns to build\n",
	       (now_ns() - t0) / (double)docs);
	rt_usage_close(U);
	unlink(path);
	rmdir(dir);
	return 0;
}
