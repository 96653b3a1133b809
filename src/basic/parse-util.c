/* SPDX-License-Identifier: MIT */
/*
 * parse-util.c — see parse-util.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "parse-util.h"
#include "string-util.h"

int parse_decimal_prefix(const char **p, uint64_t *ret) {
        const char *q = *p;
        uint64_t v = 0;

        if (!ascii_isdigit(*q))
                return -EINVAL;
        for (; ascii_isdigit(*q); q++) {
                unsigned d = (unsigned) (*q - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }

        *p = q;
        *ret = v;
        return 0;
}

int parse_uint64(const char *s, uint64_t *ret) {
        if (!s || strspn(s, "0123456789") != strlen(s))
                return -EINVAL;
        return parse_decimal_prefix(&s, ret);
}

int parse_size(const char *s, size_t *ret) {
        static const struct {
                const char *name;
                uint64_t factor;
        } size_units[] = {
                { "", 1 },
                { "B", 1 },
                { "K", UINT64_C(1) << 10 },
                { "KiB", UINT64_C(1) << 10 },
                { "M", UINT64_C(1) << 20 },
                { "MiB", UINT64_C(1) << 20 },
                { "G", UINT64_C(1) << 30 },
                { "GiB", UINT64_C(1) << 30 },
                { "T", UINT64_C(1) << 40 },
                { "TiB", UINT64_C(1) << 40 },
        };
        uint64_t v = 0, factor = 0;
        const char *p;
        int r;

        if (!s)
                return -EINVAL;

        p = s + strspn(s, WHITESPACE);
        r = parse_decimal_prefix(&p, &v);
        if (r < 0)
                return r;

        p += strspn(p, WHITESPACE);
        size_t n = strcspn(p, WHITESPACE);
        for (size_t i = 0; i < ELEMENTSOF(size_units); i++)
                if (strlen(size_units[i].name) == n && strncmp(size_units[i].name, p, n) == 0) {
                        factor = size_units[i].factor;
                        break;
                }
        if (factor == 0)
                return -EINVAL;
        p += n;
        if (p[strspn(p, WHITESPACE)] != '\0')
                return -EINVAL;

        if (v > UINT64_MAX / factor || v * factor > SIZE_MAX)
                return -ERANGE;

        *ret = (size_t) (v * factor);
        return 0;
}

/* Range limits in error messages read best in the unit the user would write them in. */
void format_size(char *buf, size_t size, uint64_t bytes) {
        static const struct {
                const char *name;
                uint64_t factor;
        } units[] = {
                { "G", UINT64_C(1) << 30 }, { "M", UINT64_C(1) << 20 }, { "K", UINT64_C(1) << 10 },
        };

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (bytes != 0 && bytes % units[i].factor == 0) {
                        (void) snprintf(buf, size, "%" PRIu64 "%s", bytes / units[i].factor, units[i].name);
                        return;
                }
        (void) snprintf(buf, size, "%" PRIu64, bytes);
}
