/*
 * cli_cap.h - a clawctl context whose stdout and stderr go to memory, for
 * the clawctl unit tests: open it, run a command, flush (or close) it and
 * assert on out_buf/err_buf. Include after <cmocka.h> and "cli.h".
 */
#ifndef CLAW_TEST_CLI_CAP_H
#define CLAW_TEST_CLI_CAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cap {
	char *out_buf, *err_buf;
	size_t out_len, err_len;
	struct cli_ctx ctx;
};

static inline void cap_open(struct cap *c)
{
	memset(c, 0, sizeof(*c));
	c->ctx.prog = "clawctl";
	c->ctx.out = open_memstream(&c->out_buf, &c->out_len);
	c->ctx.err = open_memstream(&c->err_buf, &c->err_len);
	assert_non_null(c->ctx.out);
	assert_non_null(c->ctx.err);
}

static inline void cap_flush(struct cap *c)
{
	fflush(c->ctx.out);
	fflush(c->ctx.err);
}

static inline void cap_close(struct cap *c)
{
	fclose(c->ctx.out);
	fclose(c->ctx.err);
	free(c->out_buf);
	free(c->err_buf);
	cli_ctx_release(&c->ctx);
}

#endif
