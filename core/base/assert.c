#include "core/base/assert.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void xr_assert_fail(const char *expr, const char *file, int line)
{
    /* stderr is unbuffered, so the line is out before abort() even if the heap is corrupt. */
    fprintf(stderr, "level=fatal msg=\"assertion failed\" expr=\"%s\" at=%s:%d\n", expr, file,
            line);
    abort();
}
