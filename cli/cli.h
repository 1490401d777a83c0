/*
 * cli.h - what the files of clawctl share: the invocation context, the
 * command tables, argument parsing, calls to the control plane's REST API,
 * output in table or JSON form, and the exit codes.
 *
 * clawctl is git-style: one table {name, fn, help} per level
 * (commands.c for the top, one table per command group file); a command's
 * function parses its own options with cli_args_parse and returns the exit
 * status of the process. Every message for the user goes to ctx->err,
 * lowercase, saying what failed and what to do; results go to ctx->out.
 */
#ifndef CLI_H
#define CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#include "claw/buf.h"
#include "claw/err.h"
#include "claw/urls.h"

/* ---- exit codes (documented in docs/clawctl.md) */
enum cli_exit {
	CLI_OK = 0,        /* success */
	CLI_EFAIL = 1,     /* the operation failed (deployment failed, audit
			      chain broken, a stream ended in error) */
	CLI_EUSAGE = 2,    /* bad command line */
	CLI_ECONNECT = 3,  /* the control plane could not be reached */
	CLI_EAUTH = 4,     /* 401/403: missing, wrong or too weak token */
	CLI_ENOTFOUND = 5, /* 404 */
	CLI_ECONFLICT = 6, /* 409: exists already, or changed meanwhile */
	CLI_EINVALID = 7,  /* 400/413/415/422: the request was refused */
	CLI_ESERVER = 8,   /* 5xx or a reply clawctl does not understand */
	CLI_ELOCAL = 9,    /* a local problem: a file, the terminal, memory */
	CLI_EWAIT = 10,    /* waited too long: still in progress */
};
/* Returned by cli_args_parse when --help was printed (exit 0). */
#define CLI_HELP_SHOWN (-1)

enum cli_output {
	CLI_OUT_TABLE = 0,
	CLI_OUT_JSON,
	CLI_OUT_YAML, /* the JSON reply as YAML (output.c) */
	CLI_OUT_WIDE  /* a table: every scalar field, no cell cut */
};

struct cli_describe; /* completion.c */
struct cli_spec;

/* ---- the invocation: global options, resolved once */
struct cli_ctx {
	const char *prog; /* "clawctl" */
	const char *url;  /* base URL as given, then resolved: the replica
			   * called now */
	char *url_alloc;  /* the resolved URL (list) without a trailing '/' */
	char *url_list;   /* --url given more than once: joined by commas */
	struct claw_urls *urls; /* the control plane's replicas, resolved
				 * (NULL: url only, as chat's endpoint) */
	bool resolved;          /* url and token resolved (at the first call) */
	char *token;            /* allocated; NULL when none was given */
	const char *token_file;
	const char *context; /* --context NAME, or NULL */
	enum cli_output output;
	bool output_set; /* --output was given (on any level) */
	long timeout_ms; /* each API call (not streams) */
	FILE *out, *err;
	/* the command path for messages and --help ("tenants create") */
	char cmd_path[96];
	/* set while completion walks the command tables: groups and
	 * commands record what they accept here and run nothing */
	struct cli_describe *describe;
};

/* ---- command tables */
struct cli_cmd {
	const char *name;
	int (*fn)(struct cli_ctx *ctx, int argc, char **argv);
	const char *help; /* one line */
};

/* Run the subcommand argv[0] of the group named group (argv[0] of the
 * group's own call was stripped by the caller). Prints the group's help on
 * --help, or when no subcommand is given (exit 2 then). */
int cli_dispatch(struct cli_ctx *ctx, const char *group,
		 const struct cli_cmd *cmds, size_t n, int argc, char **argv);

/* The top table of command groups (commands.c), n entries. */
const struct cli_cmd *cli_top_cmds(size_t *n);

/* ---- completion (completion.c) */
/* Record the options of spec (cli_args_parse in describe mode). */
void cli_describe_opts(struct cli_ctx *ctx, const struct cli_spec *spec);
/* Record the subcommands of a group and walk into each. */
void cli_describe_group(struct cli_ctx *ctx, const struct cli_cmd *cmds,
			size_t n);
/* Walk every table from the top: *words maps each command path ("",
 * "tenants", "tenants list") to the words that may follow it (space
 * separated), *valopts has a member for each option name taking a value
 * (new references, the caller releases). */
