/*
 * tool.c - running the node's programs; see tool.h.
 */
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The absolute path of a tool (the agent's PATH may be minimal). */
static const char *tool(const char *name, char *out, size_t outlen)
{
	static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin",
					   "/bin"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(out, outlen, "%s/%s", dirs[i], name);
		if (access(out, X_OK) == 0)
			return out;
	}
	return NULL;
}

int na_tool_run(char *const argv[], char *msg, size_t msglen)
{
	char path[256];
	int pipefd[2], null_fd, st = 0;
	sigset_t none;
	size_t got = 0;
	pid_t pid;
	if (!tool(argv[0], path, sizeof(path))) {
		snprintf(msg, msglen, "%s is not installed on this node",
			 argv[0]);
		return -1;
	}
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || pipe2(pipefd, O_CLOEXEC)) {
		snprintf(msg, msglen, "unable to run %s: %s", argv[0],
			 strerror(errno));
		if (null_fd >= 0)
			close(null_fd);
		return -1;
	}
	sigemptyset(&none);
	pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 ||
		    dup2(pipefd[1], 2) < 0)
			_exit(126);
		execv(path, argv);
		_exit(127);
	}
	close(pipefd[1]);
	close(null_fd);
	if (pid < 0) {
		close(pipefd[0]);
		snprintf(msg, msglen, "unable to run %s: %s", argv[0],
			 strerror(errno));
		return -1;
	}
	msg[0] = 0;
	for (;;) {
		char buf[256];
		ssize_t n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && got + 1 < msglen; i++)
			msg[got++] = buf[i] == '\n' ? ' ' : buf[i];
		msg[got] = 0;
	}
	close(pipefd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (!msg[0])
		snprintf(msg, msglen, "%s failed (status %d)", argv[0], st);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
