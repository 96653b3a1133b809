/* SPDX-License-Identifier: MIT */
/*
 * validate.c — see validate.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

bool guid_is_valid(const char *s) {
        static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; /* x: a hex digit */

        if (!s || strlen(s) != sizeof shape - 1)
                return false;
        for (size_t i = 0; shape[i]; i++)
                if (shape[i] == '-' ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
                        return false;
        return true;
}

bool tenant_id_is_valid(const char *s) {
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++) {
                char c = s[n];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.'))
                        return false;
                if (n >= TENANT_ID_MAX)
                        return false;
        }
        return n > 0;
}

bool call_id_is_valid(const char *s) {
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++) {
                char c = s[n];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
                        return false;
                if (n >= CALL_ID_MAX)
                        return false;
        }
        return n > 0;
}

bool utf8_is_valid(const char *s, size_t n, size_t *ret_chars) {
        const uint8_t *p = (const uint8_t *) s, *end = p + n;
        size_t chars = 0;

        while (p < end) {
                uint32_t cp;
                size_t len;

                /* Runs of ASCII, eight bytes at a time: nearly everything here is ASCII. */
                while (end - p >= 8) {
                        uint64_t w;
                        memcpy(&w, p, sizeof w);
                        if (w & UINT64_C(0x8080808080808080))
                                break;
                        p += 8;
                        chars += 8;
                }
                if (p >= end)
                        break;
                if (p[0] < 0x80) {
                        cp = p[0];
                        len = 1;
                } else if ((p[0] & 0xe0) == 0xc0) {
                        cp = p[0] & 0x1f;
                        len = 2;
                } else if ((p[0] & 0xf0) == 0xe0) {
                        cp = p[0] & 0x0f;
                        len = 3;
                } else if ((p[0] & 0xf8) == 0xf0) {
                        cp = p[0] & 0x07;
                        len = 4;
                } else
                        return false;
                if ((size_t) (end - p) < len)
                        return false;
                for (size_t i = 1; i < len; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                /* Refuse overlong forms, surrogates and values past Unicode's range. */
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                p += len;
                chars++;
        }
        if (ret_chars)
                *ret_chars = chars;
        return true;
}

int client_context_check(const char *s) {
        size_t n = strlen(s), chars;

        if (n == 0)
                return -EINVAL;
        if (!utf8_is_valid(s, n, &chars))
                return -EILSEQ;
        if (chars > CLIENT_CONTEXT_MAX)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                uint8_t c = (uint8_t) s[i];
                if (c < 0x20 || c == 0x7f)
                        return -EINVAL;
                /* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F. */
                if (c == 0xc2 && i + 1 < n && (uint8_t) s[i + 1] >= 0x80 && (uint8_t) s[i + 1] <= 0x9f)
                        return -EINVAL;
        }
        return 0;
}

/* The length of the control character at p (C0, DEL: 1; C1, encoded C2 80..C2 9F: 2), or 0. */
static size_t control_at(const uint8_t *p) {
        if (*p < 0x20 || *p == 0x7f)
                return 1;
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                return 2;
        return 0;
}

bool text_has_control(const char *s) {
        for (const uint8_t *p = (const uint8_t *) s; p && *p; p++)
                if (control_at(p) > 0)
                        return true;
        return false;
}

int text_replace_controls(char **s) {
        static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
        const uint8_t *p;
        size_t n = 0;
        char *t, *o;

        if (!*s || !text_has_control(*s))
                return 0;
        /* At most three bytes for each byte replaced. */
        t = malloc(strlen(*s) * 3 + 1);
        if (!t)
                return -ENOMEM;
        o = t;
        for (p = (const uint8_t *) *s; *p; p += n) {
                n = control_at(p);
                if (n == 0 || *p == '\t' || *p == '\n') {
                        *o++ = (char) *p;
                        n = 1;
                } else if (*p == '\r')
                        *o++ = ' ';
                else {
                        memcpy(o, replacement, sizeof replacement - 1);
                        o += sizeof replacement - 1;
                }
        }
        *o = '\0';
        free(*s);
        *s = t;
        return 0;
}
