/*
 * ternary_amx.c - the W1.58A8 product on AMX-INT8 tiles for prefill
 * (n >= BNK_AMX_MIN_N activation rows); fewer rows go to the AVX-512 VNNI
 * kernel. Contract in kernels/ternary.h; the set is offered only when CPUID
 * reports AMX-TILE and AMX-INT8 and the kernel grants this process the tile
 * data state (arch_prctl ARCH_REQ_XCOMP_PERM), see kernels/ternary.c.
 *
 * TDPBUSD C[16x16 int32] += A[16x64 u8] . B[16x64 s8 in VNNI order]: A is
 * 16 weight rows of codes for one 64-weight chunk (one field of a t2k block,
 * (block >> 2f) & 3: exactly one zmm per row), B is 16 activation rows of the
 * same chunk arranged so that B row r, bytes 4c..4c+3 hold x[c][4r..4r+3]
 * (a 16 x 16 transpose of 32-bit groups). Activations are packed once per
 * call (rows past n and k past K are zero), the codes of 32 weight rows once
 * per row panel into L2-resident scratch; then 2 A tiles x 2 B tiles give 4 C
 * accumulators, 4 TDPBUSD per chunk. The result is dot(code, x) - xsum, the
 * same exact integers as every other set. The unpacking of the next 32 rows
 * runs between the TDPBUSDs of the current ones (see the loop). Scratch is
 * malloc'd per call; when
 * that fails the call falls back to the VNNI kernel (same result).
 */
/* AMX instructions for this file only (the Makefile gives the directory
 * AVX-512 flags); nothing here runs unless the amx set was found available. */
#pragma GCC target("amx-tile,amx-int8")
#include <immintrin.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_internal.h"
#include "kernels/ternary.h"

#define BARRIER() __asm__ volatile("" ::: "memory")

