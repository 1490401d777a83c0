/*
 * mcp_cli.c - "claw-runtime mcp list|call": connect to one server given on
 * the command line (--url URL or --command "PROG ARGS..."), print its tools
 * or call one tool, as JSON on stdout. Exit 0 on success, 1 when the
 * server failed, 2 on a usage error.
 *
 * The server's elicitations are answered as --elicit says: declined (the
 * default, as a tenant's "decline" setting), cancelled, or accepted with
 * --elicit-content (a JSON object, {} by default), which is completed
 * with the schema's defaults and checked like any user's answer. The
 * conformance test of tests/integration/runtime drives these commands.
 */
#include "mcp_cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "claw/file.h"
#include "claw/log.h"
#include "mcp.h"
#include "oauth.h"

extern char **environ;

static const char usage[] =
	"Usage:\n"
	"  claw-runtime mcp list (--url URL | --command \"PROG ARGS...\") "
	"[OPTIONS]\n"
	"  claw-runtime mcp call (--url URL | --command \"PROG ARGS...\") "
	"[OPTIONS] TOOL JSON\n\n"
	"Connect to one MCP server, print its tools or call TOOL with the "
	"JSON\n"
	"object of arguments, and print the result as JSON.\n\n"
	"Options:\n"
	"  --url URL            a Streamable HTTP endpoint\n"
	"  --command CMD        a stdio server: the program and its "
	"arguments,\n"
	"                       split at spaces; it gets this environment\n"
	"  --header 'K: V'      an HTTP header (repeatable)\n"
	"  --timeout-ms N       time-out of each request (default 30000)\n"
	"  --proxy URL          an HTTP CONNECT proxy for --url\n"
	"  --elicit ACTION      answer the server's elicitations: decline\n"
	"                       (default), cancel or accept\n"
	"  --elicit-content J   with accept: the answer, a JSON object\n"
	"                       (default {}; the schema's defaults fill in\n"
	"                       the rest)\n"
	"  --oauth-auto         (tests) on a 401, run the OAuth authorization\n"
	"                       code flow headless: the authorization\n"
	"                       server must redirect at once to the\n"
	"                       loopback redirect_uri\n"
	"  --oauth-client-id ID a pre-registered client (its secret, if\n"
	"                       any, in $CLAW_OAUTH_CLIENT_SECRET)\n"
	"  --oauth-client-metadata-url U  this client's metadata document\n"
	"                       (https), its id where the server supports\n"
	"                       client ID metadata documents\n"
	"  --oauth-grant-file F a stored grant (JSON, as in the tenant's\n"
	"                       secret: docs/runtime.md)\n"
	"  --oauth-allow-http-loopback  (tests) allow http OAuth endpoints\n"
	"                       on 127.0.0.1/localhost\n"
	"  --help               print this help\n";

struct cli {
	char *url, *command, *proxy, *elicit, *elicit_content;
	char *oauth_client_id, *oauth_grant_file, *oauth_metadata_url;
	bool oauth_auto, oauth_http_loopback;
	char *headers[33];
	int n_headers;
	long timeout_ms;
	const char *pos[3];
	int n_pos;
};

/* The options after the subcommand into c. CLAW_OK (*help set for
 * --help), or CLAW_ERR_INVALID after printing the usage to stderr. */
static enum claw_rc parse(int argc, char **argv, struct cli *c, bool *help)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = 30000;
	*help = false;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			*help = true;
			return CLAW_OK;
		}
		if (strncmp(a, "--", 2) != 0) {
			if (c->n_pos == 3)
				goto bad;
			c->pos[c->n_pos++] = a;
			continue;
		}
		if (!v)
			goto bad;
		if (strcmp(a, "--oauth-auto") == 0) {
			c->oauth_auto = true;
			continue;
		}
		if (strcmp(a, "--oauth-allow-http-loopback") == 0) {
			c->oauth_http_loopback = true;
			continue;
		}
		if (strcmp(a, "--oauth-client-id") == 0)
			c->oauth_client_id = argv[++i];
		else if (strcmp(a, "--oauth-client-metadata-url") == 0)
			c->oauth_metadata_url = argv[++i];
		else if (strcmp(a, "--oauth-grant-file") == 0)
			c->oauth_grant_file = argv[++i];
		else if (strcmp(a, "--url") == 0)
			c->url = argv[++i];
		else if (strcmp(a, "--command") == 0)
			c->command = argv[++i];
		else if (strcmp(a, "--proxy") == 0)
			c->proxy = argv[++i];
		else if (strcmp(a, "--elicit") == 0)
			c->elicit = argv[++i];
		else if (strcmp(a, "--elicit-content") == 0)
			c->elicit_content = argv[++i];
		else if (strcmp(a, "--header") == 0 && c->n_headers < 32)
			c->headers[c->n_headers++] = argv[++i];
		else if (strcmp(a, "--timeout-ms") == 0) {
			char *end;
			errno = 0;
			c->timeout_ms = strtol(argv[++i], &end, 10);
			if (errno || *end || c->timeout_ms < 100)
				goto bad;
		} else
			goto bad;
	}
	if (!c->url == !c->command)
		goto bad;
	if (c->elicit && strcmp(c->elicit, "decline") != 0 &&
	    strcmp(c->elicit, "cancel") != 0 &&
	    strcmp(c->elicit, "accept") != 0)
		goto bad;
	return CLAW_OK;
bad:
	fputs(usage, stderr);
	return CLAW_ERR_INVALID;
}

/* s split at spaces and tabs, in place: a NULL-terminated array of
 * pointers into s (caller frees the array), or NULL. */
