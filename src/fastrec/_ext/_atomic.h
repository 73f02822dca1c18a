/* Atomic operations on words that several processes map (the frame ring's control block
 * and slot headers).
 *
 * Loads acquire and stores release: a consumer that loads a slot state written by the
 * producer also sees the header and pixels written before it.  Compare-and-swap and
 * fetch-add are sequentially consistent.  Every address must be naturally aligned; the
 * callers check.  Fetch-add returns the previous value.
 */
#ifndef FASTREC_ATOMIC_H
#define FASTREC_ATOMIC_H

#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)

static inline uint32_t fr_load32(uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void fr_store32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline int fr_cas32(uint32_t *p, uint32_t expected, uint32_t desired)
{
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}
static inline uint32_t fr_add32(uint32_t *p, uint32_t v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

static inline uint64_t fr_load64(uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void fr_store64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline int fr_cas64(uint64_t *p, uint64_t expected, uint64_t desired)
{
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}
static inline uint64_t fr_add64(uint64_t *p, uint64_t v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

#elif defined(_MSC_VER)

#include <intrin.h>

/* Interlocked intrinsics are full barriers on every MSVC target, which is at least as
 * strong as acquire/release.  Only _InterlockedCompareExchange64 exists on 32-bit x86 as
 * well, so every 64-bit operation is built on it. */

static __inline uint32_t fr_load32(uint32_t *p)
{
    return (uint32_t)_InterlockedCompareExchange((volatile long *)p, 0, 0);
}
static __inline void fr_store32(uint32_t *p, uint32_t v)
{
    _InterlockedExchange((volatile long *)p, (long)v);
}
static __inline int fr_cas32(uint32_t *p, uint32_t expected, uint32_t desired)
{
    return (uint32_t)_InterlockedCompareExchange((volatile long *)p, (long)desired,
                                                 (long)expected) == expected;
}
static __inline uint32_t fr_add32(uint32_t *p, uint32_t v)
{
    return (uint32_t)_InterlockedExchangeAdd((volatile long *)p, (long)v);
}

static __inline uint64_t fr_load64(uint64_t *p)
{
    return (uint64_t)_InterlockedCompareExchange64((volatile __int64 *)p, 0, 0);
}
static __inline int fr_cas64(uint64_t *p, uint64_t expected, uint64_t desired)
{
    return (uint64_t)_InterlockedCompareExchange64((volatile __int64 *)p, (__int64)desired,
                                                   (__int64)expected) == expected;
}
static __inline void fr_store64(uint64_t *p, uint64_t v)
{
    uint64_t old = *(volatile uint64_t *)p;
    while (!fr_cas64(p, old, v))
        old = fr_load64(p);
}
static __inline uint64_t fr_add64(uint64_t *p, uint64_t v)
{
    uint64_t old = *(volatile uint64_t *)p;
    while (!fr_cas64(p, old, old + v))
        old = fr_load64(p);
    return old;
}

#else
#error "fastrec/_atomic.h: no atomic operations for this compiler"
#endif

#endif /* FASTREC_ATOMIC_H */
