/*
 * health.c - probes' meaning, backoff and crash loops; see health.h.
 */
#include "health.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "claw/log.h"
#include "ops.h"

#define NA_PROBE_FAST_S 0.05
#define NA_PROBE_FAILS 3

long na_backoff_delay_ms(long backoff_ms, long max_ms, unsigned failures)
{
	if (failures <= 1)
		return 0;
	long d = backoff_ms;
	for (unsigned i = 2; i < failures && d < max_ms; i++)
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
	in->probe_fail = 0;
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
		struct na_op *op = in->id[0]
			? na_op_new(a, NA_OP_LOGTAIL, t->name, r)
			: NULL;
		if (op) {
			snprintf(op->id, sizeof(op->id), "%s", in->id);
			in->tail_pending = true;
			na_op_submit(a, op);
		}
	} else {
		log_info("tenant '%s' %s exited with code %d; restart in "
			 "%.1f s",
			 t->name, na_role_name(r), exit_code,
			 in->next_start - now);
	}
}

bool na_health_probed(struct na_agent *a, struct na_tenant *t, enum na_role r,
		      bool ok, double now)
{
	struct na_inst *in = &t->inst[r];
	bool dead = false;
	if (ok) {
		in->probe_fail = 0;
		if (!in->healthy) {
			in->healthy = true;
			in->healthy_since = now;
			log_info("tenant '%s' %s is healthy after %.2f s",
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
		dead = in->healthy ? in->probe_fail >= NA_PROBE_FAILS
				   : (now - in->started_at) * 1000 >=
				a->cfg.startup_grace_ms;
		if (in->probe_fail == 1 && in->healthy)
			log_warn("tenant '%s' %s failed a health probe",
				 t->name, na_role_name(r));
		if (dead) {
			log_warn("tenant '%s' %s is unhealthy; killing it for "
				 "a restart",
				 t->name, na_role_name(r));
			in->healthy = false;
		}
	}
	in->next_probe = now + na_probe_interval(&a->cfg, in, now);
	return dead;
}

double na_probe_interval(const struct na_config *cfg, const struct na_inst *in,
			 double now)
{
	if (!in->healthy)
		return NA_PROBE_FAST_S;
	/* Stable: healthy for a while and the last probe passed. A failed
	 * probe goes back to the base interval, so a hung container is
	 * killed within one stable interval plus two base ones. */
	if (!in->probe_fail &&
	    (now - in->healthy_since) * 1000 >= cfg->probe_stable_after_ms &&
	    cfg->probe_stable_interval_ms > cfg->probe_interval_ms)
		return cfg->probe_stable_interval_ms / 1000.0;
	return cfg->probe_interval_ms / 1000.0;
}
