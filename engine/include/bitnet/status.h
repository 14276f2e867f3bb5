/*
 * status.h - status codes, the thread-local last-error message, and the
 * always-on assert.
 *
 * Every fallible function of libbitnet returns a bn_status: 0 is success,
 * negative values are errors. The enum, the names and the messages are all
 * generated from BN_STATUS_LIST so they cannot drift apart. When a function
 * fails it also leaves a human-readable message (naming the op and the
 * offending shapes, dtypes or values) in a thread-local buffer, read with
 * bn_last_error().
 *
 * Programmer errors (a NULL where the contract forbids it, an out-of-range
 * enum from code, not from a user) hit BN_ASSERT, which is on in every build.
 */
#ifndef BITNET_STATUS_H
#define BITNET_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(symbol, value, message) */
#define BN_STATUS_LIST(X)                                                                          \
    X(BN_OK, 0, "ok")                                                                              \
    X(BN_ERR_SHAPE, -1, "shape mismatch")                                                          \
    X(BN_ERR_DTYPE, -2, "unsupported or mismatched dtype")                                         \
    X(BN_ERR_OOM, -3, "out of memory")                                                             \
    X(BN_ERR_ARG, -4, "invalid argument")                                                          \
    X(BN_ERR_DEVICE, -5, "device error")                                                           \
    X(BN_ERR_UNSUPPORTED, -6, "operation not supported")                                           \
    X(BN_ERR_NUMERIC, -7, "numeric error")                                                         \
    X(BN_ERR_IO, -8, "I/O error")                                                                  \
    X(BN_ERR_OVERFLOW, -9, "size overflows size_t")                                                \
    X(BN_ERR_NOT_CONTIGUOUS, -10, "strides do not allow a view; use bn_contiguous")                \
    X(BN_ERR_SINGULAR, -11, "matrix is singular")                                                  \
    X(BN_ERR_NOT_SPD, -12, "matrix is not positive definite")                                      \
    X(BN_ERR_STATE, -13, "invalid state")

typedef enum bn_status {
#define BN_STATUS_ENUM_(sym, val, msg) sym = val,
    BN_STATUS_LIST(BN_STATUS_ENUM_)
#undef BN_STATUS_ENUM_
} bn_status;

/* Number of distinct codes in BN_STATUS_LIST. */
#define BN_STATUS_COUNT 14

/* "BN_ERR_SHAPE" for BN_ERR_SHAPE; "BN_UNKNOWN_STATUS" for a value not in the list. */
const char *bn_status_name(bn_status s);
/* The fixed message of a code ("shape mismatch"); never NULL. */
const char *bn_status_str(bn_status s);

/*
 * The message left by the last failing call on this thread ("add: cannot
 * broadcast [2,3] with [4]"), or "" when none. The pointer stays valid until
 * the next libbitnet call on this thread.
 */
const char *bn_last_error(void);
void bn_clear_error(void);

/*
 * Records a formatted message for this thread and returns s, so a failing
 * path reads `return bn_error(BN_ERR_SHAPE, "add: ...", ...);`.
 * Messages longer than 511 bytes are truncated.
 */
bn_status bn_error(bn_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Always-on assertion for programmer errors: prints file, line and the
 * expression to stderr and aborts. Never used for user or environment errors. */
void bn_assert_fail(const char *expr, const char *file, int line, const char *func)
    __attribute__((noreturn));
#define BN_ASSERT(cond) ((cond) ? (void)0 : bn_assert_fail(#cond, __FILE__, __LINE__, __func__))

#ifdef __cplusplus
}
#endif
#endif
