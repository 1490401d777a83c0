/*
 * web.c - serves the dashboard: GET / is web/index.html and GET /ui/{file}
 * the other static files of web/ (app.js, style.css, favicon.svg). Public:
 * the files hold no data; the dashboard calls the API with the token the
 * operator pastes in, like any other client (docs/dashboard.md).
 *
 * Only the files named in the table below are served, so no path from a
 * request ever reaches the file system. They are read from the web/
 * directory the web-dir setting names (by default the source tree's, else
 * the installed copy), on each request (small files; edits show without a
 * restart). Every reply carries a strict
 * Content-Security-Policy: scripts and styles from this origin only, no
 * framing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "claw/buf.h"
#include "claw/file.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"

#define WEB_FILE_MAX (1u << 20)

static const struct web_file {
	const char *name;
	const char *type;
} web_files[] = {
	{"index.html", "text/html; charset=utf-8"},
	{"app.js", "text/javascript; charset=utf-8"},
	{"style.css", "text/css; charset=utf-8"},
	{"favicon.svg", "image/svg+xml"},
};

static void serve(struct claw_http_req *req, const struct cp_ctx *ctx,
		  const char *name)
{
	const struct web_file *wf = NULL;
	struct claw_buf b;
	char path[4096];

	for (size_t i = 0; i < sizeof(web_files) / sizeof(web_files[0]); i++)
		if (!strcmp(web_files[i].name, name))
			wf = &web_files[i];
	if (!wf) {
		cp_reply_error(req, CP_E_WEB_FILE_NOT_FOUND,
			       "the dashboard has no file '%s'; open / "
			       "for the dashboard",
			       name);
		return;
	}
	claw_buf_init(&b, WEB_FILE_MAX);
	path[0] = '\0';
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", ctx->cfg.web_dir,
			     wf->name) >= sizeof(path) ||
	    claw_file_read(path, &b)) {
		log_error("dashboard file %s unreadable (looked in %s)",
			  wf->name, path);
		cp_reply_error(req, CP_E_DASHBOARD_UNAVAILABLE,
			       "the dashboard's files are not "
			       "installed with this control plane; "
			       "use the API or clawctl");
		claw_buf_release(&b);
		return;
	}
	claw_http_add_header(req, "Content-Security-Policy",
			     "default-src 'none'; script-src 'self'; "
			     "style-src 'self'; img-src 'self'; "
			     "connect-src 'self'; frame-ancestors 'none'; "
			     "base-uri 'none'; form-action 'none'");
	claw_http_add_header(req, "X-Content-Type-Options", "nosniff");
	claw_http_add_header(req, "Referrer-Policy", "no-referrer");
	claw_http_add_header(req, "Cache-Control", "no-cache");
	claw_http_reply_raw(req, 200, wf->type, b.data ? b.data : "", b.len);
	claw_buf_release(&b);
}

static void web_index(struct claw_http_req *req, void *vctx)
{
	serve(req, vctx, "index.html");
}

static void web_file(struct claw_http_req *req, void *vctx)
{
	serve(req, vctx, claw_http_param(req, "file"));
}

const struct claw_route cp_routes_web[] = {
	{"GET", "/", web_index, "web.index"},
	{"GET", "/ui/{file}", web_file, "web.file"},
};
CP_ROUTES_COUNT(web);
