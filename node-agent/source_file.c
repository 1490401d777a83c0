/*
 * source_file.c - standalone mode: the desired state comes from a JSON
 * file (--desired-file), read again whenever its modification time or size
 * changes. A file that fails its checks is refused with a message (which
 * never quotes a secret) and the previous state stays in force.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "claw/buf.h"
#include "claw/file.h"
#include "claw/log.h"

#define NA_DESIRED_FILE_MAX (16u << 20)

/* Why claw_file_read failed, for the log (errno says it for an I/O error). */
static const char *read_error(enum claw_rc rc)
{
	if (rc == CLAW_ERR_IO)
		return strerror(errno);
	if (rc == CLAW_ERR_INVALID)
		return "not a regular file";
	return claw_strerror(rc);
}

void *na_source_file_main(void *agent)
{
	struct na_agent *a = agent;
	struct timespec seen = {0};
	off_t seen_size = -1;
	for (;;) {
		struct stat st;
		pthread_mutex_lock(&a->mu);
		bool stop = a->stop;
		pthread_mutex_unlock(&a->mu);
		if (stop)
			break;
		if (stat(a->cfg.desired_file, &st) == 0 &&
		    (st.st_mtim.tv_sec != seen.tv_sec ||
		     st.st_mtim.tv_nsec != seen.tv_nsec ||
		     st.st_size != seen_size)) {
			struct claw_buf text;
			enum claw_rc rc;
			char msg[512];
			struct na_desired *d = calloc(1, sizeof(*d));
			seen = st.st_mtim;
			seen_size = st.st_size;
			claw_buf_init(&text, NA_DESIRED_FILE_MAX);
			if (!d) {
				log_error("out of memory");
			} else if ((rc = claw_file_read(a->cfg.desired_file,
							&text))) {
				log_error("unable to read '%s': %s",
					  a->cfg.desired_file, read_error(rc));
			} else if (na_desired_parse(d, text.data, text.len, msg,
						    sizeof(msg))) {
				log_error("desired state in '%s' refused: %s",
					  a->cfg.desired_file, msg);
			} else {
				log_info("desired state: generation %lld, %zu "
					 "tenants",
					 (long long)d->generation, d->n);
				na_agent_set_desired(a, d);
				d = NULL;
			}
			if (d) {
				na_desired_release(d);
				free(d);
			}
			if (text.data) /* it holds secret values */
				sodium_memzero(text.data, text.cap);
			claw_buf_release(&text);
		}
		usleep(100 * 1000);
	}
	return NULL;
}
