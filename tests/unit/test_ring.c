/* SPSC ring: single-thread semantics (empty, full, wrap-around, partial batches, zero-copy
 * reserve/commit and peek/release, argument checking, misuse caught by XR_ASSERT), then a
 * two-thread stress test that moves sequenced, checksummed messages through small and larger
 * rings with a random mix of every producer and consumer call. This test also runs in the
 * ThreadSanitizer build (ctest label "tsan"). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/ring/spsc_ring.h"

/* ---- helpers ---- */

/* A ring and its slot memory, allocated the way a stage would: aligned, caller-owned. */
typedef struct test_ring {
    xr_spsc_ring *ring;
    void *mem;
} test_ring;

static test_ring ring_new(uint32_t capacity, uint32_t slot_size)
{
    test_ring t;
    size_t len = xr_spsc_ring_footprint(capacity, slot_size);
    assert_true(len > 0);
    t.ring = aligned_alloc(alignof(xr_spsc_ring), sizeof(xr_spsc_ring));
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t rounded = (len + XR_SPSC_RING_MEM_ALIGN - 1) & ~(size_t)(XR_SPSC_RING_MEM_ALIGN - 1);
    t.mem = aligned_alloc(XR_SPSC_RING_MEM_ALIGN, rounded);
    assert_non_null(t.ring);
    assert_non_null(t.mem);
    assert_int_equal(xr_spsc_ring_init(t.ring, t.mem, len, capacity, slot_size), XR_OK);
    return t;
}

static void ring_free(test_ring *t)
{
    free(t->ring);
    free(t->mem);
}

/* Fills a message of `words` 8-byte words with a pattern derived from its sequence number. */
static void msg_fill(uint64_t *m, uint32_t words, uint64_t seq)
{
    m[0] = seq;
    for (uint32_t i = 1; i < words; i++)
        m[i] = seq * 0x9E3779B97F4A7C15u + i;
}

static int msg_check(const uint64_t *m, uint32_t words, uint64_t seq)
{
    if (m[0] != seq)
        return 0;
    for (uint32_t i = 1; i < words; i++)
        if (m[i] != seq * 0x9E3779B97F4A7C15u + i)
            return 0;
    return 1;
}

/* Runs `fn` in a child process and asserts that it dies of SIGABRT, i.e. that an XR_ASSERT
 * caught the misuse. The child's stderr (the assertion line) is discarded. */
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

/* ---- single-thread semantics ---- */

static void test_footprint(void **state)
{
    (void)state;
    assert_int_equal(xr_spsc_ring_footprint(1, 8), 8);
    assert_int_equal(xr_spsc_ring_footprint(1024, 64), 65536);
    assert_int_equal(xr_spsc_ring_footprint(XR_SPSC_RING_CAPACITY_MAX, 8),
                     (size_t)XR_SPSC_RING_CAPACITY_MAX * 8);
    assert_int_equal(xr_spsc_ring_footprint(0, 8), 0);
    assert_int_equal(xr_spsc_ring_footprint(3, 8), 0);
    assert_int_equal(xr_spsc_ring_footprint(1000, 8), 0);
    assert_int_equal(xr_spsc_ring_footprint(UINT32_MAX, 8), 0);
    assert_int_equal(xr_spsc_ring_footprint(16, 0), 0);
    assert_int_equal(xr_spsc_ring_footprint(16, 4), 0);
    assert_int_equal(xr_spsc_ring_footprint(16, 12), 0);
    assert_int_equal(xr_spsc_ring_footprint(16, 24), 384);
}

