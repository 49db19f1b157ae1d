/* Error codes: every value has a stable, unique name and a message; the wire values of the
 * codes named in DESIGN.md section 7 are pinned here independently of the enum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "xroute/err.h"

static void test_every_value_has_name_and_message(void **state)
{
    (void)state;
    for (int i = 0; i < (int)XR_ERR__COUNT; i++) {
        const char *name = xr_err_name((xr_err)i);
        const char *msg = xr_err_message((xr_err)i);
        assert_non_null(name);
        assert_non_null(msg);
        assert_string_not_equal(name, "UNKNOWN");
        assert_true(strlen(name) >= 2);
        for (const char *p = name; *p; p++)
            assert_true((*p >= 'A' && *p <= 'Z') || *p == '_');
        assert_true(strlen(msg) > 3);
        assert_null(strchr(msg, '\n'));
        assert_int_equal(xr_err_from_name(name), i);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(name, xr_err_name((xr_err)j));
    }
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_string_equal(xr_err_name(XR_ERR__COUNT), "UNKNOWN");
    assert_string_equal(xr_err_name((xr_err)-1), "UNKNOWN");
    assert_string_equal(xr_err_name((xr_err)100000), "UNKNOWN");
    assert_string_equal(xr_err_message((xr_err)-7), "unknown error code");
    assert_int_equal(xr_err_from_name("NO_SUCH_CODE"), XR_ERR__COUNT);
    assert_int_equal(xr_err_from_name("insufficient_funds"), XR_ERR__COUNT);
    assert_int_equal(xr_err_from_name(NULL), XR_ERR__COUNT);
}

/* These values travel on the wire and in CLI output: changing one breaks banks. */
static void test_pinned_wire_values(void **state)
{
    (void)state;
    static const struct {
        int value;
        const char *name;
    } pinned[] = {
        {0, "OK"},
        {1, "INSUFFICIENT_FUNDS"},
        {2, "INSUFFICIENT_LIQUIDITY"},
        {3, "SLIPPAGE_EXCEEDED"},
        {4, "QUOTE_EXPIRED"},
        {5, "BANK_CONNECTION"},
        {6, "LIMIT_EXCEEDED"},
        {7, "UNKNOWN_PAIR"},
        {8, "BELOW_MIN_SIZE"},
        {9, "INVALID_AMOUNT"},
        {10, "IDEMPOTENCY_CONFLICT"},
        {11, "RATE_LIMITED"},
        {12, "VENUE_UNAVAILABLE"},
        {13, "UNAUTHORIZED"},
        {14, "MALFORMED"},
        {15, "NOT_FOUND"},
        {16, "INVALID_STATE"},
        {17, "OVERFLOW"},
        {18, "AGAIN"},
        {19, "IO"},
        {20, "NO_MEMORY"},
        {21, "CONFIG"},
        {22, "TIMEOUT"},
        {23, "UNKNOWN_ASSET"},
        {24, "ASSET_MISMATCH"},
        {25, "ALREADY_EXISTS"},
        {26, "STORAGE_FULL"},
        {27, "CORRUPT"},
        {28, "INVALID_ARGUMENT"},
        {29, "STALE"},
        {30, "REJECTED"},
        {31, "INTERNAL"},
        {32, "NOT_SUPPORTED"},
    };
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++)
        assert_string_equal(xr_err_name((xr_err)pinned[i].value), pinned[i].name);
    /* Codes may be appended, never removed. */
    assert_true((int)XR_ERR__COUNT >= (int)(sizeof pinned / sizeof pinned[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_value_has_name_and_message),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_pinned_wire_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