int cli_describe_all(struct cli_ctx *ctx, json_t **words, json_t **valopts);

/* The whole program (main.c only calls this); out/err are the streams. */
int cli_main(int argc, char **argv, FILE *out, FILE *err);

/* ---- arguments (args.c) */
struct cli_opt {
	const char *name; /* long name without "--" */
	const char *arg;  /* placeholder of its value ("NAME"); NULL: a flag */
	const char **value; /* out for options with a value (borrowed argv) */
	bool *flag;         /* out for flags */
	const char *help;
};

struct cli_spec {
	const char *usage; /* after the program name: "tenants get TENANT" */
	const char *help;  /* one paragraph */
	const struct cli_opt *opts; /* terminated by {NULL}; may be NULL */
	int min_pos, max_pos;       /* positional arguments accepted */
};

/* Parse argv (argv[0] is the command's own name) against spec and the
 * global options (--url, --token-file, --output/-o, --timeout, --help/-h),
 * which every command accepts anywhere. Positional arguments are stored in
 * pos[0..*npos) (pos holds max_pos entries). Returns CLI_OK,
 * CLI_HELP_SHOWN after printing help to ctx->out, or CLI_EUSAGE after
 * saying what is wrong on ctx->err. */
int cli_args_parse(struct cli_ctx *ctx, const struct cli_spec *spec, int argc,
		   char **argv, const char **pos, int *npos);
/* cli_args_parse as a command uses it: true when the command goes on;
 * false with *ex the exit status to return (CLI_OK after --help). */
bool cli_args_ok(struct cli_ctx *ctx, const struct cli_spec *spec, int argc,
		 char **argv, const char **pos, int *ex);
/* The end of a command's option table. */
#define CLI_OPT_END                                                            \
	{                                                                      \
		NULL, NULL, NULL, NULL, NULL                                   \
	}
/* Apply one global option; used by cli_args_parse and cli_main. Returns 1
 * when name is a global option (and consumed its value), 0 when it is not,
 * or -CLI_EUSAGE after printing what is wrong with the value. */
int cli_global_opt(struct cli_ctx *ctx, const char *name, const char *value);
/* Print the global options' help lines. */
void cli_global_help(FILE *f);
/* Print text wrapped at 79 columns, the first line starting at column col
 * (already written), the others indented by indent spaces. */
void cli_wrap(FILE *f, int indent, int col, const char *text);

/* Parse a positive integer option value; CLI_EUSAGE with a message when
 * it is not one within 1..max. */
int cli_parse_count(struct cli_ctx *ctx, const char *opt, const char *s,
		    long max, long *out);

/* The entries of a comma- or space-separated list, as a new JSON array
 * of strings. */
json_t *cli_split_list(const char *p);

/* ---- configuration (config.c) */
/* Fill url/token from flags already parsed, the environment (CLAW_URL,
 * CLAW_TOKEN, CLAW_TOKEN_FILE) and defaults; done once, by the first API
 * call (global options may follow the subcommand). Returns CLI_OK or an
 * exit code with the message printed. */
int cli_config_resolve(struct cli_ctx *ctx);
/* Read a token file: the first line, whitespace trimmed. Returns an
 * allocated string or NULL with errbuf set. */
char *cli_token_read(const char *path, char *errbuf, size_t errlen);
void cli_ctx_release(struct cli_ctx *ctx);
/* The replica to call now (ctx->url); its index for cli_replica_next. */
size_t cli_replica(struct cli_ctx *ctx);
/* After a call's outcome on replica at (the tried-th try, from 0):
 * whether to try the next one (no answer, or 502/503/504, and replicas
 * left), the list moved on to it. */
bool cli_replica_next(struct cli_ctx *ctx, size_t at, size_t tried,
		      enum claw_rc rc, long status);

/* ---- contexts (contexts.c) */
/* The contexts file's path: $XDG_CONFIG_HOME/clawctl/config, else
 * $HOME/.config/clawctl/config; -1 when neither variable is set. */
int cli_contexts_path(char *out, size_t len);
/* Read the contexts file at path into *out (a new reference; NULL with
 * CLI_OK when there is no file). A file with any group or other
 * permission, not regular, over 1 MiB or not a JSON object is refused:
 * CLI_ELOCAL with the reason (and the chmod to run) on err. */