static void test_init_rejects_invalid_arguments(void **state)
{
    (void)state;
    static alignas(XR_SPSC_RING_MEM_ALIGN) unsigned char mem[4096];
    static alignas(xr_spsc_ring) unsigned char ring_bytes[2 * sizeof(xr_spsc_ring)];
    xr_spsc_ring *r = (xr_spsc_ring *)ring_bytes;

    assert_int_equal(xr_spsc_ring_init(NULL, mem, sizeof mem, 16, 8), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_spsc_ring_init(r, NULL, sizeof mem, 16, 8), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_spsc_ring_init(r, mem, sizeof mem, 0, 8), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_spsc_ring_init(r, mem, sizeof mem, 12, 8), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_spsc_ring_init(r, mem, sizeof mem, 16, 0), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_spsc_ring_init(r, mem, sizeof mem, 16, 20), XR_ERR_INVALID_ARGUMENT);
    /* Memory one byte short of the footprint. */
    assert_int_equal(xr_spsc_ring_init(r, mem, 16 * 8 - 1, 16, 8), XR_ERR_INVALID_ARGUMENT);
    /* Slot memory not on a cache line. */
    assert_int_equal(xr_spsc_ring_init(r, mem + 8, sizeof mem - 8, 16, 8), XR_ERR_INVALID_ARGUMENT);
    /* Ring object not aligned to its type. */
    xr_spsc_ring *misaligned = (xr_spsc_ring *)(void *)(ring_bytes + 64);
    assert_int_equal(xr_spsc_ring_init(misaligned, mem, sizeof mem, 16, 8),
                     XR_ERR_INVALID_ARGUMENT);
    /* And the exact footprint is enough. */
    assert_int_equal(xr_spsc_ring_init(r, mem, 16 * 8, 16, 8), XR_OK);
    assert_int_equal(xr_spsc_ring_capacity(r), 16);
    assert_int_equal(xr_spsc_ring_slot_size(r), 8);
}

static void test_empty(void **state)
{
    (void)state;
    test_ring t = ring_new(8, 16);
    xr_spsc_ring *r = t.ring;
    uint64_t m[2] = {7, 7};
    void *first = &first;

    assert_true(xr_spsc_ring_empty(r));
    assert_int_equal(xr_spsc_ring_size(r), 0);
    assert_int_equal(xr_spsc_ring_try_pop(r, m), XR_ERR_AGAIN);
    assert_int_equal(m[0], 7); /* untouched */
    assert_int_equal(xr_spsc_ring_try_pop_batch(r, m, 1), 0);
    assert_int_equal(xr_spsc_ring_try_pop_batch(r, NULL, 0), 0);
    assert_null(xr_spsc_ring_peek(r));
    assert_int_equal(xr_spsc_ring_peek_batch(r, 4, &first), 0);
    assert_null(first);

    /* One in, one out, empty again. */
    msg_fill(m, 2, 42);
    assert_int_equal(xr_spsc_ring_try_push(r, m), XR_OK);
    assert_false(xr_spsc_ring_empty(r));
    assert_int_equal(xr_spsc_ring_size(r), 1);
    memset(m, 0, sizeof m);
    assert_int_equal(xr_spsc_ring_try_pop(r, m), XR_OK);
    assert_true(msg_check(m, 2, 42));
    assert_true(xr_spsc_ring_empty(r));
    assert_int_equal(xr_spsc_ring_try_pop(r, m), XR_ERR_AGAIN);
    ring_free(&t);
}

static void test_full(void **state)
{
    (void)state;
    enum { CAP = 8 }; /* below 16 slots every freed slot is handed back at once */
    test_ring t = ring_new(CAP, 8);
    xr_spsc_ring *r = t.ring;
    void *first = &first;
    assert_int_equal(xr_spsc_ring_release_batch(r), 1);

    /* Every slot is usable: a ring of 8 holds 8 messages. */
    for (uint64_t i = 0; i < CAP; i++) {
        assert_int_equal(xr_spsc_ring_try_push(r, &i), XR_OK);
        assert_int_equal(xr_spsc_ring_size(r), i + 1);
    }
    uint64_t extra = 99;
    assert_int_equal(xr_spsc_ring_try_push(r, &extra), XR_ERR_AGAIN);
    assert_int_equal(xr_spsc_ring_try_push_batch(r, &extra, 1), 0);
    assert_null(xr_spsc_ring_try_reserve(r));
    assert_int_equal(xr_spsc_ring_try_reserve_batch(r, 4, &first), 0);
    assert_null(first);
    assert_int_equal(xr_spsc_ring_size(r), CAP);

    /* Freeing one slot makes exactly one push possible again. */
    uint64_t v;
    assert_int_equal(xr_spsc_ring_try_pop(r, &v), XR_OK);
    assert_int_equal(v, 0);
    assert_int_equal(xr_spsc_ring_try_push(r, &extra), XR_OK);
    assert_int_equal(xr_spsc_ring_try_push(r, &extra), XR_ERR_AGAIN);
    for (uint64_t i = 1; i < CAP; i++) {
        assert_int_equal(xr_spsc_ring_try_pop(r, &v), XR_OK);
        assert_int_equal(v, i);
    }
    assert_int_equal(xr_spsc_ring_try_pop(r, &v), XR_OK);
    assert_int_equal(v, 99);
    assert_true(xr_spsc_ring_empty(r));
    ring_free(&t);
}

