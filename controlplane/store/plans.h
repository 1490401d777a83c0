/*
 * plans.h - queries on plans (named resource ceilings) and on what bounds
 * a tenant: its plan, egress bound, self-pause flag and suspension
 * (migrations/0005_bounds.sql). store/plans.c; same rules as store.h.
 */
#ifndef CP_STORE_PLANS_H
#define CP_STORE_PLANS_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "bounds.h"
#include "claw/err.h"

/* Columns of every plan result. */
enum cp_plan_col {
	CP_PLC_NAME,
	CP_PLC_CPUS,
	CP_PLC_MEMORY,
	CP_PLC_PIDS,
	CP_PLC_DISK,
	CP_PLC_CREATED,
	CP_PLC_UPDATED,
	CP_PLC_TENANTS,       /* live tenants on the plan */
	CP_PLC_QUOTA_TURNS,   /* turns per day; -1: no quota */
	CP_PLC_QUOTA_TOKENS,  /* tokens per month; -1: no quota */
	CP_PLC_QUOTA_MESSAGE, /* the refusal text; NULL: the default */
};

/* A plan's quotas (docs/fleet.md, "Usage"): counts >= 0, CP_QUOTA_NONE
 * for no quota, and in an update CP_QUOTA_KEEP for "leave it". They are
 * shown in usage and enforced by the gateway (docs/fleet.md,
 * "Quotas"). */
#define CP_QUOTA_KEEP -1
#define CP_QUOTA_NONE -2
struct cp_plan_quota {
	long long turns_per_day;
	long long tokens_per_month;
	/* quota_message (migrations/0012_quota.sql): NULL keeps it (an
	 * update) or sets none (a create), "" clears it, else the text */
	const char *message;
};

/* INVALID with SQLSTATE 23505 when the name is taken. */
enum claw_rc cp_store_plan_insert(PGconn *c, const struct cp_plan *p,
				  const struct cp_plan_quota *q,
				  PGresult **row);
/* NOT_FOUND when there is no such plan. */
enum claw_rc cp_store_plan_get(PGconn *c, const char *name, PGresult **row);
/* Every plan, by name. */
enum claw_rc cp_store_plan_list(PGconn *c, PGresult **rows);
/* Set the values of p that are >= 0 (the others stay) and the quotas of q
 * that are not CP_QUOTA_KEEP; NOT_FOUND when there is no plan named
 * p->name. */
enum claw_rc cp_store_plan_update(PGconn *c, const struct cp_plan *p,
				  const struct cp_plan_quota *q,
				  PGresult **row);
/* NOT_FOUND when there is none; INVALID with SQLSTATE 23503 when tenants
 * (deleted ones included) still name it. */
enum claw_rc cp_store_plan_delete(PGconn *c, const char *name);
/* Row r of a plan result as the API shows it. */
json_t *cp_plan_json(const PGresult *res, int r);

/* ---- what bounds a tenant */

struct cp_tenant_bounds {
	struct cp_plan plan;    /* the plan's values; name "default" for none */
	bool has_plan;          /* false: the built-in default plan */
	json_t *egress_allow;   /* the bound (an array; new reference) */
	json_t *node_labels;    /* labels a deploy may ask (object; new ref) */
	json_t *api_base_allow; /* channel base URLs allowed (array; new) */
	bool self_pause;        /* the tenant may pause/resume itself */
	char suspended_by[16];  /* "", "operator" or "tenant" */
};

/* The tenant's bounds; with for_update its row stays locked until the
 * caller's transaction ends (so a suspend and a deploy cannot cross). The
 * default plan's values are not filled (plan.name "default",
 * has_plan false): the caller has them from the options. NOT_FOUND when
 * there is no such tenant. */
enum claw_rc cp_store_tenant_bounds(PGconn *c, const char *tenant_id,
				    bool for_update,
				    struct cp_tenant_bounds *out);
void cp_tenant_bounds_release(struct cp_tenant_bounds *b);
/* Record who suspended the tenant ("operator" or "tenant"), or clear it
 * (who NULL). */
enum claw_rc cp_store_tenant_set_suspended(PGconn *c, const char *tenant_id,
					   const char *who);

#endif
