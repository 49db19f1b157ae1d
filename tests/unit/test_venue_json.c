/* The venue JSON pull reader (adapters/venues/json.h): RFC 8259 acceptance and refusal over
 * a table of documents (validated by skipping), typed reads with exact integer bounds, the
 * raw hot-path hooks, escapes and UTF-8 (unescaping, surrogate pairs), sticky errors with
 * offsets, and the nesting limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "adapters/venues/json.h"

static bool valid(const char *doc)
{
    xr_json j;
    xr_json_init(&j, doc, strlen(doc));
    return xr_json_skip(&j) && xr_json_finish(&j);
}

static void test_grammar(void **state)
{
    (void)state;
    static const char *const good[] = {
        "{}",
        "[]",
        " { \"a\" : [ 1 , -2.5e+3 , 0 , 0.0 , 1E9 , true , false , null ] } ",
        "\"\"",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"",
        "0",
        "-0",
        "123456789012345678901234567890",
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
        "[[[[[]]]]]",
        "{\"a\":{\"b\":{}}}",
        "{\"\":1}",
        "\t\r\n[1]\t\r\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!valid(good[i]))
            fail_msg("refused: %s", good[i]);
    }
    static const char *const bad[] = {
        "",
        " ",
        "{",
        "}",
        "[",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{,\"a\":1}",
        "{\"a\" 1}",
        "{\"a\":}",
        "{a:1}",
        "{'a':1}",
        "[01]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[-]",
        "[+1]",
        "[NaN]",
        "[tru]",
        "[truex]",
        "[nul]",
        "\"abc",
        "\"a\\x\"",
        "\"a\\u12G4\"",
        "\"a\tb\"",
        "\"\x01\"",
        "\"\xff\"",
        "\"\xc0\xaf\"",
        "\"\xe0\x80\xaf\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\"\xe2\x82\"",
        "[1 2]",
        "[1}",
        "{\"a\":1]",
        "[1] x",
        "[1][2]",
        "// c\n[]",
        "/* c */[]",
        "[\"a\"\"b\"]",
        "{\"a\":1 \"b\":2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (valid(bad[i]))
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_typed_reads(void **state)
{
    (void)state;
    const char *doc = "{\"i\":-9223372036854775808,\"u\":18446744073709551615,\"s\":\"x\\ny\","
                      "\"b\":false,\"n\":null,\"f\":1.5,\"big\":9223372036854775808}";
    xr_json j;
    xr_json_init(&j, doc, strlen(doc));
    xr_json_str k, s;
    int64_t i64;
    uint64_t u64;
    bool b;
    assert_true(xr_json_object_begin(&j));
    assert_true(xr_json_object_next(&j, &k));
    assert_true(XR_JSON_IS(k, "i"));
    assert_true(xr_json_int64(&j, &i64));
    assert_true(i64 == INT64_MIN);
    assert_true(xr_json_object_next(&j, &k));
    assert_true(xr_json_uint64(&j, &u64));
    assert_true(u64 == UINT64_MAX);
    assert_true(xr_json_object_next(&j, &k));
    assert_int_equal(xr_json_peek(&j), XR_JSON_STRING);
    assert_true(xr_json_string(&j, &s));
    assert_true(s.escaped);
    char buf[8];
    assert_int_equal(xr_json_unescape(&s, buf, sizeof buf), 3);
    assert_string_equal(buf, "x\ny");
    assert_true(xr_json_object_next(&j, &k));
    assert_true(xr_json_bool(&j, &b));
    assert_false(b);
    assert_true(xr_json_object_next(&j, &k));
    assert_true(xr_json_null(&j));
    assert_true(xr_json_object_next(&j, &k));
    xr_json probe = j;
    assert_false(xr_json_int64(&probe, &i64)); /* 1.5 is not an integer */
    assert_string_equal(probe.err_reason, "expected integer");
    assert_true(xr_json_number_text(&j, &s));
    assert_int_equal(s.len, 3);
    assert_true(xr_json_object_next(&j, &k));
    probe = j;
    assert_false(xr_json_int64(&probe, &i64)); /* INT64_MAX + 1 */
    assert_string_equal(probe.err_reason, "integer out of range");
    assert_true(xr_json_uint64(&j, &u64));
    assert_false(xr_json_object_next(&j, &k));
    assert_false(xr_json_failed(&j));
    assert_true(xr_json_finish(&j));

    /* Overflow of uint64 and a negative unsigned. */
    xr_json_init(&j, "18446744073709551616", 20);
    assert_false(xr_json_uint64(&j, &u64));
    xr_json_init(&j, "-1", 2);
    assert_false(xr_json_uint64(&j, &u64));
    assert_string_equal(j.err_reason, "expected unsigned integer");
}

