/* Fixed-size object pool: footprint and argument checks, exhaustion, reuse, every object
 * distinct, aligned and inside the caller's memory, index round trips, and misuse (double put,
 * foreign or interior pointer) caught by XR_ASSERT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ring/pool.h"

typedef struct test_pool {
    xr_pool pool;
    void *mem;
    size_t len;
} test_pool;

static void pool_new(test_pool *t, uint32_t capacity, uint32_t obj_size, uint32_t obj_align)
{
    t->len = xr_pool_footprint(capacity, obj_size, obj_align);
    assert_true(t->len > 0);
    size_t align = obj_align < 8 ? 8 : obj_align;
    size_t rounded = (t->len + align - 1) & ~(align - 1);
    t->mem = aligned_alloc(align, rounded);
    assert_non_null(t->mem);
    assert_int_equal(xr_pool_init(&t->pool, t->mem, t->len, capacity, obj_size, obj_align), XR_OK);
}

static void expect_abort(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, STDERR_FILENO);
        fn();
        _exit(0); /* the misuse was not caught */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_footprint(void **state)
{
    (void)state;
    /* Objects are rounded up to their alignment (at least 8), plus one state byte each. */
    assert_int_equal(xr_pool_footprint(10, 24, 8), 10 * 24 + 10);
    assert_int_equal(xr_pool_footprint(10, 20, 8), 10 * 24 + 10);
    assert_int_equal(xr_pool_footprint(10, 1, 1), 10 * 8 + 10);
    assert_int_equal(xr_pool_footprint(4, 100, 64), 4 * 128 + 4);
    assert_int_equal(xr_pool_footprint(3, 64, 64), 3 * 64 + 3);
    assert_int_equal(xr_pool_footprint(1, 4096, 4096), 4096 + 1);
    /* Invalid arguments. */
    assert_int_equal(xr_pool_footprint(0, 8, 8), 0);
    assert_int_equal(xr_pool_footprint(10, 0, 8), 0);
    assert_int_equal(xr_pool_footprint(10, 8, 0), 0);
    assert_int_equal(xr_pool_footprint(10, 8, 24), 0);
    assert_int_equal(xr_pool_footprint(10, 8, 8192), 0);
    assert_int_equal(xr_pool_footprint(UINT32_MAX, 8, 8), 0);
}

static void test_init_rejects_invalid_arguments(void **state)
{
    (void)state;
    static _Alignas(64) unsigned char mem[4096];
    xr_pool p;
    size_t need = xr_pool_footprint(16, 32, 64);
    assert_true(need <= sizeof mem);
    assert_int_equal(xr_pool_init(NULL, mem, sizeof mem, 16, 32, 64), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pool_init(&p, NULL, sizeof mem, 16, 32, 64), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pool_init(&p, mem, need - 1, 16, 32, 64), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pool_init(&p, mem + 8, sizeof mem - 8, 16, 32, 64),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pool_init(&p, mem, sizeof mem, 0, 32, 64), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pool_init(&p, mem, sizeof mem, 16, 32, 48), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pool_init(&p, mem, need, 16, 32, 64), XR_OK);
    assert_int_equal(xr_pool_capacity(&p), 16);
    assert_int_equal(xr_pool_free_count(&p), 16);
}

/* Every object is distinct, aligned, inside the memory, and does not overlap another, for
 * power-of-two and other strides. */
static void test_objects_distinct_and_aligned(void **state)
{
    (void)state;
    static const struct {
        uint32_t size, align;
    } shapes[] = {{1, 1}, {8, 8}, {24, 8}, {40, 16}, {100, 64}, {64, 64}, {200, 128}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        enum { CAP = 257 };
        test_pool t;
        pool_new(&t, CAP, shapes[s].size, shapes[s].align);
        uint32_t align = shapes[s].align < 8 ? 8 : shapes[s].align;
        unsigned char *objs[CAP];
        for (uint32_t i = 0; i < CAP; i++) {
            objs[i] = xr_pool_get(&t.pool);
            assert_non_null(objs[i]);
            assert_true(((uintptr_t)objs[i] % align) == 0);
            assert_true(objs[i] >= (unsigned char *)t.mem);
            assert_true(objs[i] + shapes[s].size <= (unsigned char *)t.mem + t.len);
            assert_int_equal(xr_pool_index(&t.pool, objs[i]), i); /* a fresh pool is in order */
            assert_ptr_equal(xr_pool_at(&t.pool, i), objs[i]);
            /* Fill the object entirely: it must not overlap any other live object. */
            memset(objs[i], (int)(i & 0xFF), shapes[s].size);
        }
        for (uint32_t i = 0; i < CAP; i++) {
            for (uint32_t b = 0; b < shapes[s].size; b++)
                assert_int_equal(objs[i][b], i & 0xFF);
            if (i > 0)
                assert_true(objs[i] >= objs[i - 1] + shapes[s].size);
        }
        for (uint32_t i = 0; i < CAP; i++)
            xr_pool_put(&t.pool, objs[i]);
        assert_int_equal(xr_pool_free_count(&t.pool), CAP);
        free(t.mem);
    }
}