static void test_release_batch_size(void **state)
{
    (void)state;
    static const struct {
        uint32_t capacity, batch;
    } cases[] = {{1, 1}, {2, 1}, {8, 1}, {16, 2}, {64, 8}, {256, 32}, {1024, 32}, {1u << 20, 32}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_ring t = ring_new(cases[i].capacity, 8);
        assert_int_equal(xr_spsc_ring_release_batch(t.ring), cases[i].batch);
        ring_free(&t);
    }
}

/* A busy consumer hands freed slots back a batch at a time; one that catches up (or asks for
 * more than it knows of) hands back everything at once. Messages are never held back. */
static void test_batched_release(void **state)
{
    (void)state;
    enum { CAP = 1024 };
    test_ring t = ring_new(CAP, 8);
    xr_spsc_ring *r = t.ring;
    const uint32_t batch = xr_spsc_ring_release_batch(r);
    assert_int_equal(batch, 32);
    uint64_t pushed = 0, popped = 0, v;

    while (xr_spsc_ring_try_push(r, &pushed) == XR_OK)
        pushed++;
    assert_int_equal(pushed, CAP);

    /* batch - 1 pops: consumed (size drops) but not yet handed back (push still refused). */
    for (uint32_t i = 0; i + 1 < batch; i++) {
        assert_int_equal(xr_spsc_ring_try_pop(r, &v), XR_OK);
        assert_int_equal(v, popped++);
    }
    assert_int_equal(xr_spsc_ring_size(r), CAP - (batch - 1));
    assert_int_equal(xr_spsc_ring_try_push(r, &pushed), XR_ERR_AGAIN);

    /* The batch-th pop hands the whole batch back. */
    assert_int_equal(xr_spsc_ring_try_pop(r, &v), XR_OK);
    assert_int_equal(v, popped++);
    for (uint32_t i = 0; i < batch; i++) {
        assert_int_equal(xr_spsc_ring_try_push(r, &pushed), XR_OK);
        pushed++;
    }
    assert_int_equal(xr_spsc_ring_try_push(r, &pushed), XR_ERR_AGAIN);

    /* Zero-copy release counts the same way. */
    void *first;
    assert_int_equal(xr_spsc_ring_peek_batch(r, 5, &first), 5);
    assert_int_equal(*(uint64_t *)first, popped);
    xr_spsc_ring_release(r, 5);
    popped += 5;
    assert_int_equal(xr_spsc_ring_try_push(r, &pushed), XR_ERR_AGAIN);

    /* Asking for more than the consumer knows of sends it to the producer's index, and it
     * hands back everything it holds before looking. */
    uint64_t out[CAP];
    uint32_t got = xr_spsc_ring_try_pop_batch(r, out, CAP);
    assert_int_equal(got, pushed - popped);
    for (uint32_t i = 0; i < got; i++)
        assert_int_equal(out[i], popped + i);
    popped += got;
    assert_true(xr_spsc_ring_empty(r));
    assert_int_equal(xr_spsc_ring_try_push_batch(r, out, CAP), CAP);

    /* A consumer that drains the ring with single pops finds it empty, and that hands back the
     * last partial batch. */
    for (uint32_t i = 0; i < CAP; i++)
        assert_int_equal(xr_spsc_ring_try_pop(r, &v), XR_OK);
    assert_int_equal(xr_spsc_ring_try_pop(r, &v), XR_ERR_AGAIN);
    assert_int_equal(xr_spsc_ring_try_push_batch(r, out, CAP), CAP);
    ring_free(&t);
}

