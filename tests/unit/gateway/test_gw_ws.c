/*
 * test_gw_ws.c - the WebSocket channels without a network: the reconnect
 * backoff (1 s doubling to 5 min, jittered, never outside those bounds),
 * a pull thread that ends when its round says retrying cannot help and
 * one that cannot start, Discord's close-code table, and the Discord
 * Gateway and Slack Socket Mode handlers driven through a detached socket
 * (what they send and how they ask to close: resumable closes never use
 * 1000).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "claw/log.h"
#include "gw.h"
#include "gw_testutil.h"

static void backoff_schedule(void **state)
{
	(void)state;
	static const uint32_t rnds[] = {0, 1, 499, 500, 77777, UINT32_MAX};
	long prev_low = 0;
	for (unsigned n = 0; n < 40; n++) {
		long low = 0, high = 0;
		for (size_t i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++) {
			long ms = gw_backoff_ms(n, rnds[i]);
			assert_true(ms >= GW_RECONNECT_MIN_MS);
			assert_true(ms <= GW_RECONNECT_MAX_MS);
			if (!low || ms < low)
				low = ms;
			if (ms > high)
				high = ms;
		}
		/* never shrinks; every attempt from the second is jittered */
		assert_true(low >= prev_low);
		if (n >= 1)
			assert_true(high > low);
		prev_low = low;
	}
	assert_int_equal(gw_backoff_ms(0, 0), 1000);
	assert_int_equal(gw_backoff_ms(0, UINT32_MAX), 1000);
	assert_int_equal(gw_backoff_ms(1, 0), 1000);
	assert_int_equal(gw_backoff_ms(4, 0), 8000);
	assert_int_equal(gw_backoff_ms(4, 8000), 16000);
	assert_int_equal(gw_backoff_ms(9, 0), 150000);
	assert_int_equal(gw_backoff_ms(30, 150000), 300000);
}

/* --------------------------------------------------------- pull threads */
static struct gw g;
static int rounds;

static bool stop_round(struct gw *gw, void *cls, long *wait_ms)
{
	(void)cls;
	if (++rounds > 1) {
		/* called again: the thread ignored GW_BG_STOP */
		gw_stop(gw);
		return false;
	}
	*wait_ms = GW_BG_STOP;
	return false;
}

static void thread_ends_on_stop(void **state)
{
	(void)state;
	struct gw_bg *b = NULL;
	rounds = 0;
	atomic_store(&g.stopping, false);
	assert_int_equal(gw_bg_start(&g, -1, stop_round, malloc(8), &b),
			 CLAW_OK);
	gw_bg_stop(b); /* joins: the thread ended by itself */
	assert_int_equal(rounds, 1);
}

static void thread_start_fails(void **state)
{
	(void)state;
	struct gw_bg *b = NULL;
	gw_thread_create = gw_test_fail_create;
	/* refused, and the state it was given is freed (LSan checks) */
	assert_int_equal(gw_bg_start(&g, -1, stop_round, malloc(8), &b),
			 CLAW_ERR_INTERNAL);
	assert_null(b);
	gw_thread_create = pthread_create;
}

/* ---------------------------------------------------------- discord */
static void discord_close_codes(void **state)
{
	(void)state;
	const char *why = NULL;
	static const int stop[] = {4004, 4010, 4011, 4012, 4013, 4014};
	for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++) {
		assert_int_equal(gw_discord_close_action(stop[i], &why),
				 GW_WS_STOP);
		assert_non_null(why);
	}
	assert_int_equal(gw_discord_close_action(4007, &why), GW_WS_IDENTIFY);
	assert_int_equal(gw_discord_close_action(4009, &why), GW_WS_IDENTIFY);
	static const int resume[] = {0,    1000, 1001, 1006, 4000, 4001,
				     4002, 4003, 4005, 4008, 4006, 4015};
	for (size_t i = 0; i < sizeof(resume) / sizeof(resume[0]); i++)
		assert_int_equal(gw_discord_close_action(resume[i], &why),
				 GW_WS_RESUME);
}

static void text(struct gw_ws *ws, const struct gw_ws_handler *h, void *cls,
		 const char *msg)
{
	h->on_text(ws, msg, strlen(msg), cls);
}

/* The next message the handler sent, parsed (NULL when none). */
static json_t *sent(struct gw_ws *ws)
{
	char *t = gw_ws_detached_take(ws);
	json_t *o = t ? json_loads(t, 0, NULL) : NULL;
	free(t);
	return o;
}