int cli_contexts_load(FILE *err, const char *path, json_t **out);
/* Write cfg to path: 0600, whole (a temporary file renamed over it), the
 * directories made 0700. */
int cli_contexts_save(FILE *err, const char *path, const json_t *cfg);

/* ---- the REST API (api.c) */
struct cli_call {
	const char *method;   /* "GET", "POST", ... */
	const char *path;     /* "/v1/tenants?limit=10", already escaped */
	const json_t *body;   /* sent as JSON when not NULL (borrowed) */
	const char *raw_body; /* or this JSON text (secrets: the caller wipes
				 it), raw_len bytes */
	size_t raw_len;
	const char *if_match; /* If-Match header value, or NULL */
};

/* Call the API. On a 2xx reply returns CLI_OK with *out a new reference
 * to the parsed JSON body (NULL for an empty body) and, when etag is not
 * NULL, the ETag header (or ""). Otherwise prints the API's error
 * (message, code, request id) or the transport problem on ctx->err and
 * returns the exit code it maps to (cli_exit_for_status). */
int cli_api(struct cli_ctx *ctx, const struct cli_call *c, json_t **out,
	    char *etag, size_t etaglen);
/* cli_api of method with body (NULL: none) on the path built as
 * cli_pathf(fmt, ...), its reply into *out as cli_api's. */
int cli_api_callf(struct cli_ctx *ctx, const char *method, const json_t *body,
		  json_t **out, const char *fmt, ...);
/* A call whose reply says nothing more than success (204) on the path
 * built as cli_pathf(fmt, ...): prints done (table) or "{}" (json) on
 * ctx->out. */
int cli_api_done(struct cli_ctx *ctx, const char *method, const char *done,
		 const char *fmt, ...);
/* cli_api with c, then its reply printed as one object (cli_print_reply
 * with no columns). */
int cli_api_print(struct cli_ctx *ctx, const struct cli_call *c);
/* cli_api_print of method with body (NULL: none) on the path built as
 * cli_pathf(fmt, ...). */
int cli_api_printf(struct cli_ctx *ctx, const char *method, const json_t *body,
		   const char *fmt, ...);
/* The call of a command whose nargs (1 or 2) arguments name what it acts
 * on (a tenant, a node, a deployment) and that has no options: parses argv
 * against {usage, help}, calls method on the path cli_pathf(fmt,
 * arguments...) and prints the reply, or with done set prints what
 * cli_api_done does. */
int cli_path_cmd(struct cli_ctx *ctx, int argc, char **argv, const char *method,
		 const char *fmt, const char *usage, const char *help,
		 int nargs, const char *done);
/* A command of cli_path_cmd's kind, in a table of them. */
struct cli_path_def {
	const char *name; /* the subcommand: argv[0] of its call */
	const char *method, *fmt, *usage, *help;
	int nargs;
	const char *done;
};
/* Run the entry of defs (n of them) named argv[0] as cli_path_cmd. */
int cli_path_table_cmd(struct cli_ctx *ctx, int argc, char **argv,
		       const struct cli_path_def *defs, size_t n);
/* Exit code for an HTTP status. */
int cli_exit_for_status(long status);
/* Print the error reply body (the shared error shape, or anything else)
 * for status on f. */
void cli_print_api_error(FILE *f, long status, const char *body, size_t len);
/* The request headers every call sends (Authorization, Accept, ...),
 * NULL-terminated into hdrs (at most max entries, strings allocated into
 * store which the caller releases). */
int cli_api_headers(struct cli_ctx *ctx, const char *accept,
		    const char *content_type, const char *if_match,
		    struct claw_buf *store, const char **hdrs, size_t max);

/* Append s to b percent-encoded for one path segment or query value. */
int cli_escape(struct claw_buf *b, const char *s);
/* Build "fmt" with each %s argument escaped as a path segment into b. */
int cli_pathf(struct claw_buf *b, const char *fmt, ...);
int cli_vpathf(struct claw_buf *b, const char *fmt, va_list ap);
/* Append "?key=value" or "&key=value" (value escaped) to a path; nothing
 * when value is NULL. */
int cli_query_add(struct claw_buf *b, const char *key, const char *value);

/* ---- lists (list.c) */
struct cli_col;