static void test_capacity_one(void **state)
{
    (void)state;
    test_ring t = ring_new(1, 8);
    xr_spsc_ring *r = t.ring;
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t v = i, out = 0;
        assert_int_equal(xr_spsc_ring_try_push(r, &v), XR_OK);
        assert_int_equal(xr_spsc_ring_try_push(r, &v), XR_ERR_AGAIN);
        assert_int_equal(xr_spsc_ring_try_pop(r, &out), XR_OK);
        assert_int_equal(out, i);
        assert_int_equal(xr_spsc_ring_try_pop(r, &out), XR_ERR_AGAIN);
    }
    ring_free(&t);
}

/* Pushes and pops runs of varying length so the indices cross the end of the slot array at
 * every offset, many times, for each of the slot sizes with a specialised copy and one
 * without. */
static void test_wrap_around_many_times(void **state)
{
    (void)state;
    static const uint32_t slot_sizes[] = {8, 16, 24, 32, 64, 72};
    for (size_t s = 0; s < sizeof slot_sizes / sizeof slot_sizes[0]; s++) {
        enum { CAP = 8 };
        uint32_t words = slot_sizes[s] / 8;
        test_ring t = ring_new(CAP, slot_sizes[s]);
        xr_spsc_ring *r = t.ring;
        uint64_t m[9];
        uint64_t pushed = 0, popped = 0;
        for (uint32_t round = 0; round < 5000; round++) {
            uint32_t in = 1 + (round * 7) % CAP;
            for (uint32_t i = 0; i < in; i++) {
                msg_fill(m, words, pushed);
                xr_err e = xr_spsc_ring_try_push(r, m);
                if (pushed - popped == CAP) {
                    assert_int_equal(e, XR_ERR_AGAIN);
                    break;
                }
                assert_int_equal(e, XR_OK);
                pushed++;
            }
            assert_int_equal(xr_spsc_ring_size(r), pushed - popped);
            uint32_t out = 1 + (round * 5) % CAP;
            for (uint32_t i = 0; i < out && popped < pushed; i++) {
                assert_int_equal(xr_spsc_ring_try_pop(r, m), XR_OK);
                assert_true(msg_check(m, words, popped));
                popped++;
            }
        }
        while (popped < pushed) {
            assert_int_equal(xr_spsc_ring_try_pop(r, m), XR_OK);
            assert_true(msg_check(m, words, popped));
            popped++;
        }
        assert_true(pushed > 100 * CAP); /* the indices went round many times */
        assert_true(xr_spsc_ring_empty(r));
        ring_free(&t);
    }
}

static void test_batch_partial(void **state)
{
    (void)state;
    enum { CAP = 16, W = 3 };
    test_ring t = ring_new(CAP, W * 8);
    xr_spsc_ring *r = t.ring;
    uint64_t in[40 * W], out[40 * W];
    for (uint64_t i = 0; i < 40; i++)
        msg_fill(in + i * W, W, i);

    /* 10 fit; of the next 10 only 6 do. */
    assert_int_equal(xr_spsc_ring_try_push_batch(r, in, 10), 10);
    assert_int_equal(xr_spsc_ring_try_push_batch(r, in + 10 * W, 10), 6);
    assert_int_equal(xr_spsc_ring_try_push_batch(r, in + 16 * W, 10), 0);
    assert_int_equal(xr_spsc_ring_try_push_batch(r, NULL, 0), 0);
    assert_int_equal(xr_spsc_ring_size(r), CAP);

    /* Pop 5, then ask for 20 and get the 11 left, in order. */
    assert_int_equal(xr_spsc_ring_try_pop_batch(r, out, 5), 5);
    assert_int_equal(xr_spsc_ring_try_pop_batch(r, out + 5 * W, 20), 11);
    for (uint64_t i = 0; i < 16; i++)
        assert_true(msg_check(out + i * W, W, i));
    assert_int_equal(xr_spsc_ring_try_pop_batch(r, out, 20), 0);

    /* Batches that wrap past the end of the slot array: with both indices at 16 (slot 0),
     * push and pop 12, then push 10 more, which land in slots 12..15 and 0..5. */
    assert_int_equal(xr_spsc_ring_try_push_batch(r, in + 16 * W, 12), 12);
    assert_int_equal(xr_spsc_ring_try_pop_batch(r, out, 12), 12);
    for (uint64_t i = 0; i < 12; i++)
        assert_true(msg_check(out + i * W, W, 16 + i));
    assert_int_equal(xr_spsc_ring_try_push_batch(r, in + 28 * W, 10), 10);
    assert_int_equal(xr_spsc_ring_try_pop_batch(r, out, 3), 3);
    assert_int_equal(xr_spsc_ring_try_pop_batch(r, out + 3 * W, 10), 7);
    for (uint64_t i = 0; i < 10; i++)
        assert_true(msg_check(out + i * W, W, 28 + i));
    assert_true(xr_spsc_ring_empty(r));
    ring_free(&t);
}

