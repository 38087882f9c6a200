/* The text prompts are cut from: the built-in public-domain book, or a local
 * file named by --book-url (a path or file:// URL). Seen as an endless
 * "virtual" text — the book, a wrap marker, the book again, ... — so a slice
 * of any length exists; slices longer than the book say that they wrapped. */
#ifndef CLIENT_CORPUS_H
#define CLIENT_CORPUS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Inserted between repetitions of the book. */
#define CORPUS_WRAP_MARKER "\n\n[... the text starts again ...]\n\n"

typedef struct corpus {
    const char *text; /* valid UTF-8, no NUL bytes */
    size_t len;       /* bytes */
    char *owned;      /* non-NULL when loaded from a file */
    char name[256];   /* "built-in: ..." or the path, for the report */
} corpus;

/* Loads the built-in book (book_url NULL) or the file named by book_url.
 * Returns 0, or -1 with a message in err (network URLs are refused: the
 * corpus is built in and no download is needed). */
int corpus_load(corpus *c, const char *book_url, char *err, size_t errlen);
void corpus_free(corpus *c);

/* Length of one period of the virtual text (book + marker). */
size_t corpus_period(const corpus *c);

/* Moves a virtual offset forward to the start of a UTF-8 code point. */
size_t corpus_align(const corpus *c, size_t virt_offset);

/* Appends the virtual text [offset, offset + nbytes) to out, with the end
 * moved back to a code point boundary (offset is aligned first). Returns the
 * number of bytes appended (-1 when out's cap is hit); *wrapped is set when
 * the slice crossed the end of the book. */
long corpus_slice(const corpus *c, size_t offset, size_t nbytes, buf *out, bool *wrapped);

/* The virtual byte at offset. */
char corpus_byte(const corpus *c, size_t virt_offset);

#endif
