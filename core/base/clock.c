#include "core/base/clock.h"

#include <stdio.h>
#include <time.h>

#include "core/base/assert.h"

uint64_t xr_clock_mono_ns(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer; a failure means a broken system. */
    XR_ASSERT(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    return (uint64_t)ts.tv_sec * XR_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

int64_t xr_clock_wall_ns(void)
{
    struct timespec ts;
    XR_ASSERT(clock_gettime(CLOCK_REALTIME, &ts) == 0);
    return (int64_t)ts.tv_sec * (int64_t)XR_NS_PER_SEC + (int64_t)ts.tv_nsec;
}

size_t xr_clock_format_rfc3339(int64_t wall_ns, char *buf, size_t cap)
{
    if (cap < XR_CLOCK_RFC3339_MAX)
        return 0;
    /* Floor division so instants before 1970 still print the right second. */
    int64_t sec = wall_ns / (int64_t)XR_NS_PER_SEC;
    int64_t rem = wall_ns % (int64_t)XR_NS_PER_SEC;
    if (rem < 0) {
        rem += (int64_t)XR_NS_PER_SEC;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        buf[0] = '\0';
        return 0;
    }
    int n =
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(rem / 1000));
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n;
}
