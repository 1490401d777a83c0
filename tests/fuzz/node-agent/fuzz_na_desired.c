/*
 * fuzz_na_desired.c - the desired-state parser and the container bodies
 * built from whatever it accepts.
 */
#include <stddef.h>
#include <stdint.h>

#include "desired.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct na_desired d;
	char msg[256];
	if (na_desired_parse(&d, (const char *)data, size, msg, sizeof(msg)) ==
	    CLAW_OK) {
		struct na_spec_paths p = {"/c", "/s", "127.0.0.1", "h", "n"};
		for (size_t i = 0; i < d.n; i++)
			for (int r = 0; r < NA_ROLES; r++)
				json_decref(na_spec_container(
					&d.tenants[i], (enum na_role)r,
					d.tenants[i].role[r].image, &p));
	}
	na_desired_release(&d);
	return 0;
}