/* The options of every list command: --limit, --cursor, --all. */
struct cli_paging {
	const char *limit, *cursor;
	bool all;
};
#define CLI_PAGING_OPTS(pg)                                                    \
	{"limit", "N", &(pg).limit, NULL, "items per page"},                   \
		{"cursor", "CURSOR", &(pg).cursor, NULL,                       \
		 "start after this cursor (from an earlier page)"},            \
	{                                                                      \
		"all", NULL, NULL, &(pg).all, "fetch every page"               \
	}

/* A query filter; a NULL value is left out. */
struct cli_filter {
	const char *key, *value;
};

/* List the path cli_pathf(base_fmt, arg) (arg NULL when base_fmt has no
 * %s) with filters (nf of them) and paging, and print it with cols. */
int cli_list_cmd(struct cli_ctx *ctx, const char *base_fmt, const char *arg,
		 const struct cli_filter *filters, size_t nf,
		 const struct cli_paging *pg, const struct cli_col *cols,
		 size_t ncols);
/* A list command with no filters: parses argv against {usage, help} with
 * nargs (0 or 1) arguments naming what is listed in (a tenant) and, with
 * paging, the options --limit, --cursor and --all; then lists
 * cli_pathf(base_fmt, argument) as cli_list_cmd does. */
int cli_list_path_cmd(struct cli_ctx *ctx, int argc, char **argv,
		      const char *base_fmt, const char *usage, const char *help,
		      int nargs, bool paging, const struct cli_col *cols,
		      size_t ncols);
/* GET path (a buf holding the path and its filters), starting at cursor
 * (NULL: the first page); with all, follow next_cursor to the end and
 * print every item as one list. Prints with cols as cli_print_reply. */
int cli_list_run(struct cli_ctx *ctx, const struct claw_buf *path,
		 const char *cursor, bool all, const struct cli_col *cols,
		 size_t ncols);
/* What cli_list_run prints, into *out (a new reference) instead. */
int cli_list_collect(struct cli_ctx *ctx, const struct claw_buf *path,
		     const char *cursor, bool all, json_t **out);

/* ---- event streams (stream.c) */
/* Called for each server-sent event (event name, data text); returns
 * CLI_STREAM_GO_ON, or the exit code to stop the stream with. */
#define CLI_STREAM_GO_ON (-1)
typedef int (*cli_event_fn)(struct cli_ctx *ctx, const char *event,
			    const char *data, void *cls);
/* GET path as server-sent events until the server ends the stream (exit
 * 0), fn stops it (its code), or it fails (the error printed; its exit
 * code). No time limit. */
int cli_stream(struct cli_ctx *ctx, const char *path, cli_event_fn fn,
	       void *cls);
/* cli_stream of a POST of the JSON text body (NULL: a GET). */
int cli_stream_post(struct cli_ctx *ctx, const char *path, const char *body,
		    cli_event_fn fn, void *cls);
/* Write the lines of data to f, each prefixed with prefix (NULL: none)
 * and ended by a newline (logs.c). */
void cli_log_lines(FILE *f, const char *prefix, const char *data);
/* Sleep ms milliseconds (through signals' interruptions). */
void cli_sleep_ms(long ms);

/* ---- chat (chat.c) */
/* One chunk of an OpenAI chat completion stream (the data of one event):
 * appends its text (choices[0].delta.content) to reply and writes it to
 * out. Returns CLI_STREAM_GO_ON, CLI_OK at "[DONE]", or CLI_EFAIL for an
 * error event (its message on err) or data that is not JSON. */
int cli_chat_chunk(FILE *out, FILE *err, const char *data,
		   struct claw_buf *reply);

/* ---- top (top.c) */
/* The rows of "clawctl top": one per tenant of usage (a GET /v1/usage
 * reply: {"tenants": [{"tenant", "totals"}]}, may be NULL) or of res (an
 * object tenant -> {"phase", "node", "cpus_milli", "memory_mb"}, may be
 * NULL): {"tenant", "phase", "node", "turns", "tokens" (input + output),
 * "input_tokens", "output_tokens", "tool_calls", "cpus_milli",
 * "memory_mb"}. A new array. */
json_t *cli_top_rows(const json_t *usage, const json_t *res);
/* Sort rows by "turns", "tokens", "cpu" or "mem", largest first (ties by
 * tenant); -1 for another key. */
