/*
 * The hash chain's SHA-256 compression with the x86 SHA extensions (SHA-NI).
 *
 * Every entry costs one SHA-256 compression (docs/ledger.md, "Entries and the hash chain").
 * BearSSL, which the rest of xroute uses, has only a portable SHA-256 (~3,600 instructions and
 * ~0.36 us per block here), and the chain was about 40% of the writer's instructions. The SHA
 * extensions do the same compression in a few dozen instructions. This file is only the
 * compression function: the chain's definition and every value it stores are unchanged, and
 * xr_ledger_verify recomputes the chain with BearSSL, so every verify cross-checks this code
 * against an independent implementation (and tests/unit/test_ledger.c compares the two
 * directly on random blocks).
 *
 * The CPU is asked once (cpuid); without the extensions, or on other architectures, the
 * writer keeps using BearSSL.
 */
#include "core/base/assert.h"
#include "core/ledger/ledger_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <cpuid.h>
#include <immintrin.h>

int lg_sha_ni_available(void)
{
    static int cached = -1; /* the writer's thread and the helper read it; both compute the same */
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v >= 0)
        return v;
    unsigned a, b, c, d;
    int ok = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1) &&
        __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA))
        ok = 1;
    __atomic_store_n(&cached, ok, __ATOMIC_RELAXED);
    return ok;
}

static const uint32_t k256[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

__attribute__((target("sha,ssse3,sse4.1"))) void
lg_sha256_chain_ni(uint8_t state_be[32], uint8_t *base, size_t stride, size_t n, size_t out_off)
{
    /* Reverses the bytes of each 32-bit lane: the message and the stored state are big-endian. */
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    __m128i abcd =
        _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)state_be), bswap);
    __m128i efgh =
        _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(state_be + 16)), bswap);
    /* The instructions keep the state as (A, B, E, F) and (C, D, G, H). */
    __m128i tmp = _mm_shuffle_epi32(abcd, 0xB1);   /* CDAB */
    efgh = _mm_shuffle_epi32(efgh, 0x1B);          /* HGFE */
    __m128i s0 = _mm_alignr_epi8(tmp, efgh, 8);    /* ABEF */
    __m128i s1 = _mm_blend_epi16(efgh, tmp, 0xF0); /* CDGH */
    for (size_t blk = 0; blk < n; blk++) {
        uint8_t *p = base + blk * stride;
        __m128i save0 = s0, save1 = s1;
        __m128i w[4];
        for (int i = 0; i < 16; i++) {
            __m128i wi;
            if (i < 4) {
                wi = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)),
                                      bswap);
            } else {
                /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four words at a time. */
                __m128i x = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                wi = _mm_sha256msg2_epu32(x, w[(i + 3) & 3]);
            }
            w[i & 3] = wi;
            __m128i msg =
                _mm_add_epi32(wi, _mm_load_si128((const __m128i *)(const void *)&k256[4 * i]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(msg, 0x0E));
        }
        s0 = _mm_add_epi32(s0, save0);
        s1 = _mm_add_epi32(s1, save1);
        /* Back to (A, B, C, D) and (E, F, G, H), stored big-endian after the block. */
        __m128i feba = _mm_shuffle_epi32(s0, 0x1B);
        __m128i dchg = _mm_shuffle_epi32(s1, 0xB1);
        __m128i out0 = _mm_blend_epi16(feba, dchg, 0xF0); /* DCBA: lane 0 is A */
        __m128i out1 = _mm_alignr_epi8(dchg, feba, 8);    /* HGFE: lane 0 is E */
        _mm_storeu_si128((__m128i *)(void *)(p + out_off), _mm_shuffle_epi8(out0, bswap));
        _mm_storeu_si128((__m128i *)(void *)(p + out_off + 16), _mm_shuffle_epi8(out1, bswap));
        if (blk + 1 == n) {
            memcpy(state_be, p + out_off, 32);
        }
    }
}

#else

int lg_sha_ni_available(void)
{
    return 0;
}

void lg_sha256_chain_ni(uint8_t state_be[32], uint8_t *base, size_t stride, size_t n,
                        size_t out_off)
{
    (void)state_be;
    (void)base;
    (void)stride;
    (void)n;
    (void)out_off;
    XR_ASSERT(0);
}

#endif
