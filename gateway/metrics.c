/*
 * metrics.c - the gateway's Prometheus counters: messages in and out by
 * channel, refusals by channel and reason, send retries, proxy decisions
 * (and why a CONNECT was refused), WebSocket channels that stopped
 * reconnecting, journal depth, writability and write errors, and a
 * histogram of reply latency (accepted -> answered). Lock-free: relaxed
 * atomics, rendered on GET /metrics.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "claw/buf.h"
#include "gw.h"

static const char *const refuse_names[GW_REF__COUNT] = {
	"suspended", "rate_limited",  "too_large",     "not_allowed",
	"pairing",   "not_mentioned", "bad_signature", "stale",
	"duplicate", "replayed",      "quota",         "backlog",
};

static const double buckets[] = {0.05, 0.1, 0.25, 0.5, 1,  2.5,
				 5,    10,  30,   60,  120};
#define NB (sizeof(buckets) / sizeof(buckets[0]))

static atomic_ulong m_in[GW_CH__COUNT], m_out[GW_CH__COUNT],
	m_retry[GW_CH__COUNT];
static atomic_ulong m_refused[GW_CH__COUNT][GW_REF__COUNT];
static atomic_ulong m_proxy[GW_PROXY__COUNT];
static atomic_ulong m_ws_stopped[GW_CH__COUNT], m_journal_errors;
static atomic_ulong m_lat_bucket[NB + 1], m_lat_count;
static atomic_size_t m_backlog_mem, m_backlog_file, m_backlog_mem_peak;
static _Atomic double m_lat_sum;

void gw_metrics_in(enum gw_channel c)
{
	atomic_fetch_add_explicit(&m_in[c], 1, memory_order_relaxed);
}

void gw_metrics_out(enum gw_channel c)
{
	atomic_fetch_add_explicit(&m_out[c], 1, memory_order_relaxed);
}

void gw_metrics_send_retry(enum gw_channel c)
{
	atomic_fetch_add_explicit(&m_retry[c], 1, memory_order_relaxed);
}

void gw_metrics_refused(enum gw_channel c, enum gw_refuse r)
{
	atomic_fetch_add_explicit(&m_refused[c][r], 1, memory_order_relaxed);
}

void gw_metrics_proxy(enum gw_proxy_decision d)
{
	atomic_fetch_add_explicit(&m_proxy[d], 1, memory_order_relaxed);
}

void gw_metrics_ws_stopped(enum gw_channel c)
{
	atomic_fetch_add_explicit(&m_ws_stopped[c], 1, memory_order_relaxed);
}

void gw_metrics_journal_error(void)
{
	atomic_fetch_add_explicit(&m_journal_errors, 1, memory_order_relaxed);
}

void gw_metrics_backlog(size_t in_memory, size_t in_file)
{
	atomic_store_explicit(&m_backlog_mem, in_memory, memory_order_relaxed);
	atomic_store_explicit(&m_backlog_file, in_file, memory_order_relaxed);
	size_t peak = atomic_load(&m_backlog_mem_peak);
	while (in_memory > peak &&
	       !atomic_compare_exchange_weak(&m_backlog_mem_peak, &peak,
					     in_memory))
		;
}

void gw_metrics_reply_latency(double s)
{
	size_t i = 0;
	while (i < NB && s > buckets[i])
		i++;
	atomic_fetch_add_explicit(&m_lat_bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m_lat_count, 1, memory_order_relaxed);
	double old = atomic_load(&m_lat_sum);
	while (!atomic_compare_exchange_weak(&m_lat_sum, &old, old + s))
		;
}

char *gw_metrics_render_new(size_t depth, bool journal_ok)
{
	struct claw_buf b;
	claw_buf_init(&b, 1 << 20);
	claw_buf_puts(&b,
		      "# HELP claw_gateway_messages_in_total inbound "
		      "messages accepted, by channel\n"
		      "# TYPE claw_gateway_messages_in_total counter\n");
	for (int c = 0; c < GW_CH__COUNT; c++)
		claw_buf_printf(
			&b,
			"claw_gateway_messages_in_total{channel=\"%s\"} "
			"%lu\n",
			gw_channel_name(c), atomic_load(&m_in[c]));
	claw_buf_puts(&b,
		      "# HELP claw_gateway_messages_out_total replies "
		      "delivered, by channel\n"
		      "# TYPE claw_gateway_messages_out_total counter\n");
	for (int c = 0; c < GW_CH__COUNT; c++)
		claw_buf_printf(
			&b,
			"claw_gateway_messages_out_total{channel=\"%s\"} "
			"%lu\n",
			gw_channel_name(c), atomic_load(&m_out[c]));
	claw_buf_puts(&b,
		      "# HELP claw_gateway_send_retries_total outbound "
		      "sends retried, by channel\n"
		      "# TYPE claw_gateway_send_retries_total counter\n");
	for (int c = 0; c < GW_CH__COUNT; c++)
		claw_buf_printf(
			&b,
			"claw_gateway_send_retries_total{channel=\"%s\"} "
			"%lu\n",
			gw_channel_name(c), atomic_load(&m_retry[c]));
	claw_buf_puts(&b,
		      "# HELP claw_gateway_refused_total inbound requests "
		      "refused or dropped, by channel and reason\n"
		      "# TYPE claw_gateway_refused_total counter\n");
	for (int c = 0; c < GW_CH__COUNT; c++)
		for (int r = 0; r < GW_REF__COUNT; r++)
			claw_buf_printf(
				&b,
				"claw_gateway_refused_total{channel=\"%s\","
				"reason=\"%s\"} %lu\n",
				gw_channel_name(c), refuse_names[r],
				atomic_load(&m_refused[c][r]));
	unsigned long not_listed = atomic_load(&m_proxy[GW_PROXY_NOT_LISTED]),
		      internal = atomic_load(&m_proxy[GW_PROXY_INTERNAL]);
	claw_buf_printf(
		&b,
		"# HELP claw_gateway_proxy_connections_total egress "
		"proxy CONNECT requests by decision\n"
		"# TYPE claw_gateway_proxy_connections_total counter\n"
		"claw_gateway_proxy_connections_total{decision=\"allowed\"} "
		"%lu\n"
		"claw_gateway_proxy_connections_total{decision=\"refused\"} "
		"%lu\n"
		"# HELP claw_gateway_proxy_refused_total egress proxy "
		"CONNECT requests refused, by reason\n"
		"# TYPE claw_gateway_proxy_refused_total counter\n"
		"claw_gateway_proxy_refused_total{reason=\"not_listed\"} "
		"%lu\n"
		"claw_gateway_proxy_refused_total{reason="
		"\"internal_address\"} %lu\n",
		atomic_load(&m_proxy[GW_PROXY_ALLOWED]), not_listed + internal,
		not_listed, internal);
	claw_buf_puts(&b,
		      "# HELP claw_gateway_websocket_stopped_total WebSocket "
		      "channels that stopped reconnecting (a non-resumable "
		      "close)\n"
		      "# TYPE claw_gateway_websocket_stopped_total counter\n");
	for (int c = 0; c < GW_CH__COUNT; c++)
		claw_buf_printf(
			&b,
			"claw_gateway_websocket_stopped_total{channel=\"%s\"} "
			"%lu\n",
			gw_channel_name(c), atomic_load(&m_ws_stopped[c]));
	claw_buf_printf(&b,
			"# HELP claw_gateway_journal_depth accepted messages "
			"not yet answered\n"
			"# TYPE claw_gateway_journal_depth gauge\n"
			"claw_gateway_journal_depth %zu\n"
			"# HELP claw_gateway_journal_writable 1 while the "
			"journal can be written\n"
			"# TYPE claw_gateway_journal_writable gauge\n"
			"claw_gateway_journal_writable %d\n"
			"# HELP claw_gateway_journal_write_errors_total "
			"journal writes or syncs that failed\n"
			"# TYPE claw_gateway_journal_write_errors_total "
			"counter\n"
			"claw_gateway_journal_write_errors_total %lu\n",
			depth, journal_ok ? 1 : 0,
			atomic_load(&m_journal_errors));
	claw_buf_printf(&b,
			"# HELP claw_gateway_backlog_messages unanswered "
			"messages by where their envelope is: queued in "
			"memory or only in the journal file\n"
			"# TYPE claw_gateway_backlog_messages gauge\n"
			"claw_gateway_backlog_messages{held=\"memory\"} %zu\n"
			"claw_gateway_backlog_messages{held=\"journal\"} %zu\n"
			"# HELP claw_gateway_backlog_memory_peak the most "
			"envelopes queued in memory at once since the start\n"
			"# TYPE claw_gateway_backlog_memory_peak gauge\n"
			"claw_gateway_backlog_memory_peak %zu\n",
			atomic_load(&m_backlog_mem),
			atomic_load(&m_backlog_file),
			atomic_load(&m_backlog_mem_peak));
	claw_buf_puts(&b,
		      "# HELP claw_gateway_reply_latency_seconds time "
		      "from acceptance to the reply sent\n"
		      "# TYPE claw_gateway_reply_latency_seconds histogram\n");
	unsigned long cum = 0;
	for (size_t i = 0; i < NB; i++) {
		cum += atomic_load(&m_lat_bucket[i]);
		claw_buf_printf(
			&b,
			"claw_gateway_reply_latency_seconds_bucket{le=\"%g\"} "
			"%lu\n",
			buckets[i], cum);
	}
	cum += atomic_load(&m_lat_bucket[NB]);
	claw_buf_printf(
		&b,
		"claw_gateway_reply_latency_seconds_bucket{le=\"+Inf\"} "
		"%lu\n"
		"claw_gateway_reply_latency_seconds_sum %g\n"
		"claw_gateway_reply_latency_seconds_count %lu\n",
		cum, atomic_load(&m_lat_sum), atomic_load(&m_lat_count));
	return claw_buf_steal(&b);
}