int cli_top_sort(json_t *rows, const char *by);
/* The columns of its table. */
const struct cli_col *cli_top_cols(size_t *n);

/* ---- rollouts (rollout.c) */
/* Whether a rollout object is in a final state (completed, halted,
 * aborted). */
bool cli_rollout_done(const json_t *ro);
/* One line of a rollout's progress: "ID STATE [####....] DONE/TOTAL ok N
 * failed N rolled back N in progress N pending N batch N". */
void cli_rollout_line(const json_t *ro, char *out, size_t len);
/* A rollout as the context asks: machine output, or its scalar fields as
 * key/value lines and then its tenants as a table. */
void cli_rollout_print(struct cli_ctx *ctx, const json_t *ro);

/* ---- output (output.c) */
struct cli_col {
	const char *header; /* "SLUG" */
	const char *key;    /* dotted path in each item: "actor.id" */
};

/* The array of items in a list reply: the reply itself when it is an
 * array, else its "items" member; NULL when there is none (borrowed). */
json_t *cli_list_items(json_t *reply);
/* The cursor of the next page of a list reply, or NULL (borrowed). */
const char *cli_list_next(json_t *reply);
/* A value as text for a table cell: strings as they are, numbers,
 * booleans, null and absent as "-", objects and arrays as compact JSON.
 * Writes into out (truncated to outlen). */
void cli_cell(const json_t *v, char *out, size_t outlen);
/* Look up a dotted path ("actor.id") in obj; NULL when absent. */
json_t *cli_path_get(const json_t *obj, const char *path);
/* Print items as an aligned table with the columns given. */
int cli_print_table(FILE *f, const json_t *items, const struct cli_col *cols,
		    size_t ncols);
/* Print one object as "key: value" lines (scalar members first). */
void cli_print_object(FILE *f, const json_t *obj);
/* Print a reply in the format the context asks for: json prints the value
 * pretty; table prints a list reply's items with cols (or an object as
 * key/value lines when cols is NULL). A list with more pages adds a line
 * on ctx->err naming the cursor to pass. */
int cli_print_reply(struct cli_ctx *ctx, json_t *reply,
		    const struct cli_col *cols, size_t ncols);
/* Print JSON pretty (2-space indent) with a final newline. */
void cli_print_json(FILE *f, const json_t *v);
/* Print v as a YAML document (block style, 2-space indent; strings that
 * YAML would read as something else, or that hold control or line-break
 * characters, double-quoted with escapes). */
void cli_print_yaml(FILE *f, const json_t *v);
/* Whether the context asks for machine output (json or yaml). */
bool cli_out_machine(const struct cli_ctx *ctx);
/* Print v as the machine format the context asks for (yaml, else json). */
void cli_print_value(const struct cli_ctx *ctx, const json_t *v);
/* The columns of a wide table: cols, then each top-level member of items
 * that is a scalar in some item and no column's key, in the order first
 * seen (header: the key upper-cased). Returns the count in *n and an
 * allocated array whose extra headers live in names (the caller releases
 * both; NULL when out of memory). */
struct cli_col *cli_wide_cols(const json_t *items, const struct cli_col *cols,
			      size_t ncols, struct claw_buf *names, size_t *n);

/* ---- secret values (secrets.c) */
#define CLI_SECRET_MAX 65536 /* the control plane's ceiling on a value */
/* A secret value for name from file ("-" or NULL: standard input; NULL at
 * a terminal: asked for with echo off) into buf (CLI_SECRET_MAX + 1
 * bytes, the caller's, wiped by it), its length in *len. */
int cli_secret_value(struct cli_ctx *ctx, const char *name, const char *file,
		     char *buf, size_t *len);

/* ---- settings and repeated options (settings.c) */
/* Every value of the option --opt in argv (as "--opt V" or "--opt=V",
 * up to "--"), in order: a new array of strings. cli_args_parse keeps
 * only the last; commands whose option repeats read them all here. */
json_t *cli_opt_values(int argc, char **argv, const char *opt);
/* Set "KEY=VALUE" in obj: KEY a dotted path ("fallback.kind"; objects
 * made on the way, at most 8 deep), VALUE typed: when it reads as JSON
 * (true, false, null, a number, "text", [..], {..}) that value, else the
 * text as a string; a VALUE starting with [ { or " must be valid JSON.
 * 0, or -1 with why in err. */
