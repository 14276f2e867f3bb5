/*
 * suite_list.h - every suite bnbench knows, one BNB_SUITE(name) line each
 * (see suite.h). The order is the order of `bnbench list` and of a run.
 */
BNB_SUITE(peak)
BNB_SUITE(linalg)