static void test_reserve_commit_peek_release(void **state)
{
    (void)state;
    enum { CAP = 8, W = 4 };
    test_ring t = ring_new(CAP, W * 8);
    xr_spsc_ring *r = t.ring;
    uint64_t m[W];

    /* One slot in place. A reserved slot is invisible until it is committed. */
    uint64_t *slot = xr_spsc_ring_try_reserve(r);
    assert_non_null(slot);
    assert_true(((uintptr_t)slot % 8) == 0);
    msg_fill(slot, W, 0);
    assert_true(xr_spsc_ring_empty(r));
    assert_null(xr_spsc_ring_peek(r));
    xr_spsc_ring_commit(r, 1);
    assert_int_equal(xr_spsc_ring_size(r), 1);

    /* Peek sees it in place, without removing it until release. */
    uint64_t *seen = xr_spsc_ring_peek(r);
    assert_ptr_equal(seen, slot);
    assert_true(msg_check(seen, W, 0));
    assert_int_equal(xr_spsc_ring_size(r), 1);
    xr_spsc_ring_release(r, 1);
    assert_true(xr_spsc_ring_empty(r));

    /* Abandoning a reservation publishes nothing and the slot is handed out again. */
    slot = xr_spsc_ring_try_reserve(r);
    assert_non_null(slot);
    xr_spsc_ring_commit(r, 0);
    assert_true(xr_spsc_ring_empty(r));
    assert_ptr_equal(xr_spsc_ring_try_reserve(r), slot);
    xr_spsc_ring_commit(r, 0);

    /* Batch reserve stops at the end of the slot array: tail is at 1, so 7 slots remain
     * before the wrap even though 8 are free. */
    void *first = NULL;
    assert_int_equal(xr_spsc_ring_try_reserve_batch(r, 100, &first), 7);
    assert_ptr_equal(first, slot);
    for (uint64_t i = 0; i < 7; i++)
        msg_fill((uint64_t *)first + i * W, W, 1 + i);
    /* Commit only 5 of the 7: slots 6 and 7 are reserved again by the next call. */
    xr_spsc_ring_commit(r, 5);
    assert_int_equal(xr_spsc_ring_size(r), 5);
    void *again = NULL;
    assert_int_equal(xr_spsc_ring_try_reserve_batch(r, 100, &again), 2);
    assert_ptr_equal(again, (uint64_t *)first + 5 * W);
    msg_fill((uint64_t *)again, W, 6);
    msg_fill((uint64_t *)again + W, W, 7);
    xr_spsc_ring_commit(r, 2);
    /* Now at the wrap: the next run starts at slot 0 and is limited by the free space (1). */
    assert_int_equal(xr_spsc_ring_try_reserve_batch(r, 100, &again), 1);
    assert_ptr_equal(again, t.mem);
    msg_fill((uint64_t *)again, W, 8);
    xr_spsc_ring_commit(r, 1);
    assert_int_equal(xr_spsc_ring_size(r), CAP);
    assert_int_equal(xr_spsc_ring_try_reserve_batch(r, 100, &again), 0);
    assert_null(again);

    /* Peek in batches: 7 contiguous up to the wrap; release 3, peek the remaining 4. */
    assert_int_equal(xr_spsc_ring_peek_batch(r, 100, &first), 7);
    for (uint64_t i = 0; i < 7; i++)
        assert_true(msg_check((uint64_t *)first + i * W, W, 1 + i));
    xr_spsc_ring_release(r, 3);
    assert_int_equal(xr_spsc_ring_size(r), 5);
    assert_int_equal(xr_spsc_ring_peek_batch(r, 100, &first), 4);
    assert_true(msg_check(first, W, 4));
    xr_spsc_ring_release(r, 4);
    assert_int_equal(xr_spsc_ring_peek_batch(r, 100, &first), 1);
    assert_ptr_equal(first, t.mem);
    assert_true(msg_check(first, W, 8));
    xr_spsc_ring_release(r, 0); /* not consumed: still there */
    assert_int_equal(xr_spsc_ring_try_pop(r, m), XR_OK);
    assert_true(msg_check(m, W, 8));
    assert_true(xr_spsc_ring_empty(r));
    ring_free(&t);
}