int cli_kv_set(json_t *obj, const char *kv, char *err, size_t errlen);
/* cli_kv_set of each value of --opt in argv into obj; CLI_EUSAGE after
 * saying which one is wrong. */
int cli_kv_apply(struct cli_ctx *ctx, int argc, char **argv, const char *opt,
		 json_t *obj);
/* The JSON object in file (at most 1 MiB) into *out (a new reference);
 * CLI_ELOCAL or CLI_EUSAGE after saying what is wrong. */
int cli_json_file(struct cli_ctx *ctx, const char *file, json_t **out);

/* ---- resource changes (resources.c) */
/* Send a change of a tenant's resource (method on the path
 * cli_pathf(fmt, tenant, name)), body as JSON text (wiped afterwards by
 * the caller when it holds secrets); print the reply, and when it says
 * redeploy_required, say how to redeploy (or with deploy, deploy now). */
int cli_res_change(struct cli_ctx *ctx, const char *method, const char *body,
		   const char *tenant, bool deploy, const char *fmt,
		   const char *name);

/* cli_res_change of a PUT of body (no secret values in it). */
int cli_res_put(struct cli_ctx *ctx, const json_t *body, const char *tenant,
		bool deploy, const char *fmt);
/* The option --set KEY=VALUE of the commands that take any key of a
 * resource (repeatable: cli_kv_apply(..., "set", obj) applies each one;
 * v receives the last). */
#define CLI_SET_OPT(v, help)                                                   \
	{                                                                      \
		"set", "KEY=VALUE", &(v), NULL, help                           \
	}
/* The option --deploy of the commands that change a resource. */
#define CLI_DEPLOY_OPT(d)                                                      \
	{                                                                      \
		"deploy", NULL, NULL, &(d),                                    \
			"redeploy the tenant when the change needs it"         \
	}
/* cli_args_ok for a change command of nargs arguments (TENANT and
 * maybe one more) whose only option is --deploy. */
bool cli_res_args(struct cli_ctx *ctx, int argc, char **argv, const char *usage,
		  const char *help, int nargs, const char **pos, bool *deploy,
		  int *ex);
/* cli_dispatch of a static table. */
#define CLI_DISPATCH(ctx, group, cmds, argc, argv)                             \
	cli_dispatch(ctx, group, cmds, sizeof(cmds) / sizeof(cmds[0]), argc,   \
		     argv)
/* Define the command fn of a group (declared below, "command groups"):
 * cli_dispatch of its static table cmds under the name group. */
#define CLI_GROUP(fn, group, cmds)                                             \
	int fn(struct cli_ctx *ctx, int argc, char **argv)                     \
	{                                                                      \
		return CLI_DISPATCH(ctx, group, cmds, argc, argv);             \
	}

/* GET cli_pathf(fmt, tenant) (a resource of the tenant) into *out as
 * cli_api_callf, except that a 404 for a tenant that exists is an answer
 * rather than an error: CLI_ABSENT with nothing printed. A tenant that
 * does not exist (or is not the caller's to see) is said as usual, with
 * its exit code. */
#define CLI_ABSENT (-2)
int cli_get_or_none(struct cli_ctx *ctx, json_t **out, const char *fmt,
		    const char *tenant);

/* ---- diff (diff.c) */
#define CLI_DIFF_MAX_CELLS 4000000u /* LCS table entries (16 MB) */
/* A unified diff (3 lines of context, "--- aname" / "+++ bname"
 * headers) of text a against b, by lines, appended to out; nothing when
 * they are equal (*changed false). A middle part too large for the LCS
 * bound shows as all its old lines removed and new ones added. 0, or -1
 * when out of memory. */
int cli_diff(struct claw_buf *out, const char *a, size_t alen, const char *b,
	     size_t blen, const char *aname, const char *bname, bool *changed);

/* ---- command groups (one file each) */
int cli_cmd_tenants(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_tokens(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_secrets(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_domains(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_audit(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_nodes(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_approvals(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_mcp(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_deploy(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_rollback(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_deployments(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_status(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_stop(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_start(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_suspend(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_resume(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_undeploy(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_events(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_logs(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_plans(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_config(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_completion(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_rollout(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_top(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_chat(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_channels(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_persona(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_model(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_tools(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_templates(struct cli_ctx *ctx, int argc, char **argv);

#endif
