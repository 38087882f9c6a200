/* Whole-string number conversions for command-line values: the entire
 * string must be one number within [min, max]. An empty string, leading or
 * trailing junk, overflow, NaN and infinities fail. Each returns 0 and sets
 * *out, or returns -1 and leaves *out alone. */
#ifndef COMMON_NUMPARSE_H
#define COMMON_NUMPARSE_H

#include <stdint.h>

int parse_long_in(const char *s, long min, long max, long *out);
int parse_int_in(const char *s, int min, int max, int *out);
int parse_double_in(const char *s, double min, double max, double *out);
/* An unsigned 64-bit value in C notation (decimal, 0x hex, 0 octal); it
 * must start with a digit: no sign, no blanks. */
int parse_u64(const char *s, uint64_t *out);

#endif
