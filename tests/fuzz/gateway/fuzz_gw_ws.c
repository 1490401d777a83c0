/* fuzz_gw_ws.c - the WebSocket message handlers: the Discord Gateway's and
 * Slack Socket Mode's on_text (and Discord's heartbeat tick) on arbitrary
 * frames, in sequence, so that state carried between messages (sequence
 * numbers, session ids, resume URLs, heartbeat intervals) is fuzzed too.
 *
 * Input: the first byte picks the handler (even: Discord, odd: Slack); the
 * rest is a sequence of text messages separated by 0x1e (the ASCII record
 * separator, never raw inside JSON). Each run gets a fresh handler state
 * and a detached socket (no connection: what a handler sends is queued,
 * then drained and checked to be JSON, and a close is only recorded).
 * Envelopes reach gw_ingest of a suspended tenant, which queues a notice
 * to a worker that drops it: nothing touches the disk or the network. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "claw/log.h"
#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gw g;

static void drop(struct gw_job *job, void *cls)
{
	(void)job;
	(void)cls;
}

static void setup(void)
{
	static const char conf[] =
		"{\"tenant\":\"fuzz\",\"suspended\":true,\"channels\":{"
		"\"discord\":{\"public_key\":\"0000000000000000000000000000000"
		"000000000000000000000000000000000\",\"application_id\":\"1\","
		"\"gateway\":true},\"slack\":{\"mode\":\"socket\","
		"\"bot_user_id\":\"UBOT\"}}}";
	char err[300];
	struct gw_conf *c = calloc(1, sizeof(*c));
	if (!c || sodium_init() < 0)
		abort();
	claw_log_init("fuzz", CLAW_LOG_ERROR, NULL);
	atomic_init(&c->refs, 1);
	c->root = json_loads(conf, 0, NULL);
	if (!c->root || gw_conf_check(c->root, c, err, sizeof(err)))
		abort();
	c->ch[GW_CH_DISCORD].s1.val = sodium_malloc(16);
	memcpy(c->ch[GW_CH_DISCORD].s1.val, "fuzz.token", 11);
	c->ch[GW_CH_DISCORD].s1.len = 10;
	pthread_mutex_init(&g.conf_mu, NULL);
	g.conf = c;
	if (gw_sched_start(1, drop, NULL, &g.sched))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		setup();
		ready = true;
	}
	if (!size)
		return 0;
	bool discord = !(data[0] & 1);
	const struct gw_ws_handler *h =
		discord ? &gw_discordgw_handler : &gw_slacksock_handler;
	void *state = discord ? gw_discordgw_new() : NULL;
	void *cls = discord ? state : (void *)&g;
	struct gw_ws *ws = gw_ws_detached_new(&g);
	if (!ws || (discord && !state)) {
		free(state);
		gw_ws_detached_free(ws);
		return 0;
	}
	if (discord)
		gw_discordgw_bind(state, &g);
	const char *p = (const char *)data + 1,
		   *end = (const char *)data + size;
	while (p <= end) {
		const char *sep = memchr(p, 0x1e, (size_t)(end - p));
		size_t n = (size_t)((sep ? sep : end) - p);
		h->on_text(ws, p, n, cls);
		if (h->on_tick)
			h->on_tick(ws, cls);
		char *out;
		while ((out = gw_ws_detached_take(ws))) {
			json_t *o = json_loads(out, 0, NULL);
			if (!o) /* a handler sent something that is not JSON */
				__builtin_trap();
			json_decref(o);
			free(out);
		}
		if (!sep)
			break;
		p = sep + 1;
	}
	gw_ws_detached_free(ws);
	free(state);
	return 0;
}
