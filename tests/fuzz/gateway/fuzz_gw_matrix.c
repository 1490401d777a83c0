/* fuzz_gw_matrix.c - the Matrix /sync response parser on arbitrary
 * bytes (with and without the member counts of earlier responses):
 * every envelope must pass gw_env_check and split to Matrix's size. */
#include "fuzz_gw_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_gw_matrix_run(gw_matrix_parse, data, size);
	return 0;
}
