/* SPDX-License-Identifier: MIT */
/*
 * parse-util.h — numbers as people write them in configuration: unsigned decimal integers and
 * sizes with binary units, parsed with integer arithmetic only (no strtoul(): it takes signs,
 * leading blanks and, in some locales, more), and sizes printed back in the unit a person
 * would write. Time spans are in time-util.h.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Reads the decimal digits at *p into *ret and moves *p past them. -EINVAL when *p is not a
 * digit, -ERANGE when the number does not fit in 64 bits; *p and *ret are kept then. */
int parse_decimal_prefix(const char **p, uint64_t *ret);

/* Parses a whole string of decimal digits: no sign, no blanks. -EINVAL or -ERANGE. */
int parse_uint64(const char *s, uint64_t *ret);

/* Parses a size: "1048576", "64K", "1M", "1G" (powers of 1024). */
int parse_size(const char *s, size_t *ret);

/* Prints bytes in the largest of G, M and K that divides it ("64K"), else as a plain number. */
void format_size(char *buf, size_t size, uint64_t bytes);
