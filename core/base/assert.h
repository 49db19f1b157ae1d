/*
 * XR_ASSERT: an assertion that stays on in every build (TigerBeetle's TIGER_STYLE). Use it
 * for O(1) checks of arguments, results, invariants and loop bounds; a failure is a bug in
 * xroute, so it logs where and aborts rather than continuing with corrupt state.
 */
#ifndef XR_BASE_ASSERT_H
#define XR_BASE_ASSERT_H

#ifdef __cplusplus
extern "C" {
#endif

_Noreturn void xr_assert_fail(const char *expr, const char *file, int line);

#define XR_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0))                                                          \
            xr_assert_fail(#cond, __FILE__, __LINE__);                                             \
    } while (0)

#define XR_LIKELY(x)   __builtin_expect(!!(x), 1)
#define XR_UNLIKELY(x) __builtin_expect(!!(x), 0)

#ifdef __cplusplus
}
#endif

#endif /* XR_BASE_ASSERT_H */
