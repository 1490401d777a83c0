/*
 * mcp_stdio.c - the MCP stdio transport: the server runs as a child with
 * only its configured environment; we write newline-delimited JSON-RPC to
 * its stdin, and one reader thread takes its stdout (messages) and stderr
 * (copied to our log) with poll(). End of stdout means the server died:
 * pending requests fail and the next use restarts it (mcp.c backoff).
 */
#include "mcp_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "claw/log.h"

#define STDERR_LINE_MAX 2000
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* Find the program: as given when it holds a '/', else on the PATH of
 * the child's environment. CLAW_ERR_NOT_FOUND when it is not there or not
 * executable. */
static enum claw_rc find_program(const char *prog, char **env, char *out,
				 size_t n)
{
	if (strchr(prog, '/')) {
		snprintf(out, n, "%s", prog);
		return access(out, X_OK) == 0 ? CLAW_OK : CLAW_ERR_NOT_FOUND;
	}
	const char *path = DEFAULT_PATH;
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], "PATH=", 5) == 0)
			path = env[i] + 5;
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		snprintf(out, n, "%.*s/%s", (int)len, path, prog);
		if (len && access(out, X_OK) == 0)
			return CLAW_OK;
		path += len + (colon ? 1 : 0);
	}
	return CLAW_ERR_NOT_FOUND;
}

/* Split buf into lines: stdout lines are dispatched as messages, stderr
 * lines logged; the unfinished rest stays in buf. */
static void take_lines(struct rt_mcp *m, struct claw_buf *buf, bool is_err)
{
	char *nl;
	while (buf->len && (nl = memchr(buf->data, '\n', buf->len))) {
		size_t len = (size_t)(nl - buf->data);
		size_t l = len;
		if (l && buf->data[l - 1] == '\r')
			l--;
		if (is_err)
			log_info("mcp %s stderr: %.*s", m->cfg->name,
				 (int)(l < STDERR_LINE_MAX ? l
							   : STDERR_LINE_MAX),
				 buf->data);
		else if (l)
			mcp_dispatch(m, buf->data, l, 0);
		claw_buf_consume(buf, len + 1);
	}
}

static void *reader_main(void *arg)
{
	struct rt_mcp *m = arg;
	struct claw_buf out, err;
	char chunk[65536];
	const char *why = "the server closed its output (it exited)";
	claw_buf_init(&out, MCP_MAX_MESSAGE);
	claw_buf_init(&err, 64u << 10);
	struct pollfd fds[2] = {{m->out_fd, POLLIN, 0}, {m->err_fd, POLLIN, 0}};
	while (fds[0].fd >= 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			why = "poll failed";
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 ||
			    !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fds[i].fd = -1;
				continue;
			}
			struct claw_buf *b = i ? &err : &out;
			if (claw_buf_append(b, chunk, (size_t)n)) {
				if (i) { /* an endless stderr line: flush it */
					claw_buf_puts(b, "\n");
					claw_buf_reset(b);
					continue;
				}
				why = "the server sent a message over 16 MiB";
				fds[0].fd = -1;
				break;
			}
			take_lines(m, b, i == 1);
		}
	}
	claw_buf_release(&out);
	claw_buf_release(&err);
	mcp_transport_failed(m, why);
	return NULL;
}

enum claw_rc mcp_stdio_connect(struct rt_mcp *m, char *err, size_t errlen)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
	char prog[4096];
	char *const *env = m->cfg->env;
	if (find_program(m->cfg->argv[0], m->cfg->env, prog, sizeof(prog))) {
		snprintf(err, errlen,
			 "the command '%.200s' is not found or not "
			 "executable",
			 m->cfg->argv[0]);
		return CLAW_ERR_NOT_FOUND;
	}
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) ||
	    pipe2(er, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(er[1], 2);
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		char *empty[] = {NULL};
		execve(prog, m->cfg->argv, env ? env : empty);
		dprintf(2, "exec %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(er[1]);
	m->pid = pid;
	m->in_fd = in[1];
	m->out_fd = out[0];
	m->err_fd = er[0];
	pthread_mutex_lock(&m->mu);
	m->dead = false;
	pthread_mutex_unlock(&m->mu);
	if (pthread_create(&m->reader, NULL, reader_main, m) != 0) {
		snprintf(err, errlen, "unable to start the reader thread");
		mcp_stdio_disconnect(m);
		return CLAW_ERR_IO;
	}
	m->reader_started = true;
	log_info("mcp %s: started '%s' (pid %d)", m->cfg->name, prog, (int)pid);
	return CLAW_OK;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (er[i] >= 0)
			close(er[i]);
	}
	return CLAW_ERR_IO;
}

enum claw_rc mcp_stdio_send(struct rt_mcp *m, const char *msg, size_t len,
			    char *err, size_t errlen)
{
	enum claw_rc rc = CLAW_OK;
	pthread_mutex_lock(&m->write_mu);
	struct iovec_part {
		const char *p;
		size_t n;
	} parts[2] = {{msg, len}, {"\n", 1}};
	for (int i = 0; i < 2 && !rc; i++) {
		size_t off = 0;
		while (off < parts[i].n) {
			ssize_t w = m->in_fd >= 0
				? write(m->in_fd, parts[i].p + off,
					parts[i].n - off)
				: -1;
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				snprintf(err, errlen,
					 "unable to write to the "
					 "server: %s",
					 m->in_fd >= 0 ? strerror(errno)
						       : "not running");
				rc = CLAW_ERR_IO;
				break;
			}
			off += (size_t)w;
		}
	}
	pthread_mutex_unlock(&m->write_mu);
	return rc;
}

/* Wait up to ms for the child; true when it was reaped. */
static bool reap(pid_t pid, int ms, int *status)
{
	for (int waited = 0; waited <= ms; waited += 20) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return false;
}

void mcp_stdio_disconnect(struct rt_mcp *m)
{
	int status = 0;
	pthread_mutex_lock(&m->write_mu);
	if (m->in_fd >= 0)
		close(m->in_fd); /* the polite way to ask it to exit */
	m->in_fd = -1;
	pthread_mutex_unlock(&m->write_mu);
	if (m->pid > 0) {
		if (!reap(m->pid, 1000, &status)) {
			kill(-m->pid, SIGTERM);
			kill(m->pid, SIGTERM);
			if (!reap(m->pid, 2000, &status)) {
				kill(-m->pid, SIGKILL);
				kill(m->pid, SIGKILL);
				reap(m->pid, 5000, &status);
			}
		}
		log_info("mcp %s: server pid %d stopped (status %d)",
			 m->cfg->name, (int)m->pid, status);
		m->pid = -1;
	}
	if (m->reader_started) {
		pthread_join(m->reader, NULL);
		m->reader_started = false;
	}
	if (m->out_fd >= 0)
		close(m->out_fd);
	if (m->err_fd >= 0)
		close(m->err_fd);
	m->out_fd = m->err_fd = -1;
}
