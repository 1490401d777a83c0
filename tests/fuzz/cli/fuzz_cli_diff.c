/*
 * fuzz_cli_diff.c - libFuzzer harness of what clawctl reads from outside
 * for the resource commands: the persona diff (the current SOUL.md comes
 * from the control plane, the edited one from the user's editor) and the
 * typed KEY=VALUE settings of --set.
 *
 * Input: the old text, a NUL byte, the new text (no NUL: the input
 * against its own reverse). The diff must never crash or leak, must be
 * empty exactly when the texts are equal, and must then hold only lines
 * starting with "---", "+++", "@@", ' ', '-', '+' or '\'. The input (up to
 * its first NUL) is also one --set argument: cli_kv_set must either set
 * exactly one top-level key or refuse with a reason, leaving the object
 * empty.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lines(const char *d, size_t len)
{
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(d + i, '\n', len - i);

		if (!strchr(" -+@\\", d[i]))
			abort();
		if (!nl)
			abort(); /* every line of a diff ends */
		i = (size_t)(nl - d) + 1;
	}
}

static void fuzz_diff(const char *a, size_t alen, const char *b, size_t blen)
{
	struct claw_buf out;
	bool changed;

	claw_buf_init(&out, 0);
	if (cli_diff(&out, a, alen, b, blen, "a", "b", &changed) == 0) {
		bool differ = alen != blen || memcmp(a, b, alen);

		if (changed != differ || (!changed && out.len))
			abort();
		check_lines(out.data, out.len);
	}
	claw_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nul = memchr(in, '\0', size);
	char *kv, *rev;
	char err[256];
	json_t *o;

	if (size > 16384)
		return 0;
	if (nul) {
		fuzz_diff(in, (size_t)(nul - in), nul + 1,
			  size - (size_t)(nul - in) - 1);
	} else {
		rev = malloc(size ? size : 1);
		if (!rev)
			return 0;
		for (size_t i = 0; i < size; i++)
			rev[i] = in[size - 1 - i];
		fuzz_diff(in, size, rev, size);
		free(rev);
	}
	/* the first text as a string (not strndup: the input has no NUL
	 * after it, which ASan's strndup reads for) */
	size_t kn = nul ? (size_t)(nul - in) : size;

	kv = malloc(kn + 1);
	if (kv) {
		memcpy(kv, in, kn);
		kv[kn] = '\0';
	}
	o = json_object();
	if (kv && o) {
		int r = cli_kv_set(o, kv, err, sizeof(err));

		if ((r == 0 && json_object_size(o) != 1) ||
		    (r != 0 && (json_object_size(o) || !err[0])))
			abort();
	}
	json_decref(o);
	free(kv);
	return 0;
}
