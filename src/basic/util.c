/* SPDX-License-Identifier: MIT */
/*
 * util.c — see util.h. Nothing here logs: callers decide what a failure means.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

uint64_t now_usec(int clock_id) {
        struct timespec ts;

        (void) clock_gettime(clock_id, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000) + (uint64_t) ts.tv_nsec / 1000;
}

char *format_rfc3339_ms(uint64_t realtime_usec, char buf[static 32]) {
        time_t sec = (time_t) (realtime_usec / 1000000);
        struct tm tm;

        if (!gmtime_r(&sec, &tm)) {
                strcpy(buf, "1970-01-01T00:00:00.000Z");
                return buf;
        }
        size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, 32 - n, ".%03uZ", (unsigned) ((realtime_usec / 1000) % 1000));
        return buf;
}

/* Ids must be unique and unguessable, not secret: a per-thread pool filled by one getrandom()
 * per 128 ids (a cancel needs two or three), written out without printf. Used bytes are wiped,
 * so the pool never holds an id that was handed out. */
int uuid_random(char ret[static 37]) {
        static _Thread_local uint8_t pool[16 * 128];
        static _Thread_local size_t used = sizeof pool;
        static const char hex[] = "0123456789abcdef";
        uint8_t b[16];

        if (used >= sizeof pool) {
                size_t got = 0;
                while (got < sizeof pool) {
                        ssize_t k = getrandom(pool + got, sizeof pool - got, 0);
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        got += (size_t) k;
                }
                used = 0;
        }
        memcpy(b, pool + used, sizeof b);
        explicit_bzero(pool + used, sizeof b);
        used += sizeof b;
        b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
        b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
        for (size_t i = 0, o = 0; i < sizeof b; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        ret[o++] = '-';
                ret[o++] = hex[b[i] >> 4];
                ret[o++] = hex[b[i] & 15];
        }
        ret[36] = '\0';
        explicit_bzero(b, sizeof b);
        return 0;
}

int open_regular_file(const char *path, bool follow, int *ret_fd, struct stat *ret_st) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        /* O_NONBLOCK: a FIFO put in the file's place must not hang the daemon at start-up. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        *ret_fd = TAKE_FD(fd);
        *ret_st = st;
        return 0;
}

int read_secret_fd(int fd, size_t max_bytes, char **ret) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t) st.st_size > max_bytes)
                return -EFBIG;

        char *s = malloc(max_bytes + 1);
        if (!s)
                return -ENOMEM;
        size_t n = 0;
        for (;;) {
                ssize_t k = read(fd, s + n, max_bytes + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        explicit_bzero(s, n);
                        free(s);
                        return r;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max_bytes) {
                        explicit_bzero(s, n);
                        free(s);
                        return -EFBIG;
                }
        }
        s[n] = '\0';
        if (n > 0 && s[n - 1] == '\n')
                s[--n] = '\0';
        if (n > 0 && s[n - 1] == '\r')
                s[--n] = '\0';
        if (n == 0 || memchr(s, '\0', n)) {
                explicit_bzero(s, n);
                free(s);
                return -EBADMSG;
        }
        *ret = s;
        return 0;
}

int buffer_append(Buffer *b, const void *p, size_t n) {
        if (b->size + n + 1 > b->allocated) {
                size_t want = MAX(b->allocated * 2, b->size + n + 1);
                want = MAX(want, (size_t) 256);
                char *d;
                if (b->secret) {
                        /* realloc() may move the bytes and free the old block unwiped. */
                        d = malloc(want);
                        if (!d)
                                return -ENOMEM;
                        if (b->data) {
                                memcpy(d, b->data, b->size);
                                explicit_bzero(b->data, b->allocated);
                                free(b->data);
                        }
                } else {
                        d = realloc(b->data, want);
                        if (!d)
                                return -ENOMEM;
                }
                b->data = d;
                b->allocated = want;
        }
        memcpy(b->data + b->size, p, n);
        b->size += n;
        b->data[b->size] = '\0';
        return 0;
}

void buffer_consume(Buffer *b, size_t n) {
        if (n >= b->size) {
                b->size = 0;
                if (b->data)
                        b->data[0] = '\0';
                /* Give back large buffers once drained so one burst does not pin memory. */
                if (b->allocated > 65536) {
                        if (b->secret)
                                explicit_bzero(b->data, b->allocated);
                        free(b->data);
                        b->data = NULL;
                        b->allocated = 0;
                }
                return;
        }
        memmove(b->data, b->data + n, b->size - n);
        b->size -= n;
        b->data[b->size] = '\0';
}

void buffer_done(Buffer *b) {
        if (b->secret && b->data)
                explicit_bzero(b->data, b->allocated);
        free(b->data);
        *b = (Buffer) {};
}

int free_and_strdup(char **p, const char *s) {
        char *c = NULL;

        if (s && !(c = strdup(s)))
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

char *id_normalize(const char *s) {
        char *r = malloc(strlen(s) + 1), *o = r;

        if (!r)
                return NULL;
        for (; *s; s++)
                if (*s != '-')
                        *o++ = (char) ((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
        *o = '\0';
        return r;
}
