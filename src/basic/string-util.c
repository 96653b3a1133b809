/* SPDX-License-Identifier: MIT */
/*
 * string-util.c — see string-util.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "string-util.h"

char *vstrprintf(const char *fmt, va_list ap) {
        va_list aq;
        int n;

        va_copy(aq, ap);
        n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0)
                return NULL;

        char *s = malloc((size_t) n + 1);
        if (!s)
                return NULL;
        (void) vsnprintf(s, (size_t) n + 1, fmt, ap);
        return s;
}

char *strprintf(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        char *s = vstrprintf(fmt, ap);
        va_end(ap);
        return s;
}

/* Every user-facing failure of the configuration goes through here, and the parsers' reasons
 * ("\"abc\" is not a time span") are built the same way. */
int set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (!ret_error)
                return -EINVAL;

        va_start(ap, fmt);
        char *s = vstrprintf(fmt, ap);
        va_end(ap);
        if (!s)
                return -ENOMEM;

        *ret_error = s;
        return -EINVAL;
}