static void test_exhaustion(void **state)
{
    (void)state;
    enum { CAP = 8 };
    test_pool t;
    pool_new(&t, CAP, 48, 16);
    void *objs[CAP];
    for (uint32_t i = 0; i < CAP; i++) {
        assert_int_equal(xr_pool_free_count(&t.pool), CAP - i);
        objs[i] = xr_pool_get(&t.pool);
        assert_non_null(objs[i]);
    }
    assert_int_equal(xr_pool_free_count(&t.pool), 0);
    /* Exhausted: NULL, repeatedly, with nothing changed. */
    assert_null(xr_pool_get(&t.pool));
    assert_null(xr_pool_get(&t.pool));
    assert_int_equal(xr_pool_free_count(&t.pool), 0);
    /* One back, one out again: the same object. */
    xr_pool_put(&t.pool, objs[5]);
    assert_int_equal(xr_pool_free_count(&t.pool), 1);
    assert_ptr_equal(xr_pool_get(&t.pool), objs[5]);
    assert_null(xr_pool_get(&t.pool));
    for (uint32_t i = 0; i < CAP; i++)
        xr_pool_put(&t.pool, objs[i]);
    assert_int_equal(xr_pool_free_count(&t.pool), CAP);
    free(t.mem);
}

/* Objects are reused last-in first-out (the warmest first), and a long random sequence of
 * gets and puts never hands out a live object twice nor loses one. */
static void test_reuse(void **state)
{
    (void)state;
    enum { CAP = 64 };
    test_pool t;
    pool_new(&t, CAP, 24, 8);
    void *a = xr_pool_get(&t.pool);
    void *b = xr_pool_get(&t.pool);
    xr_pool_put(&t.pool, a);
    xr_pool_put(&t.pool, b);
    assert_ptr_equal(xr_pool_get(&t.pool), b);
    assert_ptr_equal(xr_pool_get(&t.pool), a);
    xr_pool_put(&t.pool, a);
    xr_pool_put(&t.pool, b);

    /* live[i] is the object held in slot i of our table, or NULL. Each live object carries its
     * own address as content, so any object handed out twice would be overwritten. */
    void *live[CAP] = {0};
    uint32_t held = 0;
    uint64_t rng = 88172645463325252u;
    for (uint32_t step = 0; step < 200000; step++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        uint32_t i = (uint32_t)(rng % CAP);
        if (live[i] == NULL) {
            void *o = xr_pool_get(&t.pool);
            assert_non_null(o); /* at most CAP are held, so never exhausted here */
            memcpy(o, &o, sizeof o);
            memset((unsigned char *)o + 8, (int)i, 16);
            live[i] = o;
            held++;
        } else {
            void *check;
            memcpy(&check, live[i], sizeof check);
            assert_ptr_equal(check, live[i]);
            assert_int_equal(((unsigned char *)live[i])[23], i);
            xr_pool_put(&t.pool, live[i]);
            live[i] = NULL;
            held--;
        }
        assert_int_equal(xr_pool_free_count(&t.pool), CAP - held);
    }
    for (uint32_t i = 0; i < CAP; i++)
        if (live[i] != NULL)
            xr_pool_put(&t.pool, live[i]);
    assert_int_equal(xr_pool_free_count(&t.pool), CAP);
    free(t.mem);
}

/* ---- misuse is caught by XR_ASSERT ---- */

static void misuse_double_put(void)
{
    test_pool t;
    pool_new(&t, 4, 32, 8);
    void *o = xr_pool_get(&t.pool);
    xr_pool_put(&t.pool, o);
    xr_pool_put(&t.pool, o);
}

static void misuse_put_foreign_pointer(void)
{
    test_pool t;
    pool_new(&t, 4, 32, 8);
    static uint64_t elsewhere[4];
    xr_pool_put(&t.pool, elsewhere);
}

static void misuse_put_interior_pointer(void)
{
    test_pool t;
    pool_new(&t, 4, 32, 8);
    unsigned char *o = xr_pool_get(&t.pool);
    xr_pool_put(&t.pool, o + 8);
}

static void misuse_put_never_got(void)
{
    test_pool t;
    pool_new(&t, 4, 40, 8); /* a stride that is not a power of two */
    unsigned char *o = xr_pool_get(&t.pool);
    xr_pool_put(&t.pool, o + 40); /* object 1, which is still free */
}

static void misuse_put_other_pool(void)
{
    test_pool a, b;
    pool_new(&a, 4, 32, 8);
    pool_new(&b, 4, 32, 8);
    xr_pool_put(&a.pool, xr_pool_get(&b.pool));
}

static void misuse_put_null(void)
{
    test_pool t;
    pool_new(&t, 4, 32, 8);
    xr_pool_put(&t.pool, NULL);
}

static void test_misuse_aborts(void **state)
{
    (void)state;
    expect_abort(misuse_double_put);
    expect_abort(misuse_put_foreign_pointer);
    expect_abort(misuse_put_interior_pointer);
    expect_abort(misuse_put_never_got);
    expect_abort(misuse_put_other_pool);
    expect_abort(misuse_put_null);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_footprint),
        cmocka_unit_test(test_init_rejects_invalid_arguments),
        cmocka_unit_test(test_objects_distinct_and_aligned),
        cmocka_unit_test(test_exhaustion),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_misuse_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
