/*
 * bitnet.h - umbrella header of libbitnet, the BitNet b1.58 tensor engine.
 */
#ifndef BITNET_BITNET_H
#define BITNET_BITNET_H

#include "bitnet/status.h"
#include "bitnet/dtype.h"
#include "bitnet/tensor.h"
#include "bitnet/views.h"
#include "bitnet/ops.h"
#include "bitnet/opstats.h"
#include "bitnet/pool.h"
#include "bitnet/alloc.h"
#include "bitnet/threads.h"
#include "bitnet/kernels.h"
#include "bitnet/rng.h"
#include "bitnet/quant.h"
#include "bitnet/linalg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0" */
const char *bn_version(void);

#ifdef __cplusplus
}
#endif
#endif
