/*
 * core/ring/pool.h - a fixed-size object pool for hot-path objects (orders, child orders,
 * in-flight requests): O(1) get and put, no allocation after init.
 *
 * A pool hands out `capacity` objects of one size and alignment from memory the caller owns
 * (xr_pool_footprint() says how much). Free objects are kept on an intrusive free list: the
 * link to the next free object is stored in the first bytes of the free object itself, so the
 * list costs no memory beyond one state byte per object, which is what lets put() detect a
 * double put or a foreign pointer in O(1).
 *
 * Threading: single-threaded. A pool belongs to one stage and only that stage's thread may
 * call into it. An object may travel to another stage through a ring, but it comes back to
 * the owning stage (through a ring) to be put; putting from another thread is a data race.
 *
 * Ownership: the pool object and its memory belong to the caller and must outlive every
 * object handed out. An object returned by xr_pool_get() belongs to the caller until it is
 * passed to xr_pool_put(); after that it must not be touched (its first bytes hold the
 * free-list link). Object contents are not cleared on get or put.
 *
 * Errors: XR_OK; XR_ERR_INVALID_ARGUMENT (init: bad capacity, size, alignment or memory).
 * Exhaustion is not an error code: xr_pool_get() returns NULL. A put of a pointer that is
 * not a live object of this pool (double put, foreign or interior pointer, NULL) fails an
 * always-on XR_ASSERT.
 */
#ifndef XR_RING_POOL_H
#define XR_RING_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Smallest object alignment and size the pool works with: every free object must hold an
 * 8-byte-aligned free-list link. Smaller requests are rounded up. */
#define XR_POOL_MIN_ALIGN 8
/* Largest object alignment accepted (one page). */
#define XR_POOL_MAX_ALIGN 4096
/* Largest capacity accepted; indices fit in 32 bits with one value left as the end marker. */
#define XR_POOL_CAPACITY_MAX (UINT32_MAX - 1)

/* A pool. The fields are private to pool.c. */
typedef struct xr_pool {
    unsigned char *objects; /* object i is at objects + i * stride */
    unsigned char *state;   /* one byte per object: free or in use */
    size_t stride;          /* bytes from one object to the next */
    uint32_t capacity;      /* number of objects */
    uint32_t free_count;    /* number of objects on the free list */
    uint32_t free_head;     /* index of the first free object, or XR_POOL_NONE */
    uint32_t stride_shift;  /* log2(stride) when stride is a power of two, else 0 */
} xr_pool;

/* Bytes of memory a pool of `capacity` objects of `obj_size` bytes aligned to `obj_align`
 * needs: capacity objects of stride round_up(max(obj_size, 8), max(obj_align, 8)), followed
 * by one state byte per object. Returns 0 when the arguments are invalid (capacity zero or
 * above XR_POOL_CAPACITY_MAX, obj_size zero, obj_align not a power of two or above
 * XR_POOL_MAX_ALIGN, or the total does not fit in size_t). */
size_t xr_pool_footprint(uint32_t capacity, uint32_t obj_size, uint32_t obj_align);

/* Initialises `p` over `mem` (`len` bytes, at least xr_pool_footprint(...), aligned to
 * max(obj_align, 8)); every object starts free. Writes the whole memory once, which also
 * faults its pages in before the hot path. Returns XR_OK, or XR_ERR_INVALID_ARGUMENT
 * (p or mem NULL, invalid sizes, mem misaligned or len too small; `p` is left untouched). */
xr_err xr_pool_init(xr_pool *p, void *mem, size_t len, uint32_t capacity, uint32_t obj_size,
                    uint32_t obj_align);

/* Takes a free object: aligned to max(obj_align, 8), obj_size usable bytes, contents
 * unspecified. Returns NULL when the pool is exhausted. O(1). */
void *xr_pool_get(xr_pool *p);

/* Returns `obj`, which must be a pointer obtained from xr_pool_get(p) and not put since;
 * anything else (NULL, double put, a pointer from another pool or into the middle of an
 * object) fails XR_ASSERT. O(1). */
void xr_pool_put(xr_pool *p, void *obj);

/* The index of live object `obj` in the pool (0 <= index < capacity), e.g. to name it in a
 * ring message; asserts like xr_pool_put() that obj is a live object of this pool. */
uint32_t xr_pool_index(const xr_pool *p, const void *obj);

/* The live object at `index` (asserts that index is in range and the object is in use). */
void *xr_pool_at(const xr_pool *p, uint32_t index);

/* Number of objects currently free (capacity minus objects handed out). */
uint32_t xr_pool_free_count(const xr_pool *p);

/* Number of objects the pool was initialised with. */
uint32_t xr_pool_capacity(const xr_pool *p);

#ifdef __cplusplus
}
#endif

#endif /* XR_RING_POOL_H */
