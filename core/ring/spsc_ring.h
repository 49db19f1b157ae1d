/*
 * core/ring/spsc_ring.h - a lock-free single-producer/single-consumer ring of fixed-size
 * slots: the only channel between two stages of the engine.
 *
 * Every message in a ring has the same size, fixed at initialisation (the ring's slot size, a
 * multiple of 8 bytes). Messages are copied in and out (try_push / try_pop and their batch
 * forms) or written and read in place (reserve / commit for the producer, peek / release for
 * the consumer). Nothing here allocates: the caller owns both the ring object and the slot
 * memory (xr_spsc_ring_footprint() says how much), so a ring can live in a stage's
 * preallocated arena and be used on the hot path with no malloc and no system call.
 *
 * Threading: exactly ONE producer thread and ONE consumer thread, which may be the same
 * thread (the embedded engine polls every stage from one thread). The producer side is
 * try_push, try_push_batch, try_reserve, try_reserve_batch and commit; the consumer side is
 * try_pop, try_pop_batch, peek, peek_batch and release. Two threads calling the same side
 * concurrently is a data race (undefined behaviour, not detected). xr_spsc_ring_size(),
 * xr_spsc_ring_empty(), xr_spsc_ring_capacity(), xr_spsc_ring_slot_size() and
 * xr_spsc_ring_release_batch() may be called from any thread; size and empty are
 * approximations that can be stale by the time they return. xr_spsc_ring_init() must
 * complete before either side starts, and the two threads must learn of the ring through a
 * synchronising operation (for example pthread_create or a release/acquire handoff).
 *
 * Progress: every call is wait-free and O(1) (the batch calls O(n) in bytes copied). When the
 * ring is full or empty a call returns at once with XR_ERR_AGAIN, NULL or 0; waiting (spinning,
 * backing off, blocking) is the caller's policy.
 *
 * Ordering: a message the consumer obtains is complete: every byte the producer wrote to the
 * slot before the commit (or inside try_push) is visible to the consumer, and a slot is never
 * reused by the producer before the consumer has released it. Messages are delivered in FIFO
 * order, none lost and none duplicated. A message is visible to the consumer as soon as the
 * push or commit that wrote it returns.
 *
 * Batched release: slots the consumer has finished with (try_pop, try_pop_batch, release) are
 * handed back to the producer in batches of up to xr_spsc_ring_release_batch(r) slots, that is
 * min(32, max(1, capacity / 8)); rings of fewer than 16 slots hand back every slot at once.
 * The consumer hands slots back when a batch is complete, and in any case whenever it looks
 * for messages past those it already knows of, in particular every time it finds the ring
 * empty. So a consumer that keeps up (the normal case) holds nothing back once it has caught
 * up, and a busy one holds back at most release_batch - 1 freed slots until a later call: the
 * producer may see the ring full while that many slots are already free. This never delays a
 * message; it lets a producer that has filled the ring resume a batch of slots at a time
 * instead of fighting the consumer for one cache line per message.
 *
 * Ownership: the ring object `r` and the slot memory `mem` belong to the caller, must outlive
 * every use of the ring, and must not be moved or freed while either side may still call into
 * it. A pointer returned by try_reserve / try_reserve_batch belongs to the producer until it
 * calls commit; a pointer returned by peek / peek_batch belongs to the consumer until it calls
 * release. Message pointers passed to try_push / try_pop (and their batch forms) are used only
 * during the call.
 *
 * Errors: XR_OK; XR_ERR_AGAIN (status, not an error: the ring is full for a push or empty for
 * a pop; call again later); XR_ERR_INVALID_ARGUMENT (init: capacity not a power of two, slot
 * size not a positive multiple of 8, memory too small or misaligned). Misuse that would
 * corrupt the ring (NULL pointers, committing or releasing more than was reserved or peeked)
 * fails an always-on XR_ASSERT.
 *
 * Why it is fast: the producer's index and the consumer's index live on separate cache lines,
 * and each side keeps a private copy of the other side's index. The producer reads the
 * consumer's line only when its copy says the ring is full, and the consumer reads the
 * producer's line only when its copy says the ring is empty, so in steady state each message
 * costs one store to the owner's own line plus the slot copy. Batched release (above) keeps a
 * producer that has caught up with the consumer from re-reading the consumer's line, and
 * re-writing the slot line the consumer is reading, once per message.
 */