typedef struct tilecfg {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

/* B tiles: for activation tile t (16 rows) and chunk c, 1 KiB at
 * b + (t * nc + c) * 1024. */
static void pack_b(int64_t n, int64_t K, const int8_t *x, int64_t ldx, int64_t nt, int64_t nc,
                   uint8_t *b)
{
    memset(b, 0, (size_t)(nt * nc) * 1024);
    for (int64_t j = 0; j < n; j++) {
        const int8_t *xr = x + j * ldx;
        int64_t t = j / 16, col = j % 16;
        int64_t k0 = 0;
        for (; k0 + 4 <= K; k0 += 4) { /* constant-size copies compile to one move */
            int64_t c = k0 / 64, r = (k0 % 64) / 4;
            memcpy(b + (t * nc + c) * 1024 + r * 64 + col * 4, xr + k0, 4);
        }
        if (k0 < K) {
            int64_t c = k0 / 64, r = (k0 % 64) / 4;
            memcpy(b + (t * nc + c) * 1024 + r * 64 + col * 4, xr + k0, (size_t)(K - k0));
        }
    }
}

/* Block blk (64 bytes: chunks 4 blk .. 4 blk + 3) of the 32 rows (or the
 * rows < 32 left) of the t2k matrix at w, unpacked into the A tiles: for
 * tile a (0, 1) and chunk c, 1 KiB at a_buf + (c * 2 + a) * 1024; rows past
 * `rows` are zero. Row r sits in the panel of 4 rows at w + (r - r % 4) rb,
 * its blocks 64 P bytes apart (P rows in that panel). One load per row
 * gives its four chunks (shifts by constants, one AND each). */
static inline void unpack_block(int64_t rows, int64_t blk, const uint8_t *w, size_t rb,
                                uint8_t *a_buf)
{
    const __m512i m0 = _mm512_set1_epi8(0x03);
    uint8_t *dst = a_buf + blk * 4 * 2 * 1024;
    for (int64_t r = 0; r < 32; r++) {
        uint8_t *d = dst + (r / 16) * 1024 + (r % 16) * 64;
        __m512i v = _mm512_setzero_si512();
        if (r < rows) {
            int64_t p0 = r - r % BN_T2K_PANEL;
            int64_t P = rows - p0 < BN_T2K_PANEL ? rows - p0 : BN_T2K_PANEL;
            v = _mm512_loadu_si512(w + (size_t)p0 * rb + (size_t)(P * blk + r - p0) * 64);
        }
        _mm512_store_si512(d, _mm512_and_si512(v, m0));
        _mm512_store_si512(d + 2048, _mm512_and_si512(_mm512_srli_epi16(v, 2), m0));
        _mm512_store_si512(d + 4096, _mm512_and_si512(_mm512_srli_epi16(v, 4), m0));
        _mm512_store_si512(d + 6144, _mm512_and_si512(_mm512_srli_epi16(v, 6), m0));
    }
}

void bnk_t2k_gemm_amx(int64_t M, int64_t n, int64_t K, const uint8_t *w, const int8_t *x,
                      int64_t ldx, const int32_t *xsum, int32_t *y, int64_t ldy)
{
    if (M <= 0 || n <= 0)
        return;
    if (n < BNK_AMX_MIN_N) {
        bnk_t2k_gemm_avx512(M, n, K, w, x, ldx, xsum, y, ldy);
        return;
    }
    size_t rb = bn_t2k_row_bytes(K);
    int64_t nc = (int64_t)rb / 16; /* 64-weight chunks: 4 per 64-byte block */
    int64_t nt = (n + 15) / 16;
    int64_t nt2 = (nt + 1) & ~(int64_t)1; /* B tiles in pairs; the spare one is zero */
    uint8_t *b = NULL, *a = NULL;
    int32_t *cbuf = NULL;
    /* optional: without them the AVX-512 kernel computes the same result */
    b = alloc__aligned_optional(64, (size_t)(nt2 * nc) * 1024);
    a = alloc__aligned_optional(64, (size_t)(4 * nc) * 1024); /* two row blocks */
    cbuf = alloc__aligned_optional(64, 4 * 1024);
    if (!a || !b || !cbuf) {
        bnk_t2k_gemm_avx512(M, n, K, w, x, ldx, xsum, y, ldy);
        goto cleanup;
    }
    pack_b(n, K, x, ldx, nt2, nc, b);

    tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    _tile_loadconfig(&cfg);
    /* Software pipeline: while the tiles of row block i0 run (first pair
     * of activation tiles), the AVX-512 units unpack row block i0 + 32 into
     * the other half of `a`, a 64-byte block (4 chunks) per 4 chunks of
     * TDPBUSD, so the unpacking hides behind the tile work. */
    int64_t nblk = nc / 4;
    for (int64_t blk = 0; blk < nblk; blk++)
        unpack_block(M < 32 ? M : 32, blk, w, rb, a);
    for (int64_t i0 = 0, k = 0; i0 < M; i0 += 32, k++) {
        int64_t rows = M - i0 < 32 ? M - i0 : 32;
        uint8_t *cur = a + (k & 1) * 2 * nc * 1024, *nxt = a + ((k + 1) & 1) * 2 * nc * 1024;
        int64_t nrows = M - i0 - 32 < 32 ? M - i0 - 32 : 32; /* <= 0: none */
        const uint8_t *wn = w + (size_t)(i0 + 32) * rb;
        BARRIER();
        for (int64_t t = 0; t < nt2; t += 2) {
            const uint8_t *b0 = b + (t * nc) * 1024, *b1 = b + ((t + 1) * nc) * 1024;
            bool pipe = t == 0 && nrows > 0;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int64_t c = 0; c < nc; c++) {
                _tile_loadd(4, cur + (c * 2) * 1024, 64);
                _tile_loadd(5, cur + (c * 2 + 1) * 1024, 64);
                _tile_loadd(6, b0 + c * 1024, 64);
                _tile_loadd(7, b1 + c * 1024, 64);
                _tile_dpbusd(0, 4, 6);
                _tile_dpbusd(1, 4, 7);
                _tile_dpbusd(2, 5, 6);
                _tile_dpbusd(3, 5, 7);
                if (pipe && c % 4 == 3)
                    unpack_block(nrows, c / 4, wn, rb, nxt);
            }
            _tile_stored(0, cbuf, 64);
            _tile_stored(1, cbuf + 256, 64);
            _tile_stored(2, cbuf + 512, 64);
            _tile_stored(3, cbuf + 768, 64);
            BARRIER();
            /* C tile (ai, bj) at cbuf + (ai * 2 + bj) * 256: [row i][col j] */
            for (int ai = 0; ai < 2; ai++)
                for (int bj = 0; bj < 2; bj++) {
                    const int32_t *ct = cbuf + (ai * 2 + bj) * 256;
                    for (int jj = 0; jj < 16; jj++) {
                        int64_t j = (t + bj) * 16 + jj;
                        if (j >= n)
                            break;
                        for (int ii = 0; ii < 16; ii++) {
                            int64_t i = ai * 16 + ii;
                            if (i >= rows)
                                break;
                            y[j * ldy + i0 + i] = ct[ii * 16 + jj] - xsum[j];
                        }
                    }
                }
        }
    }
    _tile_release();
cleanup:
    alloc__free(a);
    alloc__free(b);
    alloc__free(cbuf);
}
