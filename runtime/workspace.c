/*
 * workspace.c - fetch the workspace repository and check out the pinned
 * commit; see workspace.h.
 *
 * The clone lives in DATA/workspace/repo. When it exists and already has
 * the commit, nothing is fetched (a restart works offline); otherwise the
 * origin is fetched (all branches and tags) and the commit must then be
 * there. The working tree is forced to the commit, detached from any
 * branch, so a redeploy of an earlier commit is a rollback.
 */
#include "workspace.h"

#include <errno.h>
#include <git2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "claw/log.h"

struct cred_ctx {
	const struct rt_workspace_cfg *w;
	int tries;
};

static int cred_cb(git_credential **out, const char *url,
		   const char *username_from_url, unsigned int allowed,
		   void *payload)
{
	struct cred_ctx *c = payload;
	(void)url;
	(void)username_from_url;
	if (!c->w->token || !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) ||
	    c->tries++ > 0)
		return GIT_PASSTHROUGH;
	return git_credential_userpass_plaintext_new(out, c->w->token_user,
						     c->w->token);
}

static void git_fail(char *err, size_t errlen, const char *what)
{
	const git_error *e = git_error_last();
	snprintf(err, errlen, "%s: %s", what,
		 e && e->message ? e->message : "unknown error");
}

static void fetch_opts(git_fetch_options *fo, const struct rt_config *cfg,
		       struct cred_ctx *cc)
{
	fo->callbacks.credentials = cred_cb;
	fo->callbacks.payload = cc;
	if (cfg->proxy) {
		fo->proxy_opts.type = GIT_PROXY_SPECIFIED;
		fo->proxy_opts.url = cfg->proxy;
	}
}

/* Open the clone at path, or clone the repository there (without a
 * checkout). CLAW_ERR_IO with err set. */
static enum claw_rc open_or_clone(const struct rt_config *cfg, const char *path,
				  git_repository **repo, struct cred_ctx *cc,
				  char *err, size_t errlen)
{
	if (git_repository_open(repo, path) == 0)
		return CLAW_OK;
	git_clone_options co;
	git_clone_options_init(&co, GIT_CLONE_OPTIONS_VERSION);
	co.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
	fetch_opts(&co.fetch_opts, cfg, cc);
	if (git_clone(repo, cfg->workspace.repo, path, &co) != 0) {
		git_fail(err, errlen,
			 "unable to clone the workspace repository");
		return CLAW_ERR_IO;
	}
	return CLAW_OK;
}

/* Fetch every branch and tag of the origin. CLAW_ERR_IO with err set. */
static enum claw_rc fetch(const struct rt_config *cfg, git_repository *repo,
			  struct cred_ctx *cc, char *err, size_t errlen)
{
	git_remote *remote = NULL;
	git_fetch_options fo;
	char *specs[] = {"+refs/heads/*:refs/remotes/origin/*",
			 "+refs/tags/*:refs/tags/*"};
	git_strarray refspecs = {specs, 2};
	enum claw_rc rc = CLAW_OK;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fetch_opts(&fo, cfg, cc);
	if (git_remote_create_anonymous(&remote, repo, cfg->workspace.repo)) {
		git_fail(err, errlen, "unable to use the workspace remote");
		return CLAW_ERR_IO;
	}
	if (git_remote_fetch(remote, &refspecs, &fo, "fetch pinned commit")) {
		git_fail(err, errlen,
			 "unable to fetch the workspace repository");
		rc = CLAW_ERR_IO;
	}
	git_remote_free(remote);
	return rc;
}

enum claw_rc rt_workspace_sync(const struct rt_config *cfg,
			       const char *data_dir, char *dir, size_t dirlen,
			       char commit[41], char *err, size_t errlen)
{
	const struct rt_workspace_cfg *w = &cfg->workspace;
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_oid oid;
	struct cred_ctx cc = {w, 0};
	char base[4096];
	enum claw_rc rc;

	commit[0] = '\0';
	if (w->path) {
		snprintf(dir, dirlen, "%s", w->path);
		return CLAW_OK;
	}
	snprintf(base, sizeof(base), "%s/workspace", data_dir);
	if (mkdir(base, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "unable to create '%s': %s", base,
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	snprintf(dir, dirlen, "%s/repo", base);
	git_libgit2_init();
	if (cfg->ca_file &&
	    git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, cfg->ca_file,
			     NULL)) {
		git_fail(err, errlen, "unable to use the CA bundle");
		rc = CLAW_ERR_INVALID;
		goto out;
	}
	if (git_oid_fromstr(&oid, w->commit)) {
		snprintf(err, errlen, "the pinned commit is not a commit id");
		rc = CLAW_ERR_INVALID;
		goto out;
	}
	rc = open_or_clone(cfg, dir, &repo, &cc, err, errlen);
	if (rc)
		goto out;
	if (git_commit_lookup(&c, repo, &oid) != 0) {
		rc = fetch(cfg, repo, &cc, err, errlen);
		if (rc)
			goto out;
		if (git_commit_lookup(&c, repo, &oid) != 0) {
			snprintf(err, errlen,
				 "the pinned commit %s is not in "
				 "the workspace repository",
				 w->commit);
			rc = CLAW_ERR_NOT_FOUND;
			goto out;
		}
	}
	git_checkout_options co;
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy =
		GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
	if (git_checkout_tree(repo, (const git_object *)c, &co) ||
	    git_repository_set_head_detached(repo, &oid)) {
		git_fail(err, errlen, "unable to check out the pinned commit");
		rc = CLAW_ERR_IO;
		goto out;
	}
	git_oid_tostr(commit, 41, &oid);
	log_info("workspace at commit %s", commit);
out:
	git_commit_free(c);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}
