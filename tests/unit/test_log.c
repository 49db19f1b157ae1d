/* Structured logging: line shape, quoting, level threshold, truncation, and that secrets are
 * replaced by [REDACTED] however they reach a line. Lines are captured through a pipe. */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/base/log.h"

static int pipe_fds[2];

static int setup(void **state)
{
    (void)state;
    if (pipe(pipe_fds) != 0)
        return -1;
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    fcntl(pipe_fds[1], F_SETPIPE_SZ, 1 << 20);
    xr_log_set_fd(pipe_fds[1]);
    xr_log_set_level(XR_LOG_DEBUG);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    xr_log_set_fd(2);
    xr_log_clear_secrets();
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return 0;
}

/* Everything written since the last call. */
static size_t drain(char *buf, size_t cap)
{
    ssize_t n = read(pipe_fds[0], buf, cap - 1);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    return (size_t)n;
}

static void test_line_shape(void **state)
{
    (void)state;
    char out[4096];
    drain(out, sizeof out);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "ledger", "commit");
    xr_log_u64(&l, "batch", 256);
    xr_log_i64(&l, "delta", -42);
    xr_log_str(&l, "path", "var/xroute");
    xr_log_err(&l, XR_ERR_STORAGE_FULL);
    xr_log_end(&l);
    size_t n = drain(out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(out[n - 1], '\n');
    assert_memory_equal(out, "ts=", 3);
    /* ts=YYYY-MM-DDTHH:MM:SS.uuuuuuZ is 3 + 27 bytes. */
    assert_int_equal(out[3 + 26], 'Z');
    assert_string_equal(out + 3 + 27,
                        " level=info mod=ledger ev=commit batch=256 delta=-42 path=var/xroute "
                        "err=STORAGE_FULL\n");
}

static void test_quoting(void **state)
{
    (void)state;
    char out[4096];
    drain(out, sizeof out);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_WARN, "net", "peer");
    xr_log_str(&l, "a", "two words");
    xr_log_str(&l, "b", "say \"hi\"\\");
    xr_log_str(&l, "c", "k=v");
    xr_log_str(&l, "d", "");
    xr_log_str(&l, "e", "line\nbreak\x01");
    xr_log_end(&l);
    drain(out, sizeof out);
    const char *fields = strstr(out, " a=");
    assert_non_null(fields);
    assert_string_equal(fields, " a=\"two words\" b=\"say \\\"hi\\\"\\\\\" c=\"k=v\" d=\"\" "
                                "e=\"line\\nbreak\\x01\"\n");
}

static void test_level_threshold(void **state)
{
    (void)state;
    char out[4096];
    drain(out, sizeof out);
    xr_log_set_level(XR_LOG_WARN);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "x", "dropped");
    xr_log_str(&l, "k", "v");
    xr_log_end(&l);
    assert_int_equal(drain(out, sizeof out), 0);
    xr_log_begin(&l, XR_LOG_ERROR, "x", "kept");
    xr_log_end(&l);
    drain(out, sizeof out);
    assert_non_null(strstr(out, "level=error mod=x ev=kept"));
    xr_log_set_level(XR_LOG_OFF);
    xr_log_begin(&l, XR_LOG_ERROR, "x", "off");
    xr_log_end(&l);
    assert_int_equal(drain(out, sizeof out), 0);
    xr_log_set_level(XR_LOG_DEBUG);

    xr_log_level lv;
    assert_int_equal(xr_log_level_parse("warn", &lv), XR_OK);
    assert_int_equal(lv, XR_LOG_WARN);
    assert_int_equal(xr_log_level_parse("WARN", &lv), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_log_level_parse("verbose", &lv), XR_ERR_INVALID_ARGUMENT);
}

static void test_secret_field_is_redacted(void **state)
{
    (void)state;
    char out[4096];
    drain(out, sizeof out);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "venue", "login");
    xr_log_secret(&l, "api_secret",
                  "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j");
    xr_log_end(&l);
    drain(out, sizeof out);
    assert_non_null(strstr(out, " api_secret=[REDACTED]\n"));
    assert_null(strstr(out, "NhqPtmdS"));
}

static void test_registered_secret_is_scrubbed_anywhere(void **state)
{
    (void)state;
    const char *secret = "s3cr3t-master-key-0123456789";
    assert_int_equal(xr_log_register_secret(secret, strlen(secret)), XR_OK);
    assert_int_equal(xr_log_register_secret(secret, strlen(secret)), XR_OK); /* idempotent */
    assert_int_equal(xr_log_register_secret("abc", 3), XR_ERR_INVALID_ARGUMENT);
    char out[4096];
    drain(out, sizeof out);
    char echoed[200];
    snprintf(echoed, sizeof echoed, "GET /order?key=%s&x=%s", secret, secret);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_ERROR, "venue", "echo");
    xr_log_str(&l, "request", echoed);
    xr_log_str(&l, secret, "as a key too");
    xr_log_end(&l);
    drain(out, sizeof out);
    assert_null(strstr(out, "s3cr3t"));
    assert_non_null(strstr(out, "request=\"GET /order?key=[REDACTED]&x=[REDACTED]\""));
    assert_non_null(strstr(out, " [REDACTED]=\"as a key too\""));

    /* The scrubber used by other writers: growth past cap cuts the tail, never leaks. */
    char buf[32] = "key=s3cr3t-master-key-0123456789";
    size_t n = xr_log_scrub(buf, 32, sizeof buf);
    assert_int_equal(n, strlen("key=[REDACTED]"));
    assert_memory_equal(buf, "key=[REDACTED]", n);
    char tight[40];
    memcpy(tight, "0123456789012345678901234567 ab s3cr3t", 39);
    /* The secret is cut off at the end of the buffer: the partial tail is not the secret. */
    n = xr_log_scrub(tight, 39, 39);
    assert_int_equal(n, 39);
    xr_log_clear_secrets();
    drain(out, sizeof out);
    xr_log_begin(&l, XR_LOG_ERROR, "venue", "after_clear");
    xr_log_str(&l, "k", secret);
    xr_log_end(&l);
    drain(out, sizeof out);
    assert_non_null(strstr(out, secret));
}

static void test_truncation(void **state)
{
    (void)state;
    char out[8192];
    drain(out, sizeof out);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "x", "big");
    xr_log_str(&l, "blob", big);
    xr_log_u64(&l, "after", 1);
    xr_log_end(&l);
    size_t n = drain(out, sizeof out);
    assert_true(n <= XR_LOG_LINE_MAX);
    assert_int_equal(out[n - 1], '\n');
    assert_non_null(strstr(out, " truncated=1\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_threshold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_field_is_redacted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registered_secret_is_scrubbed_anywhere, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
