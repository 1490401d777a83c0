/*
 * fuzz_na_apr.c - libFuzzer harness: a runtime's approvals audit feed
 * (GET /v1/approvals?after=N; the runtime is the tenant's container, so
 * untrusted) read by the node agent (na_apr_events). Any input must give
 * a clean answer: events of the scraped tenant only, each a request or a
 * decision, with a cursor never behind the one asked (or 0: from the
 * start); or NULL with an error message and the cursor unmoved.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "approval_audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const long long after = 7;
	long long next = -1;
	bool more;
	size_t skipped, i;
	char err[200] = "";
	json_t *feed = json_loadb((const char *)data, size, 0, NULL), *ev, *e;

	if (!feed)
		return 0;
	ev = na_apr_events("acme", feed, after, &next, &more, &skipped, err,
			   sizeof(err));
	if (!ev) {
		if (!err[0] || next != after)
			abort();
	} else {
		if (next != 0 && next < after)
			abort();
		json_array_foreach(ev, i, e) {
			const char *k =
				json_string_value(json_object_get(e, "event"));
			if (strcmp(json_string_value(
					   json_object_get(e, "tenant")),
				   "acme") ||
			    !k ||
			    (strcmp(k, "request") && strcmp(k, "decision")) ||
			    json_object_get(e, "arguments"))
				abort();
		}
	}
	json_decref(ev);
	json_decref(feed);
	return 0;
}
