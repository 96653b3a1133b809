/* SPDX-License-Identifier: MIT */
/*
 * util.h — small helpers with no home of their own: clocks, RFC 3339 time stamps, random
 * UUIDs, reading a secret file, growing byte buffers.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "macro.h"

uint64_t now_usec(int clock_id);

/* Formats a CLOCK_REALTIME value as "2026-11-26T21:00:00.123Z" into buf (at least 32 bytes). */
char *format_rfc3339_ms(uint64_t realtime_usec, char buf[static 32]);

/* A random (version 4) UUID as 36 lower-case characters plus NUL. */
int uuid_random(char ret[static 37]);

/* Opens path read-only and returns the descriptor with fstat()'s answer for it; anything but a
 * regular file is -EBADFD. Unless follow is set, a symlink as the last component is -ELOOP.
 * Checks made on *ret_st hold for the file then read from *ret_fd, not for one that was there
 * before. */
int open_regular_file(const char *path, bool follow, int *ret_fd, struct stat *ret_st);

/* Reads the whole file that fd holds a secret in, refusing anything larger than max_bytes, and
 * strips one trailing newline. The result must be freed with erase_and_free(). */
int read_secret_fd(int fd, size_t max_bytes, char **ret);

/* A growable byte buffer; always NUL-terminated so text can be used in place. */
typedef struct Buffer {
        char *data;
        size_t size;
        size_t allocated;
        bool secret; /* may hold a secret: never leave a copy behind in freed memory */
} Buffer;

int buffer_append(Buffer *b, const void *p, size_t n);
void buffer_consume(Buffer *b, size_t n);
void buffer_done(Buffer *b);

/* Lower-cases s and drops '-', so that Graph ids written "9F3C…" in URLs and "9f3c-…" in bodies
 * compare equal. Returns a new string. */
/* Replaces *p with a copy of s (NULL frees it): 0, or -ENOMEM with *p untouched. */
int free_and_strdup(char **p, const char *s);

char *id_normalize(const char *s);