static char **split(char *s)
{
	size_t n = 0;
	char *save = NULL;
	char **v = calloc(strlen(s) / 2 + 2, sizeof(char *));
	for (char *tok = v ? strtok_r(s, " \t", &save) : NULL; tok;
	     tok = strtok_r(NULL, " \t", &save))
		v[n++] = tok;
	return v;
}

struct cli_elicit {
	enum rt_elicit_action action;
	json_t *content; /* for accept */
};

/* The elicit callback: the same answer to every elicitation, said on
 * stderr. */
static enum rt_elicit_action cli_elicit(void *cls, void *call_ctx,
					const char *server, const char *message,
					json_t *schema, json_t **content)
{
	const struct cli_elicit *e = cls;
	(void)call_ctx;
	(void)schema;
	fprintf(stderr, "elicitation from %s: %s\n", server, message);
	*content = e->action == RT_ELICIT_ACCEPT ? json_deep_copy(e->content)
						 : NULL;
	return e->action;
}

static void print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2));
	if (s)
		puts(s);
	free(s);
}

int rt_mcp_cli(int argc, char **argv)
{
	struct cli c;
	char err[400] = "";
	bool help;
	int rc;
	if (parse(argc, argv, &c, &help))
		return 2;
	if (help) {
		fputs(usage, stdout);
		return 0;
	}
	const char *sub = argc > 1 ? argv[1] : "";
	bool is_list = strcmp(sub, "list") == 0;
	if ((!is_list && strcmp(sub, "call") != 0) || (is_list && c.n_pos) ||
	    (!is_list && c.n_pos != 2)) {
		fputs(usage, stderr);
		return 2;
	}
	json_t *args = NULL;
	struct cli_elicit ce = {RT_ELICIT_DECLINE, NULL};
	if (c.elicit && strcmp(c.elicit, "accept") == 0) {
		json_error_t jerr;
		ce.action = RT_ELICIT_ACCEPT;
		ce.content = json_loads(
			c.elicit_content ? c.elicit_content : "{}", 0, &jerr);
		if (!json_is_object(ce.content)) {
			fprintf(stderr,
				"--elicit-content must be a JSON "
				"object\n");
			json_decref(ce.content);
			return 2;
		}
	} else if (c.elicit && strcmp(c.elicit, "cancel") == 0) {
		ce.action = RT_ELICIT_CANCEL;
	}
	if (!is_list) {
		json_error_t jerr;
		args = json_loads(c.pos[1], 0, &jerr);
		if (!json_is_object(args)) {
			fprintf(stderr,
				"the arguments must be a JSON object: "
				"%s\n",
				args ? "not an object" : jerr.text);
			json_decref(args);
			json_decref(ce.content);
			return 2;
		}
	}
	char *cmd = c.command ? strdup(c.command) : NULL;
	struct rt_mcp_server_cfg sc = {
		.name = "cli",
		.argv = cmd ? split(cmd) : NULL,
		.env = environ,
		.url = c.url,
		.headers = c.headers,
		.timeout_ms = c.timeout_ms,
	};
	/* decline: no callback, as a tenant's "decline" setting */
	struct rt_mcp_net net = {
		c.proxy,
		NULL,
		ce.action == RT_ELICIT_DECLINE ? NULL : cli_elicit,
		&ce,
		c.timeout_ms,
		NULL};
	struct rt_mcp *m = NULL;
	struct rt_oauth_client *oc = NULL;
	char *grant = NULL;
	rc = 1;
	if (c.url &&
	    (c.oauth_auto || c.oauth_client_id || c.oauth_grant_file)) {
		size_t glen = 0;
		if (c.oauth_grant_file &&
		    claw_file_load(c.oauth_grant_file, 64u << 10, &grant, &glen,
				   err, sizeof(err))) {
			fprintf(stderr, "error: %s\n", err);
			goto out;
		}
		struct rt_oauth_settings os = {
			.allow_http_loopback = c.oauth_http_loopback,
			.auto_authorize = c.oauth_auto,
			.client_id = c.oauth_client_id,
			.client_secret = c.oauth_client_id
				? getenv("CLAW_OAUTH_CLIENT_"
					 "SECRET")
				: NULL,
			.grant_json = grant,
			.client_metadata_url = c.oauth_metadata_url,
			.proxy = c.proxy,
		};
		if (rt_oauth_client_new(&os, &oc, err, sizeof(err))) {
			fprintf(stderr, "error: %s\n", err);
			goto out;
		}
		net.oauth = oc;
	}
	if ((c.command && (!sc.argv || !sc.argv[0])) ||
	    rt_mcp_start(&sc, &net, &m, err, sizeof(err))) {
		fprintf(stderr, "error: %s\n", err[0] ? err : "bad command");
		goto out;
	}
	if (!rt_mcp_ready(m)) {
		fprintf(stderr, "error: %s\n", err);
		goto out;
	}
	if (is_list) {
		json_t *tools = rt_mcp_tools(m);
		print_json(tools);
		json_decref(tools);
		rc = 0;
	} else {
		json_t *res = NULL;
		if (rt_mcp_call_tool(m, c.pos[0], args, c.timeout_ms, &res, err,
				     sizeof(err))) {
			fprintf(stderr, "error: %s\n", err);
		} else {
			print_json(res);
			rc = json_is_true(json_object_get(res, "isError")) ? 1
									   : 0;
		}
		json_decref(res);
	}
out:
	rt_mcp_stop(m);
	rt_oauth_client_unref(oc);
	if (grant) {
		sodium_memzero(grant, strlen(grant));
		free(grant);
	}
	free(sc.argv);
	free(cmd);
	json_decref(args);
	json_decref(ce.content);
	return rc;
}
