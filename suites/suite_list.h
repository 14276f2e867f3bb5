/*
 * suite_list.h - every suite bnbench knows, one BNB_SUITE(name) line each
 * (see suite.h). The order is the order of `bnbench list` and of a run.
 */
BNB_SUITE(peak)
BNB_SUITE(alloc)
BNB_SUITE(zerocopy)
BNB_SUITE(elementwise)
BNB_SUITE(reduce)
BNB_SUITE(matmul)
BNB_SUITE(ternary)
BNB_SUITE(linalg)
BNB_SUITE(collector)
