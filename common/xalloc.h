/* Allocation that aborts once, with the size, when memory runs out.
 * Malformed input is never handled here: only exhaustion of memory. */
#ifndef COMMON_XALLOC_H
#define COMMON_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
/* Unlike realloc(p, n) assigned back to p, never loses the old block: it aborts. */
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