static void discord_handler(void **state)
{
	(void)state;
	const struct gw_ws_handler *h = &gw_discordgw_handler;
	void *d = gw_discordgw_new();
	gw_discordgw_bind(d, &g);
	struct gw_ws *ws = gw_ws_detached_new(&g);
	/* Hello: identify with the token and the intents */
	text(ws, h, d, "{\"op\":10,\"d\":{\"heartbeat_interval\":41250}}");
	json_t *o = sent(ws);
	assert_int_equal(json_integer_value(json_object_get(o, "op")), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(o, "d"), "token")),
			    "bot-token");
	json_decref(o);
	/* a heartbeat asked for: sent at once with the last sequence */
	text(ws, h, d, "{\"op\":0,\"s\":7,\"t\":\"RESUMED\",\"d\":{}}");
	text(ws, h, d, "{\"op\":1,\"d\":null}");
	o = sent(ws);
	assert_int_equal(json_integer_value(json_object_get(o, "op")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "d")), 7);
	json_decref(o);
	assert_int_equal(gw_ws_close_requested(ws), 0);
	/* Reconnect: closed with a code that keeps the session resumable */
	text(ws, h, d, "{\"op\":7,\"d\":null}");
	assert_int_equal(gw_ws_close_requested(ws), 4000);
	gw_ws_detached_free(ws);
	/* Invalid Session, not resumable: a normal close */
	ws = gw_ws_detached_new(&g);
	text(ws, h, d, "{\"op\":9,\"d\":false}");
	assert_int_equal(gw_ws_close_requested(ws), 1000);
	gw_ws_detached_free(ws);
	/* garbage is logged and ignored */
	ws = gw_ws_detached_new(&g);
	text(ws, h, d, "not json");
	text(ws, h, d, "{\"op\":\"x\"}");
	assert_null(sent(ws));
	assert_int_equal(gw_ws_close_requested(ws), 0);
	gw_ws_detached_free(ws);
	free(d);
}

/* ------------------------------------------------------------ slack */
static void noop(struct gw_job *job, void *cls)
{
	(void)job;
	(void)cls;
}

static void slack_handler(void **state)
{
	(void)state;
	const struct gw_ws_handler *h = &gw_slacksock_handler;
	struct gw_ws *ws = gw_ws_detached_new(&g);
	text(ws, h, &g, "{\"type\":\"hello\",\"num_connections\":1}");
	assert_null(sent(ws));
	/* an envelope is acknowledged (here: a suspended tenant's notice
	 * is queued, nothing is journaled) */
	text(ws, h, &g,
	     "{\"envelope_id\":\"e1\",\"type\":\"events_api\",\"payload\":"
	     "{\"type\":\"event_callback\",\"team_id\":\"T1\",\"event\":"
	     "{\"type\":\"message\",\"channel\":\"D1\",\"user\":\"U1\","
	     "\"text\":\"hi\",\"ts\":\"1.2\",\"channel_type\":\"im\"}}}");
	json_t *o = sent(ws);
	assert_string_equal(
		json_string_value(json_object_get(o, "envelope_id")), "e1");
	json_decref(o);
	assert_int_equal(gw_ws_close_requested(ws), 0);
	text(ws, h, &g,
	     "{\"type\":\"disconnect\",\"reason\":\"refresh_requested\"}");
	assert_int_equal(gw_ws_close_requested(ws), 1000);
	gw_ws_detached_free(ws);
}

static int setup(void **state)
{
	(void)state;
	char err[300];
	struct gw_conf *c = calloc(1, sizeof(*c));
	atomic_init(&c->refs, 1);
	c->root =
		json_loads("{\"tenant\":\"t\",\"suspended\":true,\"channels\":{"
			   "\"discord\":{\"public_key\":\"" /* 64 hex */
			   "000000000000000000000000000000000000000000000000000"
			   "0000000000000"
			   "\",\"application_id\":\"1\",\"gateway\":true},"
			   "\"slack\":{\"mode\":\"socket\"}}}",
			   0, NULL);
	if (!c->root || gw_conf_check(c->root, c, err, sizeof(err)))
		return -1;
	c->ch[GW_CH_DISCORD].s1.val = sodium_malloc(16);
	memcpy(c->ch[GW_CH_DISCORD].s1.val, "bot-token", 10);
	c->ch[GW_CH_DISCORD].s1.len = 9;
	pthread_mutex_init(&g.conf_mu, NULL);
	g.conf = c;
	return gw_sched_start(1, noop, NULL, &g.sched) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	gw_sched_stop(g.sched);
	gw_conf_put(g.conf);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff_schedule),
		cmocka_unit_test(thread_ends_on_stop),
		cmocka_unit_test(thread_start_fails),
		cmocka_unit_test(discord_close_codes),
		cmocka_unit_test(discord_handler),
		cmocka_unit_test(slack_handler),
	};
	if (sodium_init() < 0)
		return 1;
	claw_log_init("test", CLAW_LOG_ERROR, NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
