/*
 * httpc.c - outbound HTTP over libcurl; see httpc.h.
 *
 * Each thread keeps one easy handle and reuses it (curl_easy_reset keeps
 * its connection and DNS caches), so repeated calls to the same peer ride
 * one kept-alive connection. A call made while the thread's handle is busy
 * (from inside an on_data callback) gets a handle of its own.
 */
#include "claw/httpc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define HTTPC_DEFAULT_MAX (8u << 20)
#define HTTPC_MAX_HEADERS (64u << 10)

struct httpc_xfer {
	const struct claw_httpc_req *req;
	struct claw_httpc_resp *resp;
	bool too_large;
	bool aborted;
	bool cancelled;
	char refused[64]; /* an address public_only refused, or "" */
};

static pthread_key_t handle_key;
static pthread_once_t handle_once = PTHREAD_ONCE_INIT;
static __thread bool handle_busy;

static void handle_free(void *c)
{
	curl_easy_cleanup(c);
}

static void handle_key_create(void)
{
	pthread_key_create(&handle_key, handle_free);
}

/* The thread's handle, reset, or a new one when it is busy (*own set). */
static CURL *handle_take(bool *own)
{
	pthread_once(&handle_once, handle_key_create);
	*own = handle_busy;
	if (handle_busy)
		return curl_easy_init();
	CURL *c = pthread_getspecific(handle_key);
	if (c) {
		curl_easy_reset(c);
	} else {
		c = curl_easy_init();
		if (c && pthread_setspecific(handle_key, c) != 0) {
			*own = true;
			return c;
		}
	}
	handle_busy = c != NULL;
	return c;
}

static void handle_give(CURL *c, bool own)
{
	if (own)
		curl_easy_cleanup(c);
	else
		handle_busy = false;
}

enum claw_rc claw_httpc_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK
		? CLAW_OK
		: CLAW_ERR_INTERNAL;
}

void claw_httpc_global_cleanup(void)
{
	/* The calling (main) thread's handle: key destructors do not run for
	 * it. Other threads' handles went with their threads. */
	pthread_once(&handle_once, handle_key_create);
	CURL *c = pthread_getspecific(handle_key);
	if (c) {
		pthread_setspecific(handle_key, NULL);
		curl_easy_cleanup(c);
	}
	curl_global_cleanup();
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *cls)
{
	struct httpc_xfer *x = cls;
	size_t n = size * nmemb;
	if (x->req->on_data) {
		if (x->req->on_data(ptr, n, x->req->cls)) {
			x->aborted = true;
			return 0;
		}
		return n;
	}
	if (claw_buf_append(&x->resp->body, ptr, n)) {
		x->too_large = true;
		return 0;
	}
	return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *cls)
{
	struct httpc_xfer *x = cls;
	size_t n = size * nmemb;
	/* A new status line starts the headers of a new response (after a
	 * 100 Continue or a redirect): keep only the last one's. */
	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
		claw_buf_reset(&x->resp->headers);
	if (claw_buf_append(&x->resp->headers, ptr, n)) {
		x->too_large = true;
		return 0;
	}
	return n;
}

/* Whether a (network order) is an address no tenant-given URL may reach
 * (httpc.h, public_only); loopback ones unless allowed. */
static bool internal_v4(const unsigned char *a, bool loopback_ok)
{
	if (a[0] == 127)
		return !loopback_ok;
	return a[0] == 0 || a[0] == 10 ||
		(a[0] == 100 && (a[1] & 0xc0) == 64) ||
		(a[0] == 169 && a[1] == 254) ||
		(a[0] == 172 && (a[1] & 0xf0) == 16) ||
		(a[0] == 192 && a[1] == 168) ||
		(a[0] == 192 && a[1] == 0 && a[2] == 0) ||
		a[0] >= 224; /* multicast, reserved, broadcast */
}

