/*
 * test_audit_chain.c - the audit hash chain: build a chain, verify it, and
 * find the first broken row after a change, a removal, a reorder or a
 * forged hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "audit.h"

#define N 6

struct stored {
	struct cp_audit_row row;
	char prev[65];
	char hash[65];
	char target[32];
};

static struct stored chain[N];

static void build(void)
{
	const char *prev = CP_AUDIT_GENESIS;

	for (int i = 0; i < N; i++) {
		struct stored *s = &chain[i];

		memset(s, 0, sizeof(*s));
		snprintf(s->target, sizeof(s->target), "tenants/t%d", i);
		s->row.id = 10 + 2 * i; /* ids may have gaps */
		s->row.time_us = 1700000000000000LL + i;
		s->row.actor_id = i % 2 ? "tok_1" : NULL;
		s->row.actor_role = i % 2 ? "admin" : "system";
		s->row.action = "tenant.create";
		s->row.target = s->target;
		s->row.tenant_id = "tnt_1";
		s->row.request_id = "req-1";
		s->row.source_addr = "127.0.0.1";
		s->row.details = i == 3 ? NULL : "{\"slug\": \"acme\"}";
		memcpy(s->prev, prev, 65);
		cp_audit_row_hash(&s->row, s->prev, s->hash);
		prev = s->hash;
	}
}

/* Run the verifier over chain[] (skipping index skip, -1 for none). */
static void verify(struct cp_audit_chain *c, int skip)
{
	cp_audit_chain_init(c);
	for (int i = 0; i < N; i++) {
		if (i == skip)
			continue;
		if (!cp_audit_chain_check(c, &chain[i].row, chain[i].prev,
					  chain[i].hash))
			break;
	}
}

static int setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static void test_chain_intact(void **state)
{
	(void)state;
	struct cp_audit_chain c;

	build();
	verify(&c, -1);
	assert_int_equal(c.rows_checked, N);
	assert_int_equal(c.broken_id, 0);
	assert_null(c.reason);
	assert_string_equal(c.prev, chain[N - 1].hash);
	assert_string_equal(chain[0].prev, CP_AUDIT_GENESIS);
	/* Deterministic. */
	char again[65];
	cp_audit_row_hash(&chain[2].row, chain[2].prev, again);
	assert_string_equal(again, chain[2].hash);
}

static void test_chain_changed_row(void **state)
{
	(void)state;
	struct cp_audit_chain c;

	build();
	chain[3].row.action = "tenant.delete";
	verify(&c, -1);
	assert_int_equal(c.broken_id, chain[3].row.id);
	assert_int_equal(c.rows_checked, 4);
	assert_non_null(strstr(c.reason, "changed"));
	/* Once broken it stays broken. */
	assert_false(cp_audit_chain_check(&c, &chain[4].row, chain[4].prev,
					  chain[4].hash));
	assert_int_equal(c.broken_id, chain[3].row.id);

	/* A changed time or a NULL turned into "" is found too. */
	build();
	chain[1].row.time_us++;
	verify(&c, -1);
	assert_int_equal(c.broken_id, chain[1].row.id);
	build();
	chain[0].row.actor_id = "";
	verify(&c, -1);
	assert_int_equal(c.broken_id, chain[0].row.id);
}

static void test_chain_rehashed_row(void **state)
{
	(void)state;
	struct cp_audit_chain c;

	/* A forger who also recomputes the changed row's hash breaks the
	 * link to the next row. */
	build();
	chain[2].row.target = "tenants/forged";
	cp_audit_row_hash(&chain[2].row, chain[2].prev, chain[2].hash);
	verify(&c, -1);
	assert_int_equal(c.broken_id, chain[3].row.id);
	assert_non_null(strstr(c.reason, "prev_hash"));
}

static void test_chain_removed_and_reordered(void **state)
{
	(void)state;
	struct cp_audit_chain c;
	struct stored tmp;

	build();
	verify(&c, 2);
	assert_int_equal(c.broken_id, chain[3].row.id);
	assert_int_equal(c.rows_checked, 3);

	build();
	tmp = chain[1];
	chain[1] = chain[2];
	chain[2] = tmp;
	chain[1].row.target = chain[1].target;
	chain[2].row.target = chain[2].target;
	verify(&c, -1);
	assert_int_equal(c.broken_id, chain[1].row.id);

	/* The first row must start from the genesis hash. */
	build();
	verify(&c, 0);
	assert_int_equal(c.broken_id, chain[1].row.id);
}

static void test_field_boundaries(void **state)
{
	(void)state;
	struct cp_audit_row a = {
		.id = 1, .time_us = 5, .action = "ab", .target = "c"};
	struct cp_audit_row b = {
		.id = 1, .time_us = 5, .action = "a", .target = "bc"};
	char ha[65], hb[65];

	cp_audit_row_hash(&a, CP_AUDIT_GENESIS, ha);
	cp_audit_row_hash(&b, CP_AUDIT_GENESIS, hb);
	assert_string_not_equal(ha, hb);
	b.action = "ab";
	b.target = "c";
	b.id = 2;
	cp_audit_row_hash(&b, CP_AUDIT_GENESIS, hb);
	assert_string_not_equal(ha, hb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_intact),
		cmocka_unit_test(test_chain_changed_row),
		cmocka_unit_test(test_chain_rehashed_row),
		cmocka_unit_test(test_chain_removed_and_reordered),
		cmocka_unit_test(test_field_boundaries),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