#ifndef XR_RING_SPSC_RING_H
#define XR_RING_SPSC_RING_H

#include <stddef.h>
#include <stdint.h>

/* The ring's indices are C11 atomics. C++ (the benchmarks) cannot spell `_Atomic` before
 * C++23, so there the same fields are std::atomic<uint64_t>, which GCC and Clang lay out
 * exactly like `_Atomic uint64_t` (same size, alignment and lock-free representation; C++23
 * makes the two the same type). The static assertions below check it. */
#ifdef __cplusplus
#include <atomic>
#define XR_SPSC_RING_ATOMIC_U64 std::atomic<uint64_t>
#else
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#define XR_SPSC_RING_ATOMIC_U64 _Atomic uint64_t
#endif

#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of a cache line on every x86-64 and most arm64 parts xroute targets. */
#define XR_SPSC_RING_CACHELINE 64
/* Distance kept between data written by different threads. Two lines, not one: Intel's L2
 * spatial prefetcher fetches 64-byte lines in 128-byte aligned pairs, so two hot lines that
 * are neighbours would still ping-pong between cores (the reason folly and DPDK pad to 128). */
#define XR_SPSC_RING_PAD 128
/* Required alignment of the slot memory passed to xr_spsc_ring_init(): a slot array that
 * starts on a cache line never shares its first line with unrelated, differently-owned data. */
#define XR_SPSC_RING_MEM_ALIGN 64
/* Largest capacity (in slots) a ring accepts. */
#define XR_SPSC_RING_CAPACITY_MAX (UINT32_C(1) << 31)
/* Upper bound of a ring's release batch (see "Batched release"). */
#define XR_SPSC_RING_RELEASE_BATCH_MAX 32

/* Producer-owned state. Only the producer writes any of it; the consumer reads `tail` (and
 * nothing else here) when its cached copy says the ring is empty. The slot geometry is
 * duplicated on each side's line so a push never reads a line the consumer writes. */
typedef struct xr_spsc_ring_producer {
    XR_SPSC_RING_ATOMIC_U64 tail; /* slots ever published; next slot to fill is tail & mask */
    uint64_t head_cached;         /* last value of consumer.head this side has read */
    unsigned char *slots;         /* first slot (the caller's memory) */
    uint32_t mask;                /* capacity - 1 */
    uint32_t slot_size;           /* bytes per slot, a multiple of 8 */
    uint32_t reserved;            /* slots handed out by try_reserve* and not yet committed */
    unsigned char pad[XR_SPSC_RING_PAD - 8 * 3 - 4 * 3];
} xr_spsc_ring_producer;

/* Consumer-owned state; the mirror image of the producer's. The producer reads `head` (and
 * nothing else here) when its cached copy says the ring is full; xr_spsc_ring_size() reads
 * `next`. */
typedef struct xr_spsc_ring_consumer {
    XR_SPSC_RING_ATOMIC_U64 head; /* slots handed back to the producer (<= next) */
    XR_SPSC_RING_ATOMIC_U64 next; /* slots ever consumed; next slot to read is next & mask */
    uint64_t tail_cached;         /* last value of producer.tail this side has read */
    unsigned char *slots;
    uint32_t mask;
    uint32_t slot_size;
    uint32_t peeked;        /* slots handed out by peek* and not yet released */
    uint32_t release_batch; /* hand slots back once this many are waiting */
    unsigned char pad[XR_SPSC_RING_PAD - 8 * 4 - 4 * 4];
} xr_spsc_ring_consumer;

