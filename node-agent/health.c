/*
 * health.c - probes, backoff and crash loops; see health.h.
 */
#include "health.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "claw/httpc.h"
#include "claw/log.h"
#include "instances.h"
#include "spec.h"

#define NA_PROBE_FAST_S 0.1
#define NA_PROBE_TIMEOUT_MS 1000L
#define NA_PROBE_FAILS 3

long na_backoff_delay_ms(long backoff_ms, long max_ms, unsigned failures)
{
	long d = backoff_ms;
	for (unsigned i = 1; i < failures && d < max_ms; i++)
		d *= 2;
	return d > max_ms ? max_ms : d;
}

void na_health_failed(struct na_agent *a, struct na_tenant *t, enum na_role r,
		      int exit_code, double now)
{
	struct na_inst *in = &t->inst[r];
	long ms;
	double jitter;

	in->running = false;
	in->healthy = false;
	in->last_exit = exit_code;
	in->failures++;
	in->restarts++;
	ms = na_backoff_delay_ms(a->cfg.backoff_ms, a->cfg.backoff_max_ms,
				 in->failures);
	/* +-10 %: tenants that fell together do not restart in lockstep. */
	jitter = 0.9 + 0.2 * (randombytes_uniform(10001) / 10000.0);
	in->next_start = now + ms * jitter / 1000.0;
	if (in->failures >= (unsigned)a->cfg.crash_loop_after) {
		if (!in->crash_loop)
			log_warn("tenant '%s' %s is crash looping: exit code "
				 "%d, %u failures, next start in %.1f s",
				 t->name, na_role_name(r), exit_code,
				 in->failures, in->next_start - now);
		in->crash_loop = true;
		if (in->id[0])
			na_inst_log_tail(&a->docker, in->id, 20, in->log_tail,
					 sizeof(in->log_tail));
	} else {
		log_info("tenant '%s' %s exited with code %d; restart in "
			 "%.1f s",
			 t->name, na_role_name(r), exit_code,
			 in->next_start - now);
	}
}

static bool probe_once(const struct na_inst *in, enum na_role r)
{
	char url[128];
	struct claw_httpc_resp resp;
	snprintf(url, sizeof(url), "http://%s:%u/healthz", in->ip,
		 na_role_port(r));
	struct claw_httpc_req req = {
		.url = url,
		.timeout_ms = NA_PROBE_TIMEOUT_MS,
		.connect_timeout_ms = NA_PROBE_TIMEOUT_MS,
		.max_response = 4096,
	};
	enum claw_rc rc = claw_httpc_do(&req, &resp);
	bool ok = rc == CLAW_OK && resp.status == 200;
	claw_httpc_resp_release(&resp);
	return ok;
}

double na_health_probe(struct na_agent *a, struct na_tenant *t, double now)
{
	double next = now + 3600;
	struct na_docker_err err;
	for (int r = 0; r < NA_ROLES; r++) {
		struct na_inst *in = &t->inst[r];
		if (!in->exists || !in->running || !in->ip[0])
			continue;
		if (in->next_probe > now) {
			next = in->next_probe < next ? in->next_probe : next;
			continue;
		}
		if (probe_once(in, (enum na_role)r)) {
			in->probe_fail = 0;
			if (!in->healthy) {
				in->healthy = true;
				in->healthy_since = now;
				log_info("tenant '%s' %s is healthy after "
					 "%.2f s",
					 t->name, na_role_name(r),
					 now - in->started_at);
			}
			if (in->failures &&
			    (now - in->healthy_since) * 1000 >=
				    a->cfg.healthy_reset_ms) {
				in->failures = 0;
				in->crash_loop = false;
				in->log_tail[0] = 0;
			}
		} else {
			in->probe_fail++;
			bool dead = in->healthy
					    ? in->probe_fail >= NA_PROBE_FAILS
					    : (now - in->started_at) * 1000 >=
						      a->cfg.startup_grace_ms;
			if (in->probe_fail == 1 && in->healthy)
				log_warn("tenant '%s' %s failed a health probe",
					 t->name, na_role_name(r));
			if (dead) {
				log_warn("tenant '%s' %s is unhealthy; killing "
					 "it for a restart",
					 t->name, na_role_name(r));
				in->healthy = false;
				/* Its die event brings the backoff. */
				na_inst_signal(a, in, "KILL", &err);
			}
		}
		in->next_probe = now + (in->healthy ? a->cfg.probe_interval_ms /
							      1000.0
						    : NA_PROBE_FAST_S);
		next = in->next_probe < next ? in->next_probe : next;
	}
	return next;
}
