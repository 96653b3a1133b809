/* SPDX-License-Identifier: MIT */
/*
 * base64url.h — base64url without padding (RFC 4648 section 5, as JWS uses it: RFC 7515
 * section 2), both ways. The one codec of the JWTs the daemon signs (client assertions), checks
 * (notification tokens) and reads (a client assertion file's exp).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* NULL on OOM. */
char *base64url_encode(const void *p, size_t n);

/* Decodes exactly n characters. Refuses (-EINVAL) anything but the alphabet, '=' padding, a
 * length no text has (n % 4 == 1) and non-zero bits left over, so that each byte string has one
 * text only (a "changed" signature must not decode to the same bytes). The result has a NUL
 * after its *ret_len bytes, so that text can be used as a string; free() it. */
int base64url_decode(const char *s, size_t n, uint8_t **ret, size_t *ret_len);

/* Whether c is one of the 64 characters. */
bool base64url_char_valid(char c);
