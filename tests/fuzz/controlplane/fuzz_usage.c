/*
 * fuzz_usage.c - libFuzzer harness: a node agent's usage report body
 * (POST /v1/agent/usage) through the same parse and check as the handler
 * (claw_json_parse_object, cp_usage_parse). Any input must give a clean
 * answer: a batch whose every report has a tenant, an hour and counters in
 * range, or a problem with a code, a field and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usage_report.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_report(const struct cp_usage_report *r)
{
	if (!cp_slug_valid(r->tenant) || r->hour < 0 || r->hour % 3600 ||
	    r->n_providers > CP_USAGE_PROVIDERS_MAX)
		abort();
	for (int i = 0; i < CP_UC__N; i++)
		if (r->v[i] < 0 || r->v[i] > CP_USAGE_VALUE_MAX)
			abort();
	for (size_t k = 0; k < r->n_providers; k++)
		for (int i = 0; i < CP_UP__N; i++)
			if (r->providers[k].v[i] < 0 ||
			    r->providers[k].v[i] > CP_USAGE_VALUE_MAX ||
			    !r->providers[k].name[0])
				abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct claw_json_problem p = {0};
	struct cp_usage_batch b;
	json_t *obj = claw_json_parse_object((const char *)data, size, &p);
	char *s;
	long long t;

	if (obj) {
		if (cp_usage_parse(obj, &b, &p) == 0) {
			if (b.n > CP_USAGE_REPORTS_MAX)
				abort();
			for (size_t i = 0; i < b.n; i++)
				check_report(&b.reports[i]);
		} else if (b.reports || b.n || !p.message[0] ||
			   p.error >= CLAW_HE__COUNT) {
			abort();
		}
		cp_usage_batch_release(&b);
		json_decref(obj);
	}
	/* the same bytes as a time */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (cp_rfc3339_parse(s, &t) && t < 0)
		abort();
	free(s);
	return 0;
}
