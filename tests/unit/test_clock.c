/* Clocks: monotonic never goes back, wall time agrees with time(2), RFC 3339 formatting of
 * known instants (computed by hand from the Unix epoch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "core/base/clock.h"

static void test_monotonic_never_goes_back(void **state)
{
    (void)state;
    uint64_t prev = xr_clock_mono_ns();
    for (int i = 0; i < 100000; i++) {
        uint64_t now = xr_clock_mono_ns();
        assert_true(now >= prev);
        prev = now;
    }
}

static void test_wall_matches_time(void **state)
{
    (void)state;
    time_t before = time(NULL);
    int64_t wall = xr_clock_wall_ns();
    time_t after = time(NULL);
    assert_true(wall / 1000000000 >= (int64_t)before);
    assert_true(wall / 1000000000 <= (int64_t)after);
}

static void expect_rfc3339(int64_t ns, const char *want)
{
    char buf[XR_CLOCK_RFC3339_MAX];
    size_t n = xr_clock_format_rfc3339(ns, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_rfc3339(void **state)
{
    (void)state;
    expect_rfc3339(0, "1970-01-01T00:00:00.000000Z");
    /* 1700000000 s is 2023-11-14 22:13:20 UTC. */
    expect_rfc3339(1700000000123456789LL, "2023-11-14T22:13:20.123456Z");
    /* One nanosecond before the epoch still belongs to the last second of 1969. */
    expect_rfc3339(-1, "1969-12-31T23:59:59.999999Z");
    /* 951782400 s is 2000-02-29 00:00:00 UTC (a leap day). */
    expect_rfc3339(951782400LL * 1000000000LL, "2000-02-29T00:00:00.000000Z");
    char small[8];
    assert_int_equal(xr_clock_format_rfc3339(0, small, sizeof small), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotonic_never_goes_back),
        cmocka_unit_test(test_wall_matches_time),
        cmocka_unit_test(test_rfc3339),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
