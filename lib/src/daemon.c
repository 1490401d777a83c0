/*
 * daemon.c - blocked signals waited for with sigwait; see daemon.h.
 */
#include "claw/daemon.h"

#include <pthread.h>
#include <signal.h>

static void daemon_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

void claw_daemon_block_signals(void)
{
	sigset_t set;
	daemon_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int claw_daemon_wait_signal(void)
{
	sigset_t set;
	int sig = 0;
	daemon_set(&set);
	while (sigwait(&set, &sig) != 0)
		;
	return sig;
}
