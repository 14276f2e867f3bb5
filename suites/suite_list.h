/*
 * suite_list.h - every suite bnbench knows, one BNB_SUITE(name) line each
 * (see suite.h). The order is the order of `bnbench list` and of a run.
 * A suite that measures an MPI job exists only in a build with MPI.
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
#ifdef BNB_HAVE_MPI
BNB_SUITE(dist)
#endif
