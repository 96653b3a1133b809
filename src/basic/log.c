/* SPDX-License-Identifier: MIT */
/*
 * log.c — formats log entries: plain "<N>message" lines on stderr, or, when stderr is the
 * journal, native-protocol datagrams carrying structured fields. One write per entry so entries
 * from a busy daemon never interleave, and errno is preserved for the caller.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048 /* longest message, its NUL included; longer ones are cut */

static int max_level = LOG_INFO;
static bool prefix_priority = true;
static int journal_fd = -1;
static struct sockaddr_un journal_addr = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };

void log_set_journal_socket(const char *path) {
        snprintf(journal_addr.sun_path, sizeof journal_addr.sun_path, "%s", path);
}

/* $JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected to stdout/stderr; it is only
 * ours if stderr still is that stream (a child of a service may inherit the variable with
 * stderr redirected elsewhere). */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_open(void) {
        if (journal_fd >= 0 || !stderr_is_journal())
                return;
        journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

/* Appends "KEY=value\n" to buf, or the binary-safe form when value holds a newline. */
static size_t field_append(char *buf, size_t n, size_t size, const char *key, const char *value) {
        size_t klen = strlen(key), vlen = strlen(value);

        if (n + klen + vlen + 10 >= size)
                return n;
        memcpy(buf + n, key, klen);
        n += klen;
        if (!memchr(value, '\n', vlen)) {
                buf[n++] = '=';
                memcpy(buf + n, value, vlen);
                n += vlen;
        } else {
                uint64_t le = vlen; /* little-endian length, then the raw bytes */
                buf[n++] = '\n';
                for (int i = 0; i < 8; i++)
                        buf[n++] = (char) ((le >> (8 * i)) & 0xff);
                memcpy(buf + n, value, vlen);
                n += vlen;
        }
        buf[n++] = '\n';
        return n;
}

static bool journal_send(int level, const LogFields *f, const char *message) {
        char buf[4096], num[32];
        size_t n = 0;

        if (journal_fd < 0)
                return false;
        snprintf(num, sizeof num, "%d", level & 7);
        n = field_append(buf, n, sizeof buf, "PRIORITY", num);
        n = field_append(buf, n, sizeof buf, "SYSLOG_IDENTIFIER", "mediacanceld");
        n = field_append(buf, n, sizeof buf, "MESSAGE", message);
        if (f) {
                if (f->message_id)
                        n = field_append(buf, n, sizeof buf, "MESSAGE_ID", f->message_id);
                if (f->operation_id)
                        n = field_append(buf, n, sizeof buf, "OPERATION_ID", f->operation_id);
                if (f->call_id)
                        n = field_append(buf, n, sizeof buf, "CALL_ID", f->call_id);
                if (f->tenant_id)
                        n = field_append(buf, n, sizeof buf, "TENANT_ID", f->tenant_id);
                if (f->graph_request_id)
                        n = field_append(buf, n, sizeof buf, "GRAPH_REQUEST_ID", f->graph_request_id);
                if (f->has_peer) {
                        snprintf(num, sizeof num, "%u", f->peer_uid);
                        n = field_append(buf, n, sizeof buf, "PEER_UID", num);
                        if (f->peer_pid > 0) { /* 0: not known (the caller has gone) */
                                snprintf(num, sizeof num, "%d", f->peer_pid);
                                n = field_append(buf, n, sizeof buf, "PEER_PID", num);
                        }
                }
        }
        return sendto(journal_fd, buf, n, MSG_NOSIGNAL, (struct sockaddr *) &journal_addr, sizeof journal_addr) ==
               (ssize_t) n;
}

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

/* journald's stream protocol (and anyone reading stderr) takes every line for an entry of its
 * own, so each line of a multi-line message gets the priority prefix: text from outside (a
 * Graph error message, say) can neither lose its priority nor pose as an entry with a "<N>"
 * of its choosing. */
static void stderr_write(int level, const char *message) {
        /* Each line costs at most its bytes, "<N>" and '\n': 4 * LOG_LINE_MAX bounds it all. */
        char out[4 * LOG_LINE_MAX + 8];
        size_t n = 0;

        for (const char *p = message;;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);

                if (prefix_priority)
                        n += (size_t) snprintf(out + n, sizeof out - n, "<%d>", level & 7);
                memcpy(out + n, p, len);
                n += len;
                out[n++] = '\n';
                if (!nl || nl[1] == '\0')
                        break;
                p = nl + 1;
        }
        (void) !write(STDERR_FILENO, out, n);
}

static int log_dispatch(int level, int error, const LogFields *f, const char *fmt, va_list ap) {
        char buf[LOG_LINE_MAX];
        int saved_errno = errno;

        /* %m in fmt refers to the error we were given, not to whatever errno happens to be. */
        errno = error;
        int k = vsnprintf(buf, sizeof buf, fmt, ap);
        if (k < 0)
                buf[0] = '\0';

        if (!journal_send(level, f, buf))
                stderr_write(level, buf);
        errno = saved_errno;
        return -error;
}

int log_internal(int level, int error, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        int r = log_dispatch(level, error, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int log_struct_internal(int level, int error, const LogFields *fields, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        int r = log_dispatch(level, error, fields, fmt, ap);
        va_end(ap);
        return r;
}
