/* SPDX-License-Identifier: MIT */
/*
 * time-util.c — see time-util.h.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "parse-util.h"
#include "string-util.h"
#include "time-util.h"

static const struct {
        const char *name;
        uint64_t usec;
} time_units[] = {
        { "us", 1 },
        { "usec", 1 },
        { "ms", USEC_PER_MSEC },
        { "msec", USEC_PER_MSEC },
        { "s", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },
        { "second", USEC_PER_SEC },
        { "seconds", USEC_PER_SEC },
        { "m", USEC_PER_MINUTE },
        { "min", USEC_PER_MINUTE },
        { "minute", USEC_PER_MINUTE },
        { "minutes", USEC_PER_MINUTE },
        { "h", USEC_PER_HOUR },
        { "hr", USEC_PER_HOUR },
        { "hour", USEC_PER_HOUR },
        { "hours", USEC_PER_HOUR },
        { "d", USEC_PER_DAY },
        { "day", USEC_PER_DAY },
        { "days", USEC_PER_DAY },
};

/* "1h 30min" is 90 minutes. Integer arithmetic only, so "0.1s" is exactly 100000us and results
 * do not depend on floating point rounding. */
int parse_timespan(const char *s, uint64_t default_unit, uint64_t *ret_usec) {
        uint64_t total = 0;
        bool any = false;
        const char *p = s;
        int r;

        assert(s);
        assert(default_unit > 0);

        for (;;) {
                uint64_t whole = 0, frac = 0, frac_scale = 1, unit = default_unit;

                p += strspn(p, WHITESPACE);
                if (*p == '\0')
                        break;

                /* A digit must come first: this rejects "-1", "+1", ".5" and words. */
                r = parse_decimal_prefix(&p, &whole);
                if (r < 0)
                        return r;

                if (*p == '.') {
                        p++;
                        if (!ascii_isdigit(*p))
                                return -EINVAL;
                        /* Nine fractional digits are below a microsecond even for days; later
                         * digits are checked for syntax but cannot change the result. */
                        for (; ascii_isdigit(*p); p++)
                                if (frac_scale < UINT64_C(1000000000)) {
                                        frac = frac * 10 + (uint64_t) (*p - '0');
                                        frac_scale *= 10;
                                }
                }

                p += strspn(p, WHITESPACE);

                size_t n = 0;
                while (ascii_isalpha(p[n]))
                        n++;
                if (n > 0) {
                        bool found = false;

                        for (size_t i = 0; i < ELEMENTSOF(time_units); i++)
                                if (strlen(time_units[i].name) == n &&
                                    strncmp(time_units[i].name, p, n) == 0) {
                                        unit = time_units[i].usec;
                                        found = true;
                                        break;
                                }
                        if (!found)
                                return -EINVAL;
                        p += n;
                }

                if (whole > UINT64_MAX / unit)
                        return -ERANGE;
                uint64_t v = whole * unit;

                /* frac * unit / frac_scale without overflowing: split unit by frac_scale. Both
                 * products stay below 2^64 because frac < frac_scale <= 10^9. */
                uint64_t f = (unit / frac_scale) * frac + (unit % frac_scale) * frac / frac_scale;

                if (v > UINT64_MAX - f)
                        return -ERANGE;
                v += f;
                if (total > UINT64_MAX - v)
                        return -ERANGE;
                total += v;
                any = true;
        }

        if (!any)
                return -EINVAL;

        *ret_usec = total;
        return 0;
}

int parse_timespan_sec(const char *s, uint64_t *ret_usec) {
        if (!s)
                return -EINVAL;
        return parse_timespan(s, USEC_PER_SEC, ret_usec);
}

/* Range limits in error messages read best in the unit the user would write them in. */
void format_timespan(char *buf, size_t size, uint64_t usec) {
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
                { "d", USEC_PER_DAY }, { "h", USEC_PER_HOUR }, { "min", USEC_PER_MINUTE },
                { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC }, { "us", 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (usec != 0 && usec % units[i].usec == 0) {
                        (void) snprintf(buf, size, "%" PRIu64 "%s", usec / units[i].usec, units[i].name);
                        return;
                }
        (void) snprintf(buf, size, "0");
}
