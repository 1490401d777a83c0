/*
 * fuzz_ckpt.c - the audit checkpoint parser (claw_ckpt_parse, and
 * claw_ckpt_read over a whole file): any bytes give a checkpoint or a clean
 * refusal with a reason. A parsed checkpoint formats back to a line that
 * parses to the same checkpoint (the format is canonical), and its
 * signature is judged without a crash against an empty and a one-key set.
 *
 * Input: a checkpoint file's bytes (lines; the first line also alone).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(const char *line, size_t len)
{
	struct claw_checkpoint c, again;
	struct claw_ckpt_keys none = {0}, one = {0};
	const char *why = NULL;
	char out[CLAW_CKPT_LINE_MAX];
	size_t n;

	if (claw_ckpt_parse(line, len, &c, &why) != CLAW_OK) {
		if (!why)
			abort(); /* every refusal says why */
		return;
	}
	n = claw_ckpt_format(&c, out, sizeof(out));
	if (n == 0 || out[n - 1] != '\n')
		abort();
	if (claw_ckpt_parse(out, n - 1, &again, &why) != CLAW_OK ||
	    strcmp(c.key_id, again.key_id) || strcmp(c.time, again.time) ||
	    strcmp(c.event, again.event) || c.last_id != again.last_id ||
	    c.rows != again.rows || strcmp(c.head, again.head) ||
	    memcmp(c.sig, again.sig, sizeof(c.sig)) != 0)
		abort(); /* the format is canonical */
	if (claw_ckpt_check_sig(&none, &c) != CLAW_CKPT_UNKNOWN_KEY)
		abort();
	claw_ckpt_keys_add_hex(&one,
			       "d75a980182b10ab7d54bfed3c964073a"
			       "0ee172f3daa62325af021a68f707511a");
	(void)claw_ckpt_check_sig(&one, &c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	struct claw_ckpt_entry *e = NULL;
	size_t n = 0;
	FILE *f;

	one_line((const char *)data,
		 nl ? (size_t)(nl - (const char *)data) : size);
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (claw_ckpt_read(f, 64, &e, &n) == CLAW_OK)
		for (size_t i = 0; i < n; i++)
			if (e[i].verdict != CLAW_CKPT_OK &&
			    e[i].verdict != CLAW_CKPT_MALFORMED)
				abort();
	free(e);
	fclose(f);
	return 0;
}
