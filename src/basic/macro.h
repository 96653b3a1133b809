/* SPDX-License-Identifier: MIT */
/*
 * macro.h — small language helpers shared by every file: cleanup attributes, ownership
 * hand-over, array sizes and string equality. Nothing here allocates or does I/O.
 */
#pragma once

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* A macro's value as a string literal: STRINGIFY(CALL_ID_MAX) is "128". */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* Hand ownership of a pointer to someone else: returns it and clears the variable so the
 * cleanup attribute on it does nothing. */
#define TAKE_PTR(p)                      \
        ({                               \
                __typeof__(p) _p_ = (p); \
                (p) = NULL;              \
                _p_;                     \
        })

#define TAKE_FD(fd)              \
        ({                       \
                int _fd_ = (fd); \
                (fd) = -EBADF;   \
                _fd_;            \
        })

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

static inline bool strcaseeq(const char *a, const char *b) {
        return strcasecmp(a, b) == 0;
}

static inline const char *strempty(const char *s) {
        return s ?: "";
}

static inline bool isempty(const char *s) {
        return !s || !*s;
}

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Defines foo_freep() for a foo_free() that accepts NULL. */
#define DEFINE_CLEANUP_FUNC(type, func)           \
        static inline void func##p(type *p) {     \
                if (*p)                           \
                        (void) func(*p);          \
        }

/* Frees a string that held a secret (a token, a client secret, an assertion) after wiping
 * it, so the bytes do not linger in freed heap memory. Accepts NULL, returns NULL. */
static inline char *erase_and_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
        return NULL;
}
static inline void erase_and_freep(char **p) {
        erase_and_free(*p);
}
#define _cleanup_erase_ _cleanup_(erase_and_freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                extern int close(int);
                (void) close(*fd);
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* Evaluates expr, an int function call; returns its value from the caller when negative. For
 * long runs of appends where every step can only fail with -ENOMEM. */
#define TRY(expr)                         \
        do {                              \
                int _try_r = (expr);      \
                if (_try_r < 0)           \
                        return _try_r;    \
        } while (0)