/* ---- misuse is caught by XR_ASSERT, not turned into corruption ---- */

static void misuse_commit_more_than_reserved(void)
{
    test_ring t = ring_new(8, 8);
    void *first;
    (void)xr_spsc_ring_try_reserve_batch(t.ring, 2, &first);
    xr_spsc_ring_commit(t.ring, 3);
}

static void misuse_commit_without_reserve(void)
{
    test_ring t = ring_new(8, 8);
    xr_spsc_ring_commit(t.ring, 1);
}

static void misuse_push_during_reservation(void)
{
    test_ring t = ring_new(8, 8);
    uint64_t v = 1;
    (void)xr_spsc_ring_try_reserve(t.ring);
    (void)xr_spsc_ring_try_push(t.ring, &v);
}

static void misuse_release_more_than_peeked(void)
{
    test_ring t = ring_new(8, 8);
    uint64_t v = 1;
    (void)xr_spsc_ring_try_push(t.ring, &v);
    (void)xr_spsc_ring_try_push(t.ring, &v);
    (void)xr_spsc_ring_peek(t.ring);
    xr_spsc_ring_release(t.ring, 2);
}

static void misuse_pop_into_null(void)
{
    test_ring t = ring_new(8, 8);
    (void)xr_spsc_ring_try_pop(t.ring, NULL);
}

static void test_misuse_aborts(void **state)
{
    (void)state;
    expect_abort(misuse_commit_more_than_reserved);
    expect_abort(misuse_commit_without_reserve);
    expect_abort(misuse_push_during_reservation);
    expect_abort(misuse_release_more_than_peeked);
    expect_abort(misuse_pop_into_null);
}

/* ---- two-thread stress ---- */

/* Messages of the stress test: a sequence number, a payload derived from it, and a checksum
 * over both, so a torn, stale, duplicated or reordered message is detected. */
#define STRESS_MAX_WORDS 8
#define STRESS_MAX_BATCH 32

typedef struct stress {
    xr_spsc_ring *ring;
    uint64_t count;       /* messages to move */
    uint32_t words;       /* slot size / 8 */
    uint64_t seed;        /* per-thread operation mix */
    uint64_t received;    /* consumer: messages checked */
    uint64_t bad_seq;     /* consumer: first sequence that failed, or UINT64_MAX */
    uint64_t bad_got;     /* consumer: what it found there */
    uint64_t full_spins;  /* producer: calls that found the ring full */
    uint64_t empty_spins; /* consumer: calls that found the ring empty */
    atomic_bool *stop;    /* set by the consumer on a bad message so the producer ends too */
} stress;

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static uint64_t stress_checksum(const uint64_t *m, uint32_t words)
{
    uint64_t h = 0xCBF29CE484222325u;
    for (uint32_t i = 0; i + 1 < words; i++)
        h = (h ^ m[i]) * 0x100000001B3u;
    return h;
}

static void stress_fill(uint64_t *m, uint32_t words, uint64_t seq)
{
    m[0] = seq;
    for (uint32_t i = 1; i + 1 < words; i++)
        m[i] = (seq ^ 0x5555555555555555u) * (2 * i + 1);
    m[words - 1] = stress_checksum(m, words);
}

