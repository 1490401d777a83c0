/*
 * pg_embedded.c - runs a private PostgreSQL cluster under DATA_DIR.
 *
 * Layout: DATA_DIR/pg (the cluster, made by initdb into pg.init and renamed
 * when complete, so a failed initdb leaves nothing half made), DATA_DIR/
 * pg-run (the unix socket; listen_addresses is empty, so no TCP at all) and
 * DATA_DIR/pg.log (the server's output). Authentication is "trust" on the
 * socket, which only the cluster's owner can reach (pg-run is 0700).
 *
 * postgres runs as a direct child with PR_SET_PDEATHSIG = SIGINT: if the
 * daemon dies, even by SIGKILL, the postmaster does a fast shutdown (open
 * transactions roll back). The next start waits for such a postmaster to
 * finish, and removes a postmaster.pid whose process is gone or is no
 * postgres. Under root the cluster belongs to an unprivileged user (postgres
 * refuses to run as root); DATA_DIR then gets o+x so that user can reach
 * pg/ (the files in DATA_DIR stay 0600).
 */
#include "pg_embedded.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "claw/log.h"

#define PG_PORT "5432"
#define PG_SUPERUSER "claw"
#define PG_START_TIMEOUT_S 120
#define PG_STOP_TIMEOUT_S 60

struct cp_pg {
	pid_t pid; /* 0 once it exited */
};

struct pg_paths {
	char cluster[1024];
	char init[1024];
	char run[1024];
	char log[1024];
	char pidfile[1100];
	char version[1100];
};

