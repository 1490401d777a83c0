/*
 * fuzz_na_desired.c - the desired-state parser, the container bodies
 * built from whatever it accepts, and the choice of registry credentials
 * for each of its images.
 */
#include <stddef.h>
#include <stdint.h>

#include "desired.h"
#include "registry.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct na_desired d;
	char msg[256];
	if (na_desired_parse(&d, (const char *)data, size, msg, sizeof(msg)) ==
	    CLAW_OK) {
		struct na_spec_paths p = {"/c",         "/s", "127.0.0.1",
					  "h",          "n",  2000000000,
					  "seccomp={}", "x",  "v"};
		for (size_t i = 0; i < d.n; i++)
			for (int r = 0; r < NA_ROLES; r++) {
				bool withheld;
				json_decref(na_spec_container(
					&d.tenants[i], (enum na_role)r,
					d.tenants[i].role[r].image, &p));
				na_image_auth_for(d.tenants[i].role[r].image,
						  d.tenants[i].registry_auth,
						  &withheld);
			}
	}
	na_desired_release(&d);
	return 0;
}
