/*
 * fuzz_json_unpack.c - request bodies through the JSON parser and a field
 * spec with every type: any input ends in a value or a clean problem.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claw/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct claw_json_problem p;
	const char *s = NULL;
	json_int_t i = 0;
	bool b = false;
	json_t *o = NULL, *a = NULL, *any = NULL;
	const struct claw_json_field fields[] = {
		{"slug", CLAW_JSON_STRING, true, &s, 63},
		{"n", CLAW_JSON_INT, false, &i, 0},
		{"b", CLAW_JSON_BOOL, false, &b, 0},
		{"o", CLAW_JSON_OBJECT, false, &o, 0},
		{"a", CLAW_JSON_ARRAY, false, &a, 0},
		{"x", CLAW_JSON_ANY, false, &any, 0},
		{NULL, 0, false, NULL, 0},
	};
	json_t *v = claw_json_parse_object((const char *)data, size, &p);
	if (!v) {
		if (p.error != CLAW_HE_BAD_JSON || !p.message[0])
			abort();
		return 0;
	}
	if (claw_json_unpack(v, fields, &p) == 0) {
		if (!s || strlen(s) > 63)
			abort();
	} else if (!p.message[0]) {
		abort();
	}
	json_decref(v);
	return 0;
}