static int stress_ok(const uint64_t *m, uint32_t words, uint64_t seq)
{
    if (m[0] != seq || m[words - 1] != stress_checksum(m, words))
        return 0;
    for (uint32_t i = 1; i + 1 < words; i++)
        if (m[i] != (seq ^ 0x5555555555555555u) * (2 * i + 1))
            return 0;
    return 1;
}

/* Waiting policy of the test threads: spin briefly, then yield, so the test still makes
 * progress when the machine has fewer free cores than threads (CI, sanitizers). */
static void stress_wait(uint32_t *idle)
{
    if (++*idle < 64) {
        __builtin_ia32_pause();
    } else {
        *idle = 0;
        sched_yield();
    }
}

static void *stress_producer(void *arg)
{
    stress *s = arg;
    xr_spsc_ring *r = s->ring;
    uint32_t w = s->words;
    uint64_t rng = s->seed;
    uint64_t batch[STRESS_MAX_BATCH * STRESS_MAX_WORDS];
    uint64_t seq = 0;
    uint32_t idle = 0;
    while (seq < s->count && !atomic_load_explicit(s->stop, memory_order_relaxed)) {
        uint64_t left = s->count - seq;
        uint64_t rnd = xorshift(&rng);
        uint32_t want = 1 + (uint32_t)((rnd >> 8) % STRESS_MAX_BATCH);
        if (want > left)
            want = (uint32_t)left;
        uint32_t done = 0;
        switch (rnd & 3) {
        case 0: {
            uint64_t m[STRESS_MAX_WORDS];
            stress_fill(m, w, seq);
            done = xr_spsc_ring_try_push(r, m) == XR_OK;
            break;
        }
        case 1:
            for (uint32_t i = 0; i < want; i++)
                stress_fill(batch + i * w, w, seq + i);
            done = xr_spsc_ring_try_push_batch(r, batch, want);
            break;
        case 2: {
            uint64_t *slot = xr_spsc_ring_try_reserve(r);
            if (slot != NULL) {
                stress_fill(slot, w, seq);
                xr_spsc_ring_commit(r, 1);
                done = 1;
            }
            break;
        }
        default: {
            void *first;
            uint32_t got = xr_spsc_ring_try_reserve_batch(r, want, &first);
            /* Sometimes commit fewer than reserved, to exercise abandoned slots. */
            uint32_t keep = (got > 1 && (rnd & 0x10000)) ? got - 1 : got;
            for (uint32_t i = 0; i < keep; i++)
                stress_fill((uint64_t *)first + i * w, w, seq + i);
            xr_spsc_ring_commit(r, keep);
            done = keep;
            break;
        }
        }
        if (done == 0) {
            s->full_spins++;
            stress_wait(&idle);
        } else {
            idle = 0;
        }
        seq += done;
    }
    return NULL;
}

static int stress_consume(stress *s, const uint64_t *m, uint64_t seq)
{
    if (stress_ok(m, s->words, seq))
        return 1;
    s->bad_seq = seq;
    s->bad_got = m[0];
    return 0;
}

