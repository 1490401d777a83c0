/*
 * fuzz_cfg_file.c - config files through claw_cfg_load: any bytes give a
 * loaded table or an error message, never a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "claw/cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/claw-fuzz-cfg-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	char *name = NULL;
	long n = 0;
	bool flag = false;
	const struct claw_cfg_opt opts[] = {
		{"name", CLAW_CFG_STRING, &name, "x", 0, 0, "a name"},
		{"count", CLAW_CFG_INT, &n, "1", 0, 100, "a count"},
		{"flag", CLAW_CFG_BOOL, &flag, "false", 0, 0, "a flag"},
		{NULL, 0, NULL, NULL, 0, 0, NULL},
	};
	char arg[64];
	snprintf(arg, sizeof(arg), "--config=%s", path);
	char *argv[] = {"fuzz", arg, NULL};
	char err[256];
	enum claw_cfg_result r = claw_cfg_load(opts, "CLAWFUZZ", "fuzz", 2,
					       argv, err, sizeof(err));
	if (r == CLAW_CFG_OK && (n < 0 || n > 100 || !name))
		abort();
	claw_cfg_release(opts);
	unlink(path);
	return 0;
}
