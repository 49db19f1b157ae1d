/*
 * SPSC ring of fixed-size slots. See spsc_ring.h for the contract.
 *
 * Indices: producer.tail counts the slots ever published, consumer.next the slots ever
 * consumed and consumer.head the slots handed back to the producer (head <= next <= tail).
 * All are free-running 64-bit counters, so they never wrap in practice (2^64 messages at 10^9
 * per second is 584 years) and tail - head is always the number of slots the producer may not
 * write, from 0 to capacity: every slot is usable, none is sacrificed to tell full from empty.
 * The slot of index i is slots[(i & mask) * slot_size].
 *
 * Synchronisation is one release/acquire pair in each direction and nothing else:
 *
 *   producer: write slot i ... store-release tail = i + 1
 *   consumer: load-acquire tail (sees i + 1) ... read slot i ... store-release head >= i + 1
 *   producer: load-acquire head (sees >= i + 1) ... overwrite slot i (as slot i + capacity)
 *
 * On x86-64 every one of these compiles to a plain load or store (the hardware is TSO); the
 * orders still matter there because they forbid the compiler from moving the slot accesses
 * across the index accesses, and on arm64 they become ldar/stlr.
 *
 * Why head trails next (batched release): when the producer outruns the consumer it sits one
 * slot behind it. Handing back every slot at once would then make the producer re-read the
 * consumer's line for each message and write into the very slot line the consumer is reading,
 * so the two lines would bounce between the cores once per message (measured on the 2-vCPU
 * VM: single pushes and pops ran at about 0.4 times the median throughput without batching).
 * Handing slots back in batches lets the producer refill a run of slots the consumer has left for
 * good. MCRingBuffer (Lee, Bu and Chandranmenon, IPDPS 2010) batches its control-variable updates
 * for the same reason; here only the consumer batches, because a batched tail would delay messages
 * and a batched head only delays free space.
 */
#include "core/ring/spsc_ring.h"

#include <string.h>

#include "core/base/assert.h"

/* Copies one message when the slot size is one of the common sizes, as a copy of constant
 * size that the compiler turns into a few register moves; returns false (copying nothing) for
 * any other size. 8 bytes (a pool index or a pointer) is tested first. The branches are always
 * predicted: a ring's slot size never changes. */
static inline bool copy_slot_fixed(void *dst, const void *src, uint32_t slot_size)
{
    if (XR_LIKELY(slot_size == 8)) {
        memcpy(dst, src, 8);
        return true;
    }
    switch (slot_size) {
    case 16:
        memcpy(dst, src, 16);
        return true;
    case 32:
        memcpy(dst, src, 32);
        return true;
    case 64:
        memcpy(dst, src, 64);
        return true;
    default:
        return false;
    }
}

static inline void copy_slot(void *dst, const void *src, uint32_t slot_size)
{
    if (!copy_slot_fixed(dst, src, slot_size))
        memcpy(dst, src, slot_size);
}

static inline unsigned char *slot_at(unsigned char *slots, uint64_t index, uint32_t mask,
                                     uint32_t slot_size)
{
    return slots + (size_t)(index & mask) * slot_size;
}

/* Copies `count` consecutive slots between the ring and a flat array, in at most two pieces
 * because the run of slots may wrap past the end of the slot array. */
static void copy_in(unsigned char *slots, uint64_t index, uint32_t mask, uint32_t slot_size,
                    const unsigned char *src, uint32_t count)
{
    uint32_t first = (uint32_t)(index & mask);
    uint32_t run = mask + 1 - first;
    if (run > count)
        run = count;
    memcpy(slots + (size_t)first * slot_size, src, (size_t)run * slot_size);
    if (run < count)
        memcpy(slots, src + (size_t)run * slot_size, (size_t)(count - run) * slot_size);
}

static void copy_out(unsigned char *dst, const unsigned char *slots, uint64_t index, uint32_t mask,
                     uint32_t slot_size, uint32_t count)
{
    uint32_t first = (uint32_t)(index & mask);
    uint32_t run = mask + 1 - first;
    if (run > count)
        run = count;
    memcpy(dst, slots + (size_t)first * slot_size, (size_t)run * slot_size);
    if (run < count)
        memcpy(dst + (size_t)run * slot_size, slots, (size_t)(count - run) * slot_size);
}

size_t xr_spsc_ring_footprint(uint32_t capacity, uint32_t slot_size)
{
    if (capacity == 0 || capacity > XR_SPSC_RING_CAPACITY_MAX || (capacity & (capacity - 1)))
        return 0;
    if (slot_size == 0 || (slot_size % 8) != 0)
        return 0;
    size_t bytes;
    if (__builtin_mul_overflow((size_t)capacity, (size_t)slot_size, &bytes))
        return 0;
    return bytes;
}