static void *stress_consumer(void *arg)
{
    stress *s = arg;
    xr_spsc_ring *r = s->ring;
    uint32_t w = s->words;
    uint64_t rng = s->seed;
    uint64_t batch[STRESS_MAX_BATCH * STRESS_MAX_WORDS];
    uint64_t seq = 0;
    uint32_t idle = 0;
    while (seq < s->count) {
        uint64_t rnd = xorshift(&rng);
        uint32_t want = 1 + (uint32_t)((rnd >> 8) % STRESS_MAX_BATCH);
        uint32_t done = 0;
        int ok = 1;
        switch (rnd & 3) {
        case 0: {
            uint64_t m[STRESS_MAX_WORDS];
            if (xr_spsc_ring_try_pop(r, m) == XR_OK) {
                ok = stress_consume(s, m, seq);
                done = 1;
            }
            break;
        }
        case 1:
            done = xr_spsc_ring_try_pop_batch(r, batch, want);
            for (uint32_t i = 0; i < done && ok; i++)
                ok = stress_consume(s, batch + i * w, seq + i);
            break;
        case 2: {
            const uint64_t *slot = xr_spsc_ring_peek(r);
            if (slot != NULL) {
                ok = stress_consume(s, slot, seq);
                xr_spsc_ring_release(r, 1);
                done = 1;
            }
            break;
        }
        default: {
            void *first;
            uint32_t got = xr_spsc_ring_peek_batch(r, want, &first);
            /* Sometimes release fewer than peeked: the rest must come back next time. */
            uint32_t keep = (got > 1 && (rnd & 0x10000)) ? got - 1 : got;
            for (uint32_t i = 0; i < keep && ok; i++)
                ok = stress_consume(s, (const uint64_t *)first + i * w, seq + i);
            xr_spsc_ring_release(r, keep);
            done = keep;
            break;
        }
        }
        if (!ok) {
            /* bad_seq is set; the test fails after the join. Relaxed is enough: the flag
             * carries no data, the producer only needs to notice it eventually. */
            atomic_store_explicit(s->stop, true, memory_order_relaxed);
            break;
        }
        if (done == 0) {
            s->empty_spins++;
            stress_wait(&idle);
        } else {
            idle = 0;
        }
        seq += done;
    }
    s->received = seq;
    return NULL;
}

static void run_stress(uint64_t count, uint32_t capacity, uint32_t slot_size)
{
    test_ring t = ring_new(capacity, slot_size);
    atomic_bool stop = false;
    stress prod = {
        .ring = t.ring, .count = count, .words = slot_size / 8, .seed = 0x1234567u, .stop = &stop};
    stress cons = {.ring = t.ring,
                   .count = count,
                   .words = slot_size / 8,
                   .seed = 0x89ABCDEFu,
                   .bad_seq = UINT64_MAX,
                   .stop = &stop};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t pt, ct;
    assert_int_equal(pthread_create(&ct, NULL, stress_consumer, &cons), 0);
    assert_int_equal(pthread_create(&pt, NULL, stress_producer, &prod), 0);
    assert_int_equal(pthread_join(ct, NULL), 0);
    assert_int_equal(pthread_join(pt, NULL), 0);
    if (cons.bad_seq != UINT64_MAX) {
        fprintf(stderr, "stress: message %llu bad (found seq %llu)\n",
                (unsigned long long)cons.bad_seq, (unsigned long long)cons.bad_got);
        fail();
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("stress: %llu msgs, capacity %u, slot %u B: %.2f s (%.1f M msg/s), "
           "producer found full %llu times, consumer found empty %llu times\n",
           (unsigned long long)count, capacity, slot_size, secs, (double)count / secs / 1e6,
           (unsigned long long)prod.full_spins, (unsigned long long)cons.empty_spins);
    assert_int_equal(cons.received, count);
    assert_true(xr_spsc_ring_empty(t.ring));
    ring_free(&t);
}

/* The full counts run in every build: ThreadSanitizer slows this loop only about tenfold
 * (it moves 10 million messages in a few seconds on the 2-core VM), far inside its budget.
 * Lower them under XR_TSAN if a slower CI machine ever needs it. */
#define STRESS_MESSAGES  10000000u
#define STRESS_SMALL_MSG 2000000u

/* The main run: 10 million messages of 32 bytes through a ring of 1024. */
static void test_two_threads_stress(void **state)
{
    (void)state;
    run_stress(STRESS_MESSAGES, 1024, 32);
}

/* A tiny ring with an odd slot size: the sides meet at full and empty constantly, every batch
 * is cut short, and copies take the generic path. */
static void test_two_threads_stress_small_ring(void **state)
{
    (void)state;
    run_stress(STRESS_SMALL_MSG, 4, 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_footprint),
        cmocka_unit_test(test_init_rejects_invalid_arguments),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_release_batch_size),
        cmocka_unit_test(test_batched_release),
        cmocka_unit_test(test_capacity_one),
        cmocka_unit_test(test_wrap_around_many_times),
        cmocka_unit_test(test_batch_partial),
        cmocka_unit_test(test_reserve_commit_peek_release),
        cmocka_unit_test(test_misuse_aborts),
        cmocka_unit_test(test_two_threads_stress),
        cmocka_unit_test(test_two_threads_stress_small_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
