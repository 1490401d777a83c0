/* fuzz_gw_matrix_as.c - a Matrix application service transaction's body
 * ({"events": [...]}) on arbitrary bytes, with and without the rooms'
 * member counts: every envelope must pass gw_env_check and split to
 * Matrix's size. The same bytes (to the first NUL) as a txnId: an id the
 * check keeps holds no space or control byte (the saved list is
 * space-separated). */
#include "fuzz_gw_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char txn[300];
	size_t n = size < sizeof(txn) - 1 ? size : sizeof(txn) - 1;
	memcpy(txn, data, n);
	txn[n] = '\0';
	if (gw_matrix_txn_ok(txn) && strpbrk(txn, " \t\r\n"))
		__builtin_trap();
	fuzz_gw_matrix_run(gw_matrix_as_parse, data, size);
	return 0;
}