/* A ring. Declare it with static or automatic storage, or allocate it with an allocator that
 * honours its alignment (aligned_alloc(alignof(xr_spsc_ring), ...)); the fields are private
 * to spsc_ring.c. The two sides are each padded to XR_SPSC_RING_PAD bytes. */
typedef struct xr_spsc_ring {
    alignas(XR_SPSC_RING_PAD) xr_spsc_ring_producer producer;
    alignas(XR_SPSC_RING_PAD) xr_spsc_ring_consumer consumer;
} xr_spsc_ring;

#ifdef __cplusplus
static_assert(sizeof(std::atomic<uint64_t>) == 8 && alignof(std::atomic<uint64_t>) == 8,
              "std::atomic<uint64_t> must be laid out like _Atomic uint64_t");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "ring indices must be lock-free");
static_assert(sizeof(xr_spsc_ring_producer) == XR_SPSC_RING_PAD, "producer state is one pad");
static_assert(sizeof(xr_spsc_ring) == 2 * XR_SPSC_RING_PAD, "ring layout differs from C's");
#else
_Static_assert(sizeof(_Atomic uint64_t) == 8 && alignof(_Atomic uint64_t) == 8,
               "_Atomic uint64_t must be a plain 8-byte word");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "ring indices must be lock-free");
_Static_assert(sizeof(xr_spsc_ring_producer) == XR_SPSC_RING_PAD, "producer state is one pad");
_Static_assert(sizeof(xr_spsc_ring_consumer) == XR_SPSC_RING_PAD, "consumer state is one pad");
_Static_assert(offsetof(xr_spsc_ring, consumer) - offsetof(xr_spsc_ring, producer) >=
                   XR_SPSC_RING_PAD,
               "producer and consumer indices must not share a cache line pair");
_Static_assert(sizeof(xr_spsc_ring) == 2 * XR_SPSC_RING_PAD, "ring is two pads, nothing else");
_Static_assert((XR_SPSC_RING_PAD % XR_SPSC_RING_CACHELINE) == 0, "pad is whole cache lines");
#endif

/* Bytes of slot memory a ring of `capacity` slots of `slot_size` bytes needs: exactly
 * capacity * slot_size. Returns 0 when the arguments are invalid (capacity zero, not a power
 * of two or above XR_SPSC_RING_CAPACITY_MAX; slot_size zero or not a multiple of 8; the
 * product does not fit in size_t). */
size_t xr_spsc_ring_footprint(uint32_t capacity, uint32_t slot_size);

/* Initialises `r` over the caller's slot memory `mem` of `len` bytes. `r` must be aligned to
 * alignof(xr_spsc_ring); `mem` must be aligned to XR_SPSC_RING_MEM_ALIGN and len must be at
 * least xr_spsc_ring_footprint(capacity, slot_size). The slot memory is zeroed, which also
 * faults its pages in now rather than on the hot path. Not thread-safe: call it before either
 * side uses the ring (re-initialising a ring in use is a data race).
 * Returns XR_OK, or XR_ERR_INVALID_ARGUMENT (r or mem NULL or misaligned, invalid capacity or
 * slot size, len too small); on error `r` is left untouched. */
xr_err xr_spsc_ring_init(xr_spsc_ring *r, void *mem, size_t len, uint32_t capacity,
                         uint32_t slot_size);

/* ---- producer side (one thread) ---- */

/* Copies one message of slot_size bytes from `msg` (non-NULL, not inside the ring) into the
 * ring. Returns XR_OK, or XR_ERR_AGAIN when the ring is full (nothing is copied). */
xr_err xr_spsc_ring_try_push(xr_spsc_ring *r, const void *msg);

/* Copies up to `n` messages from `msgs`, an array of n * slot_size contiguous bytes (may be
 * NULL when n is 0), in order. Returns how many were pushed (the first k of the array), 0 when
 * the ring is full. A partial push happens only when the ring has fewer than n free slots. */
uint32_t xr_spsc_ring_try_push_batch(xr_spsc_ring *r, const void *msgs, uint32_t n);