struct pg_user {
	bool drop; /* we are root: switch to uid/gid */
	uid_t uid;
	gid_t gid;
	char name[64];
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int paths_init(struct pg_paths *p, const char *data_dir, char *errbuf,
		      size_t errlen)
{
	int n = snprintf(p->run, sizeof(p->run), "%s/pg-run", data_dir);

	/* the socket path ".s.PGSQL.5432" must fit in sun_path (108). */
	if (n < 0 || (size_t)n + sizeof("/.s.PGSQL." PG_PORT) > 107) {
		snprintf(errbuf, errlen,
			 "data-dir '%s' is too long for a unix socket path; "
			 "use a shorter one",
			 data_dir);
		return -1;
	}
	snprintf(p->cluster, sizeof(p->cluster), "%s/pg", data_dir);
	snprintf(p->init, sizeof(p->init), "%s/pg.init", data_dir);
	snprintf(p->log, sizeof(p->log), "%s/pg.log", data_dir);
	snprintf(p->pidfile, sizeof(p->pidfile), "%s/postmaster.pid",
		 p->cluster);
	snprintf(p->version, sizeof(p->version), "%s/PG_VERSION", p->cluster);
	return 0;
}

static int user_init(struct pg_user *u, const char *name, char *errbuf,
		     size_t errlen)
{
	struct passwd *pw;

	memset(u, 0, sizeof(*u));
	if (geteuid() != 0)
		return 0;
	pw = getpwnam(name);
	if (!pw || pw->pw_uid == 0) {
		snprintf(errbuf, errlen,
			 "running as root, the embedded PostgreSQL needs an "
			 "unprivileged user, and '%s' %s; create it (useradd "
			 "--system %s) or set --pg-user",
			 name, pw ? "is root" : "does not exist", name);
		return -1;
	}
	u->drop = true;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	snprintf(u->name, sizeof(u->name), "%s", name);
	return 0;
}

/* mkdir -m mode (existing is fine) and, under root, give it to u. */
static int make_dir(const char *path, mode_t mode, const struct pg_user *u,
		    char *errbuf, size_t errlen)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "unable to create '%s': %s", path,
			 strerror(errno));
		return -1;
	}
	if (chmod(path, mode) != 0 ||
	    (u->drop && chown(path, u->uid, u->gid) != 0)) {
		snprintf(errbuf, errlen, "unable to set up '%s': %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* In a child: become u (if needed), send output to logfd, exec argv. */
static void child_exec(const struct pg_user *u, int logfd, pid_t parent,
		       bool tie_to_parent, char *const argv[])
{
	if (dup2(logfd, STDOUT_FILENO) < 0 || dup2(logfd, STDERR_FILENO) < 0)
		_exit(126);
	if (u->drop &&
	    (setgroups(0, NULL) != 0 || setgid(u->gid) != 0 ||
	     setuid(u->uid) != 0)) {
		dprintf(STDERR_FILENO, "claw: unable to become user %s: %s\n",
			u->name, strerror(errno));
		_exit(126);
	}
	/* after setuid, which clears it */
	if (tie_to_parent &&
	    (prctl(PR_SET_PDEATHSIG, SIGINT) != 0 || getppid() != parent))
		_exit(126);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(argv[0], argv);
	dprintf(STDERR_FILENO, "claw: unable to run %s: %s\n", argv[0],
		strerror(errno));
	_exit(127);
}

static int open_log(const struct pg_paths *p, char *errbuf, size_t errlen)
{
	int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0)
		snprintf(errbuf, errlen, "unable to open '%s': %s", p->log,
			 strerror(errno));
	return fd;
}

static int run_initdb(const struct cp_config *cfg, const struct pg_paths *p,
		      const struct pg_user *u, char *errbuf, size_t errlen)
{
	char initdb[1100];
	char *argv[] = {initdb, "-D",         (char *)p->init,
			"-U",   PG_SUPERUSER, "--auth=trust",
			"-E",   "UTF8",       "--no-locale",
			NULL};
	int logfd, status;
	pid_t pid;

	snprintf(initdb, sizeof(initdb), "%s/initdb", cfg->pg_bin_dir);
	if (access(initdb, X_OK) != 0) {
		snprintf(errbuf, errlen,
			 "'%s' not found: install postgresql (apt-get install "
			 "postgresql) or set --pg-bin-dir",
			 initdb);
		return -1;
	}
	if (access(p->init, F_OK) == 0) {
		/* a previous initdb died half way: start again */
		char *rm[] = {"/bin/rm", "-rf", (char *)p->init, NULL};

		pid = fork();
		if (pid == 0) {
			execv(rm[0], rm);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0 || status != 0) {
			snprintf(errbuf, errlen, "unable to remove '%s'",
				 p->init);
			return -1;
		}
	}
	if (make_dir(p->init, 0700, u, errbuf, errlen))
		return -1;
	logfd = open_log(p, errbuf, errlen);
	if (logfd < 0)
		return -1;
	log_info("creating the embedded PostgreSQL cluster in %s", p->cluster);
	pid = fork();
	if (pid == 0)
		child_exec(u, logfd, getppid(), false, argv);
	close(logfd);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		snprintf(errbuf, errlen,
			 "initdb failed; see '%s' for its output%s%s%s", p->log,
			 u->drop ? " (under root, every directory above "
				   "data-dir must be searchable by user '"
				 : "",
			 u->drop ? u->name : "", u->drop ? "')" : "");
		return -1;
	}
	if (rename(p->init, p->cluster) != 0) {
		snprintf(errbuf, errlen, "unable to rename '%s' to '%s': %s",
			 p->init, p->cluster, strerror(errno));
		return -1;
	}
	return 0;
}

