/*
 * nosync_preload.so - BENCHMARK ONLY: durability off for a whole process, by LD_PRELOAD.
 *
 *   LD_PRELOAD=/path/nosync_preload.so bank_host ...
 *
 * perf/e2e/run.sh measures the round trip "acknowledged from memory" (issue 6) with the same
 * binaries and the same code path as the durable run: every LMDB write (the ledger's
 * reservation and booking, the order store, the bank outbox) still happens, only the flush
 * to stable storage is skipped, as with LMDB's MDB_NOSYNC (the ledger's
 * XR_LEDGER_NO_SYNC_BENCHMARK_ONLY), for every environment, the outbox's included, without a
 * switch in the product: nothing in xrouted's configuration can reach it.
 *
 * fsync / fdatasync / syncfs / sync_file_range / msync return 0 at once; open and openat lose
 * O_SYNC / O_DSYNC (LMDB writes its meta page through an O_DSYNC descriptor). A power loss
 * may lose what was acknowledged: never use it anywhere but a benchmark.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

int fsync(int fd);
int fdatasync(int fd);
int syncfs(int fd);
int msync(void *addr, size_t len, int flags);
int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags);
int open(const char *path, int flags, ...);
int open64(const char *path, int flags, ...);
int openat(int dirfd, const char *path, int flags, ...);
int openat64(int dirfd, const char *path, int flags, ...);

int fsync(int fd)
{
    (void)fd;
    return 0;
}

int fdatasync(int fd)
{
    (void)fd;
    return 0;
}

int syncfs(int fd)
{
    (void)fd;
    return 0;
}

int msync(void *addr, size_t len, int flags)
{
    (void)addr;
    (void)len;
    (void)flags;
    return 0;
}

int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
    (void)fd;
    (void)off;
    (void)n;
    (void)flags;
    return 0;
}

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

static mode_t mode_of(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    open_fn real = (open_fn)dlsym(RTLD_NEXT, "open");
    return real(path, flags & ~(O_SYNC | O_DSYNC), mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    open_fn real = (open_fn)dlsym(RTLD_NEXT, "open64");
    return real(path, flags & ~(O_SYNC | O_DSYNC), mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    openat_fn real = (openat_fn)dlsym(RTLD_NEXT, "openat");
    return real(dirfd, path, flags & ~(O_SYNC | O_DSYNC), mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    openat_fn real = (openat_fn)dlsym(RTLD_NEXT, "openat64");
    return real(dirfd, path, flags & ~(O_SYNC | O_DSYNC), mode);
}
