/*
 * Fixed-size object pool. See pool.h for the contract.
 *
 * Layout of the caller's memory: `capacity` objects of `stride` bytes, then `capacity` state
 * bytes. The free list is a LIFO stack threaded through the free objects: the first 4 bytes
 * of a free object hold the index of the next free object (XR_POOL_NONE ends the list).
 * Indices rather than pointers keep the link the same size on every platform and let put()
 * validate a pointer by turning it into an index. LIFO hands back the most recently used
 * object first, which is the one most likely still in cache.
 *
 * The state bytes duplicate what the free list knows, on purpose: walking the list to ask
 * "is this object already free?" is O(n), the state byte answers it in O(1), so a double put
 * is caught at the put instead of surfacing later as two owners of one object.
 */
#include "core/ring/pool.h"

#include <string.h>

#include "core/base/assert.h"

#define XR_POOL_NONE     UINT32_MAX
#define XR_POOL_FREE     0x00u
#define XR_POOL_IN_USE   0xA5u
#define XR_POOL_NO_SHIFT 0u

_Static_assert(XR_POOL_MIN_ALIGN >= sizeof(uint32_t), "a free object must hold its link");
_Static_assert((XR_POOL_MIN_ALIGN & (XR_POOL_MIN_ALIGN - 1)) == 0, "alignments are powers of 2");
_Static_assert((XR_POOL_MAX_ALIGN & (XR_POOL_MAX_ALIGN - 1)) == 0, "alignments are powers of 2");
_Static_assert(XR_POOL_CAPACITY_MAX < XR_POOL_NONE, "the end marker is never an index");

/* The free-list link is read and written with memcpy: the object memory is typed by the
 * caller, and memcpy is the aliasing-safe way to store our integer in it. */
static inline uint32_t link_load(const unsigned char *obj)
{
    uint32_t next;
    memcpy(&next, obj, sizeof next);
    return next;
}

static inline void link_store(unsigned char *obj, uint32_t next)
{
    memcpy(obj, &next, sizeof next);
}

static size_t pool_stride(uint32_t obj_size, uint32_t obj_align)
{
    size_t align = obj_align < XR_POOL_MIN_ALIGN ? XR_POOL_MIN_ALIGN : obj_align;
    size_t size = obj_size < XR_POOL_MIN_ALIGN ? XR_POOL_MIN_ALIGN : obj_size;
    /* Cannot overflow: size <= UINT32_MAX and align <= XR_POOL_MAX_ALIGN in a 64-bit size_t. */
    return (size + align - 1) & ~(align - 1);
}

size_t xr_pool_footprint(uint32_t capacity, uint32_t obj_size, uint32_t obj_align)
{
    if (capacity == 0 || capacity > XR_POOL_CAPACITY_MAX || obj_size == 0)
        return 0;
    if (obj_align == 0 || (obj_align & (obj_align - 1)) != 0 || obj_align > XR_POOL_MAX_ALIGN)
        return 0;
    size_t objects_bytes, total;
    if (__builtin_mul_overflow((size_t)capacity, pool_stride(obj_size, obj_align), &objects_bytes))
        return 0;
    if (__builtin_add_overflow(objects_bytes, (size_t)capacity, &total))
        return 0;
    return total;
}

xr_err xr_pool_init(xr_pool *p, void *mem, size_t len, uint32_t capacity, uint32_t obj_size,
                    uint32_t obj_align)
{
    if (p == NULL || mem == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    size_t need = xr_pool_footprint(capacity, obj_size, obj_align);
    if (need == 0 || len < need)
        return XR_ERR_INVALID_ARGUMENT;
    size_t align = obj_align < XR_POOL_MIN_ALIGN ? XR_POOL_MIN_ALIGN : obj_align;
    if (((uintptr_t)mem & (align - 1)) != 0)
        return XR_ERR_INVALID_ARGUMENT;

    size_t stride = pool_stride(obj_size, obj_align);
    p->objects = mem;
    p->state = p->objects + (size_t)capacity * stride;
    p->stride = stride;
    p->capacity = capacity;
    p->free_count = capacity;
    p->free_head = 0;
    p->stride_shift = XR_POOL_NO_SHIFT;
    if ((stride & (stride - 1)) == 0)
        p->stride_shift = (uint32_t)__builtin_ctzll(stride);

    /* Thread the list in address order so a fresh pool hands out objects 0, 1, 2, ... and
     * sequential gets walk memory forwards. Touching every object here also faults the pages
     * in at start-up rather than on the hot path. */
    for (uint32_t i = 0; i < capacity; i++)
        link_store(p->objects + (size_t)i * stride, i + 1 < capacity ? i + 1 : XR_POOL_NONE);
    memset(p->state, XR_POOL_FREE, capacity);
    return XR_OK;
}

/* Maps a pointer handed out by this pool to its index, asserting it is one: inside the
 * object array, at the start of an object, and currently in use. */
static uint32_t live_index(const xr_pool *p, const void *obj)
{
    XR_ASSERT(obj != NULL);
    /* Compare as integers: pointer comparison between unrelated objects is undefined. */
    uintptr_t base = (uintptr_t)p->objects;
    uintptr_t addr = (uintptr_t)obj;
    XR_ASSERT(addr >= base);
    size_t offset = addr - base;
    XR_ASSERT(offset < (size_t)p->capacity * p->stride);
    size_t index;
    if (p->stride_shift != XR_POOL_NO_SHIFT) {
        index = offset >> p->stride_shift;
        XR_ASSERT((offset & (p->stride - 1)) == 0);
    } else {
        index = offset / p->stride;
        XR_ASSERT(index * p->stride == offset);
    }
    XR_ASSERT(p->state[index] == XR_POOL_IN_USE);
    return (uint32_t)index;
}

void *xr_pool_get(xr_pool *p)
{
    XR_ASSERT(p != NULL);
    uint32_t index = p->free_head;
    if (XR_UNLIKELY(index == XR_POOL_NONE)) {
        XR_ASSERT(p->free_count == 0);
        return NULL;
    }
    XR_ASSERT(index < p->capacity && p->free_count > 0);
    unsigned char *obj = p->objects + (size_t)index * p->stride;
    XR_ASSERT(p->state[index] == XR_POOL_FREE);
    p->free_head = link_load(obj);
    p->state[index] = XR_POOL_IN_USE;
    p->free_count--;
    return obj;
}

void xr_pool_put(xr_pool *p, void *obj)
{
    XR_ASSERT(p != NULL);
    uint32_t index = live_index(p, obj);
    XR_ASSERT(p->free_count < p->capacity);
    link_store(obj, p->free_head);
    p->free_head = index;
    p->state[index] = XR_POOL_FREE;
    p->free_count++;
}

uint32_t xr_pool_index(const xr_pool *p, const void *obj)
{
    XR_ASSERT(p != NULL);
    return live_index(p, obj);
}

void *xr_pool_at(const xr_pool *p, uint32_t index)
{
    XR_ASSERT(p != NULL);
    XR_ASSERT(index < p->capacity);
    XR_ASSERT(p->state[index] == XR_POOL_IN_USE);
    return p->objects + (size_t)index * p->stride;
}

uint32_t xr_pool_free_count(const xr_pool *p)
{
    XR_ASSERT(p != NULL);
    return p->free_count;
}

uint32_t xr_pool_capacity(const xr_pool *p)
{
    XR_ASSERT(p != NULL);
    return p->capacity;
}