static bool internal_addr(const struct sockaddr *sa, bool loopback_ok)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
						 0, 0, 0, 0, 0xff, 0xff};
	const unsigned char *a;

	if (sa->sa_family == AF_INET)
		return internal_v4(
			(const unsigned char *)&((const struct sockaddr_in *)sa)
				->sin_addr,
			loopback_ok);
	if (sa->sa_family != AF_INET6)
		return true;
	a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (!memcmp(a, mapped, sizeof(mapped)))
		return internal_v4(a + 12, loopback_ok);
	if (IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a))
		return !loopback_ok;
	return IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)a) ||
		(a[0] & 0xfe) == 0xfc ||                   /* fc00::/7 */
		(a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || /* fe80::/10 */
		a[0] == 0xff;                              /* multicast */
}

/* libcurl calls it at least once a second while a transfer lasts. */
static int on_progress(void *cls, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct httpc_xfer *x = cls;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (!atomic_load(x->req->cancel))
		return 0;
	x->cancelled = true;
	return 1;
}

static curl_socket_t open_socket(void *cls, curlsocktype purpose,
				 struct curl_sockaddr *addr)
{
	struct httpc_xfer *x = cls;

	(void)purpose;
	if (internal_addr(&addr->addr, x->req->allow_loopback)) {
		char text[INET6_ADDRSTRLEN] = "?";
		const void *in = addr->family == AF_INET
			? (const void *)&((struct sockaddr_in *)&addr->addr)
				  ->sin_addr
			: (const void *)&((struct sockaddr_in6 *)&addr->addr)
				  ->sin6_addr;

		inet_ntop(addr->family, in, text, sizeof(text));
		snprintf(x->refused, sizeof(x->refused), "%s", text);
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC,
		      addr->protocol);
}

enum claw_rc claw_httpc_do(const struct claw_httpc_req *req,
			   struct claw_httpc_resp *resp)
{
	struct httpc_xfer x = {.req = req, .resp = resp};
	struct curl_slist *hdrs = NULL;
	enum claw_rc rc = CLAW_OK;

	memset(resp, 0, sizeof(*resp));
	claw_buf_init(&resp->body,
		      req->max_response ? req->max_response
					: HTTPC_DEFAULT_MAX);
	claw_buf_init(&resp->headers, HTTPC_MAX_HEADERS);

	bool own;
	CURL *c = handle_take(&own);
	if (!c) {
		snprintf(resp->error, sizeof(resp->error),
			 "unable to start a transfer (out of memory)");
		return CLAW_ERR_NOMEM;
	}
	for (const char *const *h = req->headers; h && *h; h++) {
		struct curl_slist *n = curl_slist_append(hdrs, *h);
		if (!n) {
			rc = CLAW_ERR_NOMEM;
			goto out;
		}
		hdrs = n;
	}
	/* No "Expect: 100-continue" round trip on large bodies. */
	struct curl_slist *n = curl_slist_append(hdrs, "Expect:");
	if (!n) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	hdrs = n;

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_PROXY, req->proxy ? req->proxy : "");
	if (req->proxy)
		curl_easy_setopt(c, CURLOPT_HTTPPROXYTUNNEL, 1L);
	if (req->unix_socket)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	if (req->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
	if (req->public_only && !req->proxy && !req->unix_socket) {
		curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
		curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &x);
		/* every connection checked: none kept from another call */
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	}
	if (req->cancel) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 req->connect_timeout_ms ? req->connect_timeout_ms
						 : 10000L);
	if (req->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)req->body_len);
	}
	if (req->method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->method && strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);

	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (cc == CURLE_OK)
		goto out;
	if (x.too_large) {
		rc = CLAW_ERR_TOO_LARGE;
		snprintf(resp->error, sizeof(resp->error),
			 "the response is over its size limit");
	} else if (x.refused[0]) {
		rc = CLAW_ERR_IO;
		snprintf(resp->error, sizeof(resp->error),
			 "refused: the URL's host is the internal address %s",
			 x.refused);
	} else if (x.cancelled) {
		rc = CLAW_ERR_IO;
		snprintf(resp->error, sizeof(resp->error),
			 "cancelled: the caller is stopping");
	} else if (x.aborted) {
		rc = CLAW_ERR_IO;
		snprintf(resp->error, sizeof(resp->error),
			 "the transfer was stopped by its reader");
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = CLAW_ERR_TIMEOUT;
		snprintf(resp->error, sizeof(resp->error), "%s",
			 curl_easy_strerror(cc));
	} else {
		rc = CLAW_ERR_IO;
		snprintf(resp->error, sizeof(resp->error), "%s",
			 curl_easy_strerror(cc));
	}
