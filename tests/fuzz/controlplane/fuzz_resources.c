/*
 * fuzz_resources.c - libFuzzer harness: the bodies of a tenant's resources
 * and of templates (controlplane/resources.h, templates.h) through the
 * same checks as the handlers, and what composition derives from an
 * accepted one. The first byte picks the kind (and, for a channel, its
 * kind); the rest is the JSON body. Any input must give a clean answer:
 * accepted, or refused with a field and a message; never a crash, a leak,
 * or a problem without a field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resources.h"
#include "templates.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const kinds[] = {
	"telegram",   "slack",  "discord", "whatsapp",   "webchat",
	"openai",     "line",   "twilio",  "mattermost", "teams",
	"googlechat", "feishu", "matrix",  "signal",     "icq"};

static void derived(enum cp_res_kind k, const json_t *body)
{
	json_t *refs = cp_res_secret_refs(k, body);
	json_t *eg = cp_res_egress_needs(k, body);

	if (!refs || !eg)
		abort();
	json_decref(refs);
	json_decref(eg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_res_problem p;
	json_t *body, *out = NULL;
	unsigned sel;
	int r;

	if (size < 1)
		return 0;
	sel = data[0];
	body = json_loadb((const char *)data + 1, size - 1, 0, NULL);
	if (!body)
		return 0;
	memset(&p, 0, sizeof(p));
	switch (sel % 6) {
	case 0:
		r = cp_channel_check(kinds[(sel / 6) % 15],
				     json_object_get(body, "settings"),
				     json_object_get(body, "credentials"), &p);
		break;
	case 1:
		r = cp_persona_check(body, &out, &p);
		break;
	case 2:
		r = cp_model_check(body, &p);
		break;
	case 3:
		r = cp_tools_check(body, &p);
		break;
	case 4:
		r = cp_policies_check(body, &p);
		break;
	default:
		r = cp_template_check(body, &out, &p);
		break;
	}
	if (r && !p.field[0])
		abort();
	if (!r && sel % 6 >= 2 && sel % 6 <= 3)
		derived(sel % 6 == 2 ? CP_RES_MODEL : CP_RES_TOOLS, body);
	json_decref(out);
	json_decref(body);
	return 0;
}
