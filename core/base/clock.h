/*
 * Clocks. Monotonic nanoseconds measure intervals (timeouts, latency, staleness); wall-clock
 * nanoseconds since the Unix epoch stamp records (ledger entries, reports, logs). Nothing
 * that decides an order's fate reads the wall clock twice and subtracts.
 *
 * Threading: every function is thread-safe and lock-free (vDSO clock_gettime).
 */
#ifndef XR_BASE_CLOCK_H
#define XR_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XR_NS_PER_US  1000ull
#define XR_NS_PER_MS  1000000ull
#define XR_NS_PER_SEC 1000000000ull

/* CLOCK_MONOTONIC in nanoseconds: never goes backwards, unrelated to the date. */
uint64_t xr_clock_mono_ns(void);

/* CLOCK_REALTIME in nanoseconds since 1970-01-01T00:00:00Z. */
int64_t xr_clock_wall_ns(void);

/* Writes `wall_ns` as RFC 3339 UTC with microseconds ("2026-11-21T15:25:34.123456Z"),
 * NUL-terminated. Returns the length, or 0 when `cap` < XR_CLOCK_RFC3339_MAX. */
#define XR_CLOCK_RFC3339_MAX 32
size_t xr_clock_format_rfc3339(int64_t wall_ns, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* XR_BASE_CLOCK_H */