static void test_errors_sticky_with_offsets(void **state)
{
    (void)state;
    const char *doc = "[1, 2, x]";
    xr_json j;
    xr_json_init(&j, doc, strlen(doc));
    assert_false(xr_json_skip(&j));
    assert_true(xr_json_failed(&j));
    assert_int_equal(j.err_offset, 7);
    assert_string_equal(j.err_reason, "expected value");
    /* Every later call fails without moving. */
    int64_t v;
    assert_false(xr_json_int64(&j, &v));
    assert_false(xr_json_finish(&j));
    assert_int_equal(xr_json_peek(&j), XR_JSON_NONE);
    assert_int_equal(j.err_offset, 7);
    /* The first failure wins. */
    assert_false(xr_json_fail_at(&j, 1, "later"));
    assert_string_equal(j.err_reason, "expected value");

    xr_json_init(&j, "{\"a\":\"b", 7);
    assert_false(xr_json_skip(&j));
    assert_string_equal(j.err_reason, "truncated");
    assert_int_equal(j.err_offset, 7);
    xr_json_init(&j, "\"a\xc3\"", 4);
    assert_false(xr_json_skip(&j));
    assert_string_equal(j.err_reason, "invalid UTF-8");
    assert_int_equal(j.err_offset, 3);
}

static void test_nesting_limit(void **state)
{
    (void)state;
    char doc[2 * (XR_JSON_DEPTH_MAX + 1) + 1];
    for (size_t n = XR_JSON_DEPTH_MAX; n <= XR_JSON_DEPTH_MAX + 1; n++) {
        /* memset, not an index loop: gcc 12 at -O3 misjudges the loop's bounds
         * (-Wstringop-overflow) although every index is below sizeof doc. */
        memset(doc, '[', n);
        memset(doc + n, ']', n);
        doc[2 * n] = '\0';
        assert_int_equal(valid(doc), n == XR_JSON_DEPTH_MAX);
    }
}

static void test_unescape(void **state)
{
    (void)state;
    xr_json_str s = {"a\\u00e9\\uD83D\\uDE00\\/", 21, true};
    char buf[32];
    assert_int_equal(xr_json_unescape(&s, buf, sizeof buf), 1 + 2 + 4 + 1);
    assert_string_equal(buf, "a\xc3\xa9\xf0\x9f\x98\x80/");
    assert_int_equal(xr_json_unescape(&s, buf, 5), SIZE_MAX); /* does not fit */
    xr_json_str lone = {"\\uD83Dx", 7, true};
    assert_int_equal(xr_json_unescape(&lone, buf, sizeof buf), SIZE_MAX);
    xr_json_str low = {"\\uDE00", 6, true};
    assert_int_equal(xr_json_unescape(&low, buf, sizeof buf), SIZE_MAX);
}

static void test_raw_hooks(void **state)
{
    (void)state;
    const char *doc = "[ [\"1\",\"2\"] , 3]";
    xr_json j;
    xr_json_init(&j, doc, strlen(doc));
    assert_true(xr_json_array_begin(&j));
    assert_true(xr_json_array_next(&j));
    const char *at = xr_json_raw_begin(&j);
    assert_ptr_equal(at, doc + 2); /* after the whitespace */
    xr_json_raw_end(&j, doc + 11); /* the caller read ["1","2"] itself */
    assert_true(xr_json_array_next(&j));
    int64_t v;
    assert_true(xr_json_int64(&j, &v));
    assert_int_equal(v, 3);
    assert_false(xr_json_array_next(&j));
    assert_true(xr_json_finish(&j));
    /* No raw value may start after a failure. */
    xr_json_init(&j, "x", 1);
    assert_false(xr_json_skip(&j));
    assert_null(xr_json_raw_begin(&j));
}

static void test_key_compare(void **state)
{
    (void)state;
    xr_json_str plain = {"e", 1, false}, escaped = {"\\u0065", 6, true};
    assert_true(XR_JSON_IS(plain, "e"));
    assert_false(XR_JSON_IS(plain, "E"));
    assert_false(XR_JSON_IS(plain, "ee"));
    assert_false(XR_JSON_IS(escaped, "e")); /* escaped keys never match a literal */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grammar),
        cmocka_unit_test(test_typed_reads),
        cmocka_unit_test(test_errors_sticky_with_offsets),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_raw_hooks),
        cmocka_unit_test(test_key_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