/* Zero-copy push: returns the next free slot (slot_size writable bytes, 8-byte aligned) for
 * the producer to fill in place, or NULL when the ring is full. The slot is invisible to the
 * consumer until xr_spsc_ring_commit(r, 1). No other producer call may be made between a
 * reserve and its commit. */
void *xr_spsc_ring_try_reserve(xr_spsc_ring *r);

/* Zero-copy batch push: reserves up to `n` free slots that are contiguous in memory (it stops
 * at the end of the slot array, so a later call continues from its start), stores the first
 * one in *first and returns how many were reserved (0 when full or n is 0; then *first is
 * NULL). Slot i is at (unsigned char *)*first + i * slot_size. */
uint32_t xr_spsc_ring_try_reserve_batch(xr_spsc_ring *r, uint32_t n, void **first);

/* Publishes the first `n` reserved slots to the consumer, in order, and ends the reservation
 * (slots reserved beyond n are abandoned: they are neither published nor lost, the next
 * reserve hands them out again). n must not exceed the number just reserved (XR_ASSERT);
 * commit(r, 0) just abandons the reservation. */
void xr_spsc_ring_commit(xr_spsc_ring *r, uint32_t n);

/* ---- consumer side (one thread) ---- */

/* Copies the oldest message into `out` (slot_size writable bytes, non-NULL) and frees its
 * slot. Returns XR_OK, or XR_ERR_AGAIN when the ring is empty (`out` is untouched). */
xr_err xr_spsc_ring_try_pop(xr_spsc_ring *r, void *out);

/* Copies up to `n` of the oldest messages into `out` (n * slot_size writable bytes; may be
 * NULL when n is 0), oldest first, and frees their slots. Returns how many were popped, 0 when
 * the ring is empty. */
uint32_t xr_spsc_ring_try_pop_batch(xr_spsc_ring *r, void *out, uint32_t n);

/* Zero-copy pop: returns the oldest message in place (slot_size bytes, 8-byte aligned; the
 * consumer may also write to it), or NULL when the ring is empty. The slot stays the
 * consumer's until xr_spsc_ring_release(r, 1). No other consumer call may be made between a
 * peek and its release. */
void *xr_spsc_ring_peek(xr_spsc_ring *r);

/* Zero-copy batch pop: hands out up to `n` of the oldest messages that are contiguous in
 * memory (stopping at the end of the slot array), stores the first in *first and returns how
 * many (0 when empty or n is 0; then *first is NULL). */
uint32_t xr_spsc_ring_peek_batch(xr_spsc_ring *r, uint32_t n, void **first);

/* Frees the first `n` peeked slots for the producer to reuse (handed back as described under
 * "Batched release"), and ends the peek (messages
 * peeked beyond n stay in the ring and are handed out again). n must not exceed the number
 * just peeked (XR_ASSERT). */
void xr_spsc_ring_release(xr_spsc_ring *r, uint32_t n);

/* ---- any thread ---- */

/* Number of messages in the ring (pushed and not yet consumed), between 0 and capacity. Exact
 * when called by the producer or the consumer while the other side is quiet; otherwise a
 * snapshot that may already be stale when it returns. Slots consumed but not yet handed back
 * (see "Batched release") are not counted. */
uint32_t xr_spsc_ring_size(const xr_spsc_ring *r);

/* xr_spsc_ring_size(r) == 0, with the same caveats. */
bool xr_spsc_ring_empty(const xr_spsc_ring *r);

/* The ring's capacity in slots, and its slot size in bytes, as given to init. */
uint32_t xr_spsc_ring_capacity(const xr_spsc_ring *r);
uint32_t xr_spsc_ring_slot_size(const xr_spsc_ring *r);

/* Largest number of freed slots the consumer holds back before handing them to the producer:
 * min(XR_SPSC_RING_RELEASE_BATCH_MAX, max(1, capacity / 8)). See "Batched release". */
uint32_t xr_spsc_ring_release_batch(const xr_spsc_ring *r);

#ifdef __cplusplus
}
#endif

#endif /* XR_RING_SPSC_RING_H */