/* Is pid a live postgres process? */
static bool is_postgres(pid_t pid)
{
	char path[64], comm[64] = "";
	FILE *f;

	if (kill(pid, 0) != 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strncmp(comm, "postgres", 8) == 0;
}

/* Deal with what a crashed run left behind. */
static int clear_stale(const struct pg_paths *p, char *errbuf, size_t errlen)
{
	char line[32] = "";
	FILE *f = fopen(p->pidfile, "r");
	pid_t pid;

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	pid = (pid_t)strtol(line, NULL, 10);
	if (pid > 0 && is_postgres(pid)) {
		/* Our previous postmaster, shutting down after its parent
		 * died, or orphaned: let it finish, then make it. */
		log_warn("a postmaster (pid %d) of a previous run is still "
			 "up; stopping it",
			 (int)pid);
		for (int i = 0; i < PG_STOP_TIMEOUT_S * 10 && is_postgres(pid);
		     i++) {
			if (i == 50)
				kill(pid, SIGINT);
			sleep_ms(100);
		}
		if (is_postgres(pid)) {
			snprintf(errbuf, errlen,
				 "postgres (pid %d) of '%s' does not stop; "
				 "stop it and start again",
				 (int)pid, p->cluster);
			return -1;
		}
		return 0;
	}
	log_warn("removing stale %s (pid %d is gone)", p->pidfile, (int)pid);
	if (unlink(p->pidfile) != 0 && errno != ENOENT) {
		snprintf(errbuf, errlen, "unable to remove '%s': %s",
			 p->pidfile, strerror(errno));
		return -1;
	}
	return 0;
}

static int wait_ready(struct cp_pg *pg, const char *conninfo,
		      const struct pg_paths *p, char *errbuf, size_t errlen)
{
	for (int i = 0; i < PG_START_TIMEOUT_S * 20; i++) {
		int status;

		if (PQping(conninfo) == PQPING_OK)
			return 0;
		if (waitpid(pg->pid, &status, WNOHANG) == pg->pid) {
			pg->pid = 0;
			snprintf(errbuf, errlen,
				 "the embedded PostgreSQL exited during "
				 "start-up; see '%s'",
				 p->log);
			return -1;
		}
		sleep_ms(50);
	}
	snprintf(errbuf, errlen,
		 "the embedded PostgreSQL did not accept connections within "
		 "%d s; see '%s'",
		 PG_START_TIMEOUT_S, p->log);
	return -1;
}

int cp_pg_start(const struct cp_config *cfg, struct cp_pg **out, char *conninfo,
		size_t conninfo_len, char *errbuf, size_t errlen)
{
	struct pg_paths p;
	struct pg_user u;
	struct cp_pg *pg = NULL;
	char postgres[1100], sockdir[1100];
	char port[] = "port=" PG_PORT;
	char *argv[] = {postgres, "-D",    p.cluster, "-c", "listen_addresses=",
			"-c",     sockdir, "-c",      port, NULL};
	int logfd;

	*out = NULL;
	if (paths_init(&p, cfg->data_dir, errbuf, errlen) ||
	    user_init(&u, cfg->pg_user, errbuf, errlen))
		return -1;
	if (u.drop && chmod(cfg->data_dir, 0711) != 0) {
		snprintf(errbuf, errlen, "unable to chmod '%s': %s",
			 cfg->data_dir, strerror(errno));
		return -1;
	}
	if (access(p.version, F_OK) != 0 &&
	    run_initdb(cfg, &p, &u, errbuf, errlen))
		return -1;
	if (make_dir(p.run, 0700, &u, errbuf, errlen) ||
	    clear_stale(&p, errbuf, errlen))
		return -1;
	snprintf(postgres, sizeof(postgres), "%s/postgres", cfg->pg_bin_dir);
	snprintf(sockdir, sizeof(sockdir), "unix_socket_directories=%s", p.run);
	snprintf(conninfo, conninfo_len,
		 "host=%s port=" PG_PORT " user=" PG_SUPERUSER
		 " dbname=postgres",
		 p.run);
	logfd = open_log(&p, errbuf, errlen);
	if (logfd < 0)
		return -1;
	pg = calloc(1, sizeof(*pg));
	if (!pg) {
		close(logfd);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	pid_t self = getpid();
	pg->pid = fork();
	if (pg->pid == 0)
		child_exec(&u, logfd, self, true, argv);
	close(logfd);
	if (pg->pid < 0) {
		snprintf(errbuf, errlen, "unable to fork: %s", strerror(errno));
		free(pg);
		return -1;
	}
	if (wait_ready(pg, conninfo, &p, errbuf, errlen)) {
		cp_pg_stop(pg);
		return -1;
	}
	log_info("embedded PostgreSQL is up (pid %d, socket in %s)",
		 (int)pg->pid, p.run);
	*out = pg;
	return 0;
}

pid_t cp_pg_pid(const struct cp_pg *pg)
{
	return pg->pid;
}

void cp_pg_exited(struct cp_pg *pg)
{
	pg->pid = 0;
}

void cp_pg_stop(struct cp_pg *pg)
{
	int status;

	if (!pg)
		return;
	if (pg->pid > 0) {
		kill(pg->pid, SIGINT);
		for (int i = 0; i < PG_STOP_TIMEOUT_S * 20; i++) {
			if (waitpid(pg->pid, &status, WNOHANG) == pg->pid) {
				pg->pid = 0;
				break;
			}
			if (i == PG_STOP_TIMEOUT_S * 10)
				kill(pg->pid, SIGQUIT);
			sleep_ms(50);
		}
		if (pg->pid > 0) {
			kill(pg->pid, SIGKILL);
			waitpid(pg->pid, &status, 0);
		}
		log_info("embedded PostgreSQL stopped");
	}
	free(pg);
}
