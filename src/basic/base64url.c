/* SPDX-License-Identifier: MIT */
/*
 * base64url.c — see base64url.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "base64url.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *base64url_encode(const void *p, size_t n) {
        const unsigned char *s = p;
        char *out, *o;

        if (n > (SIZE_MAX - 1) / 4 * 3)
                return NULL;
        out = o = malloc(n / 3 * 4 + 4 + 1);
        if (!out)
                return NULL;

        for (; n >= 3; s += 3, n -= 3) {
                *o++ = alphabet[s[0] >> 2];
                *o++ = alphabet[((s[0] & 0x03) << 4) | (s[1] >> 4)];
                *o++ = alphabet[((s[1] & 0x0f) << 2) | (s[2] >> 6)];
                *o++ = alphabet[s[2] & 0x3f];
        }
        /* The tail without '=' padding. */
        if (n == 1) {
                *o++ = alphabet[s[0] >> 2];
                *o++ = alphabet[(s[0] & 0x03) << 4];
        } else if (n == 2) {
                *o++ = alphabet[s[0] >> 2];
                *o++ = alphabet[((s[0] & 0x03) << 4) | (s[1] >> 4)];
                *o++ = alphabet[(s[1] & 0x0f) << 2];
        }
        *o = '\0';
        return out;
}

static int char_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '-')
                return 62;
        if (c == '_')
                return 63;
        return -1;
}

bool base64url_char_valid(char c) {
        return char_value(c) >= 0;
}

int base64url_decode(const char *s, size_t n, uint8_t **ret, size_t *ret_len) {
        uint8_t *out;
        size_t o = 0;
        uint32_t acc = 0;
        unsigned bits = 0;

        if (n % 4 == 1)
                return -EINVAL; /* no length leaves a single character */
        out = malloc(n / 4 * 3 + 3 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int v = char_value(s[i]);
                if (v < 0) {
                        free(out);
                        return -EINVAL;
                }
                acc = (acc << 6) | (uint32_t) v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (uint8_t) (acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }
        if (acc != 0) {
                free(out);
                return -EINVAL;
        }
        out[o] = 0;
        *ret = out;
        *ret_len = o;
        return 0;
}
