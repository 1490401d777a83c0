/*
 * fuzz_approvals.c - libFuzzer harness: a node agent's approvals report
 * (POST /v1/agent/approvals) through the same parse and check as the
 * handler (claw_json_parse_object, cp_apr_parse). Any input must give a
 * clean answer: a batch whose every event has a tenant slug, an approval
 * id, a tool, a known kind and an action (a decision with its decider),
 * or a problem with a code, a field and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "approval_report.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_event(const struct cp_apr_event *e)
{
	const char *action = cp_apr_action(e);

	if (!cp_slug_valid(e->tenant) || !e->approval[0] || !e->tool[0] ||
	    e->at < 0 || e->expires < 0 || strncmp(action, "approval.", 9))
		abort();
	if (e->kind == CP_APR_REQUEST ? (e->decision[0] || e->decided_by[0])
				      : (!e->decision[0] || !e->decided_by[0]))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct claw_json_problem p = {0};
	struct cp_apr_batch b;
	json_t *obj = claw_json_parse_object((const char *)data, size, &p);

	if (!obj)
		return 0;
	if (cp_apr_parse(obj, &b, &p) == 0) {
		if (b.n > CP_APR_EVENTS_MAX)
			abort();
		for (size_t i = 0; i < b.n; i++)
			check_event(&b.events[i]);
	} else if (b.events || b.n || !p.message[0] ||
		   p.error >= CLAW_HE__COUNT) {
		abort();
	}
	cp_apr_batch_release(&b);
	json_decref(obj);
	return 0;
}