out:
	if (rc == CLAW_ERR_NOMEM)
		snprintf(resp->error, sizeof(resp->error), "out of memory");
	/* The reused handle must not keep pointers into this call's data. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, NULL);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, NULL);
	curl_slist_free_all(hdrs);
	handle_give(c, own);
	return rc;
}

bool claw_httpc_resp_header(const struct claw_httpc_resp *resp,
			    const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = resp->headers.data;
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			const char *e = p + len;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' '))
				e--;
			snprintf(out, outlen, "%.*s", (int)(e - v), v);
			return true;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	return false;
}

void claw_httpc_resp_release(struct claw_httpc_resp *resp)
{
	claw_buf_release(&resp->body);
	claw_buf_release(&resp->headers);
}

/* "Start date:" / "Expire date:" of libcurl's certificate info, as its
 * OpenSSL backend writes them ("Dec  6 12:00:00 2026 GMT"), in seconds
 * since the epoch; -1 when absent or unreadable. */
static long long certinfo_date(const struct curl_slist *l, const char *key)
{
	size_t n = strlen(key);

	for (; l; l = l->next) {
		struct tm tm = {0};
		const char *end;

		if (strncmp(l->data, key, n))
			continue;
		end = strptime(l->data + n, "%b %d %H:%M:%S %Y", &tm);
		return end && !strcmp(end, " GMT") ? (long long)timegm(&tm)
						   : -1;
	}
	return -1;
}

enum claw_rc claw_httpc_cert_dates(const char *host, const char *addr,
				   unsigned port, long timeout_ms,
				   long long *not_before, long long *not_after,
				   char *err, size_t errlen)
{
	char url[300], pin[400];
	struct curl_slist *resolve = NULL;
	struct curl_certinfo *ci = NULL;
	enum claw_rc rc = CLAW_ERR_IO;
	CURLcode cc;
	/* its own handle: a connect-only transfer leaves its connection
	 * open until cleanup, which must not outlive this call */
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "https://%s:%u/", host, port);
	snprintf(pin, sizeof(pin), "%s:%u:%s", host, port, addr);
	if (!c || !(resolve = curl_slist_append(NULL, pin))) {
		snprintf(err, errlen, "out of memory");
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
	/* dates only, no data: see httpc.h */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "no TLS handshake with %s:%u for %s: %s",
			 addr, port, host, curl_easy_strerror(cc));
		rc = cc == CURLE_OPERATION_TIMEDOUT ? CLAW_ERR_TIMEOUT
						    : CLAW_ERR_IO;
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci ||
	    ci->num_of_certs < 1) {
		snprintf(err, errlen, "%s:%u sent no certificate for %s", addr,
			 port, host);
		goto out;
	}
	*not_before = certinfo_date(ci->certinfo[0], "Start date:");
	*not_after = certinfo_date(ci->certinfo[0], "Expire date:");
	if (*not_before < 0 || *not_after < 0) {
		snprintf(err, errlen,
			 "the certificate %s:%u sent for %s has no readable "
			 "validity dates",
			 addr, port, host);
		goto out;
	}
	rc = CLAW_OK;
out:
	curl_slist_free_all(resolve);
	curl_easy_cleanup(c);
	return rc;
}
