/* SPDX-License-Identifier: MIT */
/*
 * log.c — formats log lines for stderr. One write(2) per line so lines from a busy daemon
 * never interleave, and errno is preserved for the caller.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool prefix_priority = true;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_prefix_priority(bool b) {
        prefix_priority = b;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg",   [LOG_ALERT] = "alert",  [LOG_CRIT] = "crit",
                [LOG_ERR] = "err",       [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",     [LOG_DEBUG] = "debug",
        };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcaseeq(s, names[i]))
                        return (int) i;
        if (strcaseeq(s, "error"))
                return LOG_ERR;
        if (strcaseeq(s, "warn"))
                return LOG_WARNING;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        return -EINVAL;
}

int log_internal(int level, int error, const char *fmt, ...) {
        char buf[2048];
        int saved_errno = errno;
        size_t n = 0;
        va_list ap;

        if (prefix_priority)
                n = (size_t) snprintf(buf, sizeof buf, "<%d>", level & 7);

        /* %m in fmt refers to the error we were given, not to whatever errno happens to be. */
        errno = error;
        va_start(ap, fmt);
        int k = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
        va_end(ap);
        if (k < 0)
                k = 0;
        n += MIN((size_t) k, sizeof buf - n - 2);
        buf[n++] = '\n';

        (void) !write(STDERR_FILENO, buf, n);
        errno = saved_errno;
        return -error;
}
