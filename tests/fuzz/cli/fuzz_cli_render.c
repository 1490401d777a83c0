/*
 * fuzz_cli_render.c - libFuzzer harness of clawctl's renderers: the input
 * is any JSON value (a reply of the control plane or a chunk of a chat
 * stream; non-JSON input goes to the chat chunk reader only). Whatever
 * arrives, YAML, wide and cut tables, the rollout line and table, top's
 * rows with every sort and the chat chunk reader must never crash or
 * leak, and the YAML text must hold no raw control character but the
 * newline (each one is escaped inside a quoted scalar).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../../unit/testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void yaml_clean(const json_t *v)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return;
	cli_print_yaml(f, v);
	fclose(f);
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)out[i] < 0x20 && out[i] != '\n') ||
		    out[i] == 0x7f)
			abort(); /* a control character left unescaped */
	free(out);
}

static void render(const json_t *v)
{
	static const struct cli_col cols[] = {{"ID", "id"}, {"X", "a.b"}};
	static const char *const sorts[] = {"turns", "tokens", "cpu", "mem"};
	struct cli_ctx ctx = {.prog = "clawctl"};
	char *out = NULL, *err = NULL, line[256];
	size_t olen = 0, elen = 0;
	json_t *rows;

	ctx.out = open_memstream(&out, &olen);
	ctx.err = open_memstream(&err, &elen);
	if (!ctx.out || !ctx.err)
		abort();
	for (int o = CLI_OUT_TABLE; o <= CLI_OUT_WIDE; o++) {
		ctx.output = (enum cli_output)o;
		cli_print_reply(&ctx, (json_t *)v, cols, 2);
		cli_rollout_print(&ctx, v);
	}
	cli_rollout_line(v, line, sizeof(line));
	rows = cli_top_rows(v, json_object_get(v, "res"));
	for (size_t i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
		cli_top_sort(rows, sorts[i]);
	json_decref(rows);
	fclose(ctx.out);
	fclose(ctx.err);
	free(out);
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = test_cstr(data, size);
	struct claw_buf reply;
	FILE *null;
	json_t *v;

	if (!text)
		return 0;
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	if (v) {
		yaml_clean(v);
		render(v);
		json_decref(v);
	}
	null = fopen("/dev/null", "w");
	if (null) {
		claw_buf_init(&reply, 1 << 20);
		cli_chat_chunk(null, null, text, &reply);
		claw_buf_release(&reply);
		fclose(null);
	}
	free(text);
	return 0;
}