xr_err xr_spsc_ring_init(xr_spsc_ring *r, void *mem, size_t len, uint32_t capacity,
                         uint32_t slot_size)
{
    if (r == NULL || mem == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    if (((uintptr_t)r % alignof(xr_spsc_ring)) != 0)
        return XR_ERR_INVALID_ARGUMENT;
    if (((uintptr_t)mem % XR_SPSC_RING_MEM_ALIGN) != 0)
        return XR_ERR_INVALID_ARGUMENT;
    size_t need = xr_spsc_ring_footprint(capacity, slot_size);
    if (need == 0 || len < need)
        return XR_ERR_INVALID_ARGUMENT;

    /* Zeroing the slots faults their pages in here, at start-up, instead of on the first lap
     * of the hot path; it also means a message never carries bytes from a previous user of
     * the memory. */
    memset(mem, 0, need);
    memset(r, 0, sizeof *r);

    /* Plain (non-atomic) initialisation is enough: the contract requires the ring to reach the
     * producer and consumer threads through a synchronising operation after init returns,
     * which orders these stores before either side's first access. */
    atomic_init(&r->producer.tail, 0);
    r->producer.head_cached = 0;
    r->producer.slots = mem;
    r->producer.mask = capacity - 1;
    r->producer.slot_size = slot_size;
    r->producer.reserved = 0;

    atomic_init(&r->consumer.head, 0);
    atomic_init(&r->consumer.next, 0);
    r->consumer.tail_cached = 0;
    r->consumer.slots = mem;
    r->consumer.mask = capacity - 1;
    r->consumer.slot_size = slot_size;
    r->consumer.peeked = 0;
    /* An eighth of the ring at most, so a held-back batch never costs the producer more than
     * 12.5% of the capacity; capped so a large ring still hands slots back promptly; at least
     * 1, which for rings of fewer than 16 slots means every slot is handed back at once. */
    uint32_t batch = capacity / 8;
    if (batch > XR_SPSC_RING_RELEASE_BATCH_MAX)
        batch = XR_SPSC_RING_RELEASE_BATCH_MAX;
    r->consumer.release_batch = batch > 0 ? batch : 1;
    return XR_OK;
}

/* ---- producer side ---- */

/* Returns how many slots the producer may fill right now, wanting `want` of them. Reads the
 * consumer's cache line only when the cached head cannot satisfy the request: in steady state
 * once per lap of the ring, or once per release batch when the ring runs full, rather than
 * once per message. */
static inline uint32_t producer_free(xr_spsc_ring_producer *p, const xr_spsc_ring_consumer *c,
                                     uint64_t tail, uint32_t want)
{
    uint64_t capacity = (uint64_t)p->mask + 1;
    uint64_t free_slots = capacity - (tail - p->head_cached);
    if (XR_UNLIKELY(free_slots < want)) {
        /* Acquire pairs with the consumer's store-release of head (consumer_publish): once we
         * see head = h, the consumer's reads of every slot below h have completed, so the
         * writes we are about to make into those slots (their next lap) cannot clobber data
         * the consumer is still reading. Without it the compiler or CPU could hoist our slot
         * writes above this load (a write-after-read race on the slot). */
        p->head_cached = atomic_load_explicit(&c->head, memory_order_acquire);
        free_slots = capacity - (tail - p->head_cached);
    }
    /* The consumer never releases more than was published, so the distance is at most the
     * capacity; anything else means two producers or a corrupted ring. */
    XR_ASSERT(free_slots <= capacity);
    return free_slots < want ? (uint32_t)free_slots : want;
}

/* try_push and try_pop are the calls a stage makes for every message, so each is split in
 * two. The fast path handles the common case (valid arguments, no reservation or peek open,
 * the cached index says there is room, a slot size copy_slot_fixed knows) with no call, so
 * the compiler needs no stack frame for it. Anything else goes to the out-of-line slow path
 * through a tail call; the slow path repeats every check with XR_ASSERT, refreshes the cached
 * index and copies odd sizes. So no assertion is lost: a call the fast path declines because
 * an assertion would fail is asserted, and aborts, in the slow path. (Measured on the 2-vCPU
 * VM: a push plus a pop went from about 13 ns to under 5 ns, on par with ck_ring's inline
 * functions, mostly by dropping the frame and the call to memcpy from the common path.) */
__attribute__((noinline)) static xr_err try_push_slow(xr_spsc_ring *r, const void *msg)
{
    XR_ASSERT(r != NULL && msg != NULL);
    xr_spsc_ring_producer *p = &r->producer;
    XR_ASSERT(p->reserved == 0);
    /* Relaxed: only this thread ever stores tail, so it reads back its own latest store; no
     * other thread's data is reached through this value. */
    uint64_t tail = atomic_load_explicit(&p->tail, memory_order_relaxed);
    if (producer_free(p, &r->consumer, tail, 1) == 0)
        return XR_ERR_AGAIN;
    copy_slot(slot_at(p->slots, tail, p->mask, p->slot_size), msg, p->slot_size);
    /* Release: the slot's bytes written just above must be visible to the consumer before it
     * can see the new tail; its load-acquire of tail pairs with this store. Without it the
     * consumer could read a slot whose message is only partly written. */
    atomic_store_explicit(&p->tail, tail + 1, memory_order_release);
    return XR_OK;
}

xr_err xr_spsc_ring_try_push(xr_spsc_ring *r, const void *msg)
{
    if (XR_LIKELY(r != NULL && msg != NULL)) {
        xr_spsc_ring_producer *p = &r->producer;
        /* Relaxed: this thread is the only writer of tail (see try_push_slow). */
        uint64_t tail = atomic_load_explicit(&p->tail, memory_order_relaxed);
        if (XR_LIKELY(p->reserved == 0 && tail - p->head_cached <= p->mask) &&
            XR_LIKELY(copy_slot_fixed(slot_at(p->slots, tail, p->mask, p->slot_size), msg,
                                      p->slot_size))) {
            /* Release: publishes the slot just written (see try_push_slow). */
            atomic_store_explicit(&p->tail, tail + 1, memory_order_release);
            return XR_OK;
        }
    }
    return try_push_slow(r, msg);
}

uint32_t xr_spsc_ring_try_push_batch(xr_spsc_ring *r, const void *msgs, uint32_t n)
{
    XR_ASSERT(r != NULL && (msgs != NULL || n == 0));
    xr_spsc_ring_producer *p = &r->producer;
    XR_ASSERT(p->reserved == 0);
    /* Relaxed: this thread is the only writer of tail (see try_push). */
    uint64_t tail = atomic_load_explicit(&p->tail, memory_order_relaxed);
    uint32_t count = producer_free(p, &r->consumer, tail, n);
    if (count == 0)
        return 0;
    copy_in(p->slots, tail, p->mask, p->slot_size, msgs, count);
    /* Release: publishes all `count` slots at once; the consumer's load-acquire of tail makes
     * every byte copied above visible before it reads any of them (see try_push). */
    atomic_store_explicit(&p->tail, tail + count, memory_order_release);
    return count;
}

void *xr_spsc_ring_try_reserve(xr_spsc_ring *r)
{
    XR_ASSERT(r != NULL);
    xr_spsc_ring_producer *p = &r->producer;
    XR_ASSERT(p->reserved == 0);
    /* Relaxed: this thread is the only writer of tail (see try_push). */
    uint64_t tail = atomic_load_explicit(&p->tail, memory_order_relaxed);
    if (producer_free(p, &r->consumer, tail, 1) == 0)
        return NULL;
    p->reserved = 1;
    return slot_at(p->slots, tail, p->mask, p->slot_size);
}

uint32_t xr_spsc_ring_try_reserve_batch(xr_spsc_ring *r, uint32_t n, void **first)
{
    XR_ASSERT(r != NULL && first != NULL);
    xr_spsc_ring_producer *p = &r->producer;
    XR_ASSERT(p->reserved == 0);
    *first = NULL;
    /* Relaxed: this thread is the only writer of tail (see try_push). */
    uint64_t tail = atomic_load_explicit(&p->tail, memory_order_relaxed);
    /* A zero-copy run cannot wrap, so never ask for more than the slots left before the end
     * of the array; the rest is handed out by the next call, from slot 0. */
    uint32_t to_end = p->mask + 1 - (uint32_t)(tail & p->mask);
    uint32_t count = producer_free(p, &r->consumer, tail, n < to_end ? n : to_end);
    if (count == 0)
        return 0;
    p->reserved = count;
    *first = slot_at(p->slots, tail, p->mask, p->slot_size);
    return count;
}

void xr_spsc_ring_commit(xr_spsc_ring *r, uint32_t n)
{
    XR_ASSERT(r != NULL);
    xr_spsc_ring_producer *p = &r->producer;
    XR_ASSERT(n <= p->reserved);
    p->reserved = 0;
    if (n == 0)
        return;
    /* Relaxed: this thread is the only writer of tail (see try_push). */
    uint64_t tail = atomic_load_explicit(&p->tail, memory_order_relaxed);
    /* Release: the producer wrote the reserved slots in place before calling commit; this
     * store makes those writes visible to the consumer before the new tail is (pairs with the
     * consumer's load-acquire of tail). */
    atomic_store_explicit(&p->tail, tail + n, memory_order_release);
}

/* ---- consumer side ---- */

/* Hands every consumed slot (up to `next`) back to the producer. */
static inline void consumer_publish(xr_spsc_ring_consumer *c, uint64_t next)
{
    /* Release: every read (and in-place write) the consumer made of the slots below `next`
     * must be complete before the producer can see them as free and overwrite them; the
     * producer's load-acquire of head pairs with this store. Without it the compiler or CPU
     * could let the store of head overtake a slot copy, and the producer's next lap could
     * overwrite a message while it is still being read. */
    atomic_store_explicit(&c->head, next, memory_order_release);
}

/* Records that the consumer is done with `n` more slots, from `next` on, and hands them back
 * to the producer once a release batch has accumulated. */
static inline void consumer_advance(xr_spsc_ring_consumer *c, uint64_t next, uint32_t n)
{
    next += n;
    /* Relaxed: `next` carries no data to anyone. The consumer reads its own stores back, and
     * xr_spsc_ring_size() only needs some recent value (it clamps what it computes). */
    atomic_store_explicit(&c->next, next, memory_order_relaxed);
    /* Relaxed: only this thread stores head, so it reads back its own latest store. */
    uint64_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
    if (next - head >= c->release_batch)
        consumer_publish(c, next);
}

/* Returns how many messages the consumer may take right now, wanting `want` of them. Reads
 * the producer's cache line only when the cached tail cannot satisfy the request. */
static inline uint32_t consumer_ready(xr_spsc_ring_consumer *c, const xr_spsc_ring_producer *p,
                                      uint64_t next, uint32_t want)
{
    uint64_t ready = c->tail_cached - next;
    if (XR_UNLIKELY(ready < want)) {
        /* The consumer has used up what it knew of, so it may be about to find the ring
         * empty: hand back every slot it holds first. This bounds the batching: a consumer
         * that keeps up never sits on freed slots while the producer waits for space. */
        if (atomic_load_explicit(&c->head, memory_order_relaxed) != next)
            consumer_publish(c, next);
        /* Acquire pairs with the producer's store-release of tail in try_push, try_push_batch
         * and commit: once we see tail = t, every byte the producer wrote into the slots below
         * t is visible to us. Without it our reads of a slot could be satisfied before the
         * producer's writes to it (reading a stale or half-written message). */
        c->tail_cached = atomic_load_explicit(&p->tail, memory_order_acquire);
        ready = c->tail_cached - next;
    }
    /* The producer never publishes more than capacity beyond what we consumed; anything else
     * means two consumers or a corrupted ring. */
    XR_ASSERT(ready <= (uint64_t)c->mask + 1);
    return ready < want ? (uint32_t)ready : want;
}

/* The slow path of try_pop; see try_push_slow for the split. */
__attribute__((noinline)) static xr_err try_pop_slow(xr_spsc_ring *r, void *out)
{
    XR_ASSERT(r != NULL && out != NULL);
    xr_spsc_ring_consumer *c = &r->consumer;
    XR_ASSERT(c->peeked == 0);
    /* Relaxed: only this thread ever stores next, so it reads back its own latest store. */
    uint64_t next = atomic_load_explicit(&c->next, memory_order_relaxed);
    if (consumer_ready(c, &r->producer, next, 1) == 0)
        return XR_ERR_AGAIN;
    copy_slot(out, slot_at(c->slots, next, c->mask, c->slot_size), c->slot_size);
    consumer_advance(c, next, 1);
    return XR_OK;
}

xr_err xr_spsc_ring_try_pop(xr_spsc_ring *r, void *out)
{
    if (XR_LIKELY(r != NULL && out != NULL)) {
        xr_spsc_ring_consumer *c = &r->consumer;
        /* Relaxed: this thread is the only writer of next (see try_pop_slow). */
        uint64_t next = atomic_load_explicit(&c->next, memory_order_relaxed);
        /* tail_cached != next: the cached tail already shows a message, which the acquire
         * that loaded it made visible. */
        if (XR_LIKELY(c->peeked == 0 && c->tail_cached != next) &&
            XR_LIKELY(copy_slot_fixed(out, slot_at(c->slots, next, c->mask, c->slot_size),
                                      c->slot_size))) {
            consumer_advance(c, next, 1);
            return XR_OK;
        }
    }
    return try_pop_slow(r, out);
}

uint32_t xr_spsc_ring_try_pop_batch(xr_spsc_ring *r, void *out, uint32_t n)
{
    XR_ASSERT(r != NULL && (out != NULL || n == 0));
    xr_spsc_ring_consumer *c = &r->consumer;
    XR_ASSERT(c->peeked == 0);
    /* Relaxed: this thread is the only writer of next (see try_pop). */
    uint64_t next = atomic_load_explicit(&c->next, memory_order_relaxed);
    uint32_t count = consumer_ready(c, &r->producer, next, n);
    if (count == 0)
        return 0;
    copy_out(out, c->slots, next, c->mask, c->slot_size, count);
    consumer_advance(c, next, count);
    return count;
}

void *xr_spsc_ring_peek(xr_spsc_ring *r)
{
    XR_ASSERT(r != NULL);
    xr_spsc_ring_consumer *c = &r->consumer;
    XR_ASSERT(c->peeked == 0);
    /* Relaxed: this thread is the only writer of next (see try_pop). */
    uint64_t next = atomic_load_explicit(&c->next, memory_order_relaxed);
    if (consumer_ready(c, &r->producer, next, 1) == 0)
        return NULL;
    c->peeked = 1;
    return slot_at(c->slots, next, c->mask, c->slot_size);
}

uint32_t xr_spsc_ring_peek_batch(xr_spsc_ring *r, uint32_t n, void **first)
{
    XR_ASSERT(r != NULL && first != NULL);
    xr_spsc_ring_consumer *c = &r->consumer;
    XR_ASSERT(c->peeked == 0);
    *first = NULL;
    /* Relaxed: this thread is the only writer of next (see try_pop). */
    uint64_t next = atomic_load_explicit(&c->next, memory_order_relaxed);
    /* An in-place run cannot wrap; the messages after the end of the array are handed out by
     * the next call. */
    uint32_t to_end = c->mask + 1 - (uint32_t)(next & c->mask);
    uint32_t count = consumer_ready(c, &r->producer, next, n < to_end ? n : to_end);
    if (count == 0)
        return 0;
    c->peeked = count;
    *first = slot_at(c->slots, next, c->mask, c->slot_size);
    return count;
}

void xr_spsc_ring_release(xr_spsc_ring *r, uint32_t n)
{
    XR_ASSERT(r != NULL);
    xr_spsc_ring_consumer *c = &r->consumer;
    XR_ASSERT(n <= c->peeked);
    c->peeked = 0;
    if (n == 0)
        return;
    /* Relaxed: this thread is the only writer of next (see try_pop). */
    uint64_t next = atomic_load_explicit(&c->next, memory_order_relaxed);
    /* The consumer read (and possibly wrote) the peeked slots in place before calling release;
     * consumer_publish's store-release orders those accesses before the producer can reuse
     * the slots. */
    consumer_advance(c, next, n);
}

/* ---- any thread ---- */

uint32_t xr_spsc_ring_size(const xr_spsc_ring *r)
{
    XR_ASSERT(r != NULL);
    /* Relaxed loads: the result is a statistic, nothing is read through it. The two loads are
     * not one snapshot, so on a third thread the difference may come out negative (a stale
     * tail) or above the capacity (a stale next); both are clamped to what is possible. */
    uint64_t next = atomic_load_explicit(&r->consumer.next, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->producer.tail, memory_order_relaxed);
    uint64_t capacity = (uint64_t)r->producer.mask + 1;
    if (tail <= next)
        return 0;
    return (uint32_t)(tail - next > capacity ? capacity : tail - next);
}

bool xr_spsc_ring_empty(const xr_spsc_ring *r)
{
    return xr_spsc_ring_size(r) == 0;
}

uint32_t xr_spsc_ring_capacity(const xr_spsc_ring *r)
{
    XR_ASSERT(r != NULL);
    return r->producer.mask + 1;
}

uint32_t xr_spsc_ring_slot_size(const xr_spsc_ring *r)
{
    XR_ASSERT(r != NULL);
    return r->producer.slot_size;
}

uint32_t xr_spsc_ring_release_batch(const xr_spsc_ring *r)
{
    XR_ASSERT(r != NULL);
    return r->consumer.release_batch;
}
