/*
 * fuzz_na_mux.c - Docker's multiplexed log framing, fed in chunks whose
 * sizes come from the input's first byte, and the time each frame starts
 * with (na_docker_time_ns).
 */
#include <stddef.h>
#include <stdint.h>

#include "docker.h"
#include "docker_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum claw_rc on_frame(int stream, const char *d, size_t len, void *cls)
{
	size_t *total = cls;
	if (stream < 0 || stream > 2 || (len && !d))
		__builtin_trap();
	/* a frame of `docker logs --timestamps` starts with Docker's time */
	if (na_docker_time_ns(d, len) < -1)
		__builtin_trap();
	*total += len;
	return CLAW_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct na_mux m;
	size_t total = 0, step;
	if (size == 0)
		return 0;
	step = (size_t)(data[0] % 13) + 1;
	na_mux_init(&m, on_frame, &total);
	for (size_t i = 1; i < size; i += step) {
		size_t n = size - i < step ? size - i : step;
		if (na_mux_feed(&m, (const char *)data + i, n))
			break;
	}
	if (total > size)
		__builtin_trap();
	(void)na_mux_clean_end(&m);
	return 0;
}
