/*
 * fuzz_na_lines.c - newline-delimited JSON from Docker: every line goes
 * through both the pull-progress checker and the /events parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "docker_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum claw_rc on_line(const char *line, size_t len, void *cls)
{
	struct na_progress *p = cls;
	struct na_event ev;
	if (strlen(line) > len)
		__builtin_trap();
	(void)na_progress_line(p, line, len);
	if (na_event_parse(&ev, line, len) == CLAW_OK &&
	    (ev.exit_code < -1 || ev.exit_code > 255))
		__builtin_trap();
	return CLAW_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct na_progress p;
	struct na_lines l;
	size_t step;
	if (size == 0)
		return 0;
	memset(&p, 0, sizeof(p));
	step = (size_t)(data[0] % 17) + 1;
	na_lines_init(&l, 4096, on_line, &p);
	for (size_t i = 1; i < size; i += step) {
		size_t n = size - i < step ? size - i : step;
		if (na_lines_feed(&l, (const char *)data + i, n))
			break;
	}
	(void)na_lines_finish(&l);
	na_lines_release(&l);
	return 0;
}
