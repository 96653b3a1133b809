/* SPDX-License-Identifier: MIT */
/*
 * memory-trim.h — gives the heap pages a burst freed back to the kernel once the burst is
 * over. glibc keeps freed memory in the process for reuse; after a few hundred requests in
 * flight (curl's buffers, TLS connections) that is megabytes that stay resident while the
 * daemon idles, and RSS then shows the largest burst so far instead of what is in use.
 * The owner reports how many requests are in flight; after a busy spell, once the count has
 * stayed low for a quiet interval, malloc_trim() releases every free page.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* A spell with at least this many requests in flight is worth trimming after: more than the
 * easy-handle pool keeps (event-curl.c), so handles and their buffers were freed. */
#define MEMORY_TRIM_BUSY_THRESHOLD 64U
/* Low means below an eighth of the busy threshold (below 1 for a threshold under 16): a steady
 * trickle of requests does not keep a burst's memory in the process. */
#define MEMORY_TRIM_LOW_DIVISOR 8U
/* How long the count must stay low: long enough that a burst which pauses is not trimmed in
 * the middle, short enough that the memory returns while someone is looking. */
#define MEMORY_TRIM_QUIET_USEC UINT64_C(2000000)

typedef struct MemoryTrim MemoryTrim;

/* Called just before the trim, to drop what the owner kept only for busy times (idle pools). */
typedef void (*memory_trim_release_t)(void *userdata);

int memory_trim_new(sd_event *event, unsigned busy_threshold, uint64_t quiet_usec, memory_trim_release_t release,
                    void *userdata, MemoryTrim **ret);
MemoryTrim *memory_trim_free(MemoryTrim *t);
DEFINE_CLEANUP_FUNC(MemoryTrim *, memory_trim_free);

/* The number of requests in flight changed to n. Accepts NULL (nothing to do). */
void memory_trim_note(MemoryTrim *t, unsigned n);

/* How many times memory was trimmed so far. */
unsigned memory_trim_count(const MemoryTrim *t);
