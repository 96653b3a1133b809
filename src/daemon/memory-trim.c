/* SPDX-License-Identifier: MIT */
/*
 * memory-trim.c — see memory-trim.h. One sd-event timer, armed when the in-flight count drops
 * low after a busy spell and checked again when it fires.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "memory-trim.h"

struct MemoryTrim {
        sd_event_source *timer;
        unsigned busy_threshold;
        unsigned low; /* fewer in flight than this is quiet */
        uint64_t quiet_usec;
        memory_trim_release_t release;
        void *userdata;
        unsigned in_flight;
        unsigned peak;  /* most in flight since the last trim */
        unsigned count; /* trims done */
};

static int on_quiet(sd_event_source *s, uint64_t usec, void *userdata) {
        MemoryTrim *t = userdata;

        (void) s;
        (void) usec;
        /* Busy again: the next drop re-arms the timer. */
        if (t->in_flight >= t->low)
                return 0;
        if (t->release)
                t->release(t->userdata);
        /* malloc_trim(0) also returns the free pages inside the heap, not just those at its top,
         * which is where a burst's buffers end up between the operations it left behind. */
        (void) malloc_trim(0);
        log_debug("A spell of up to %u requests in flight is over; freed memory returned to the system.", t->peak);
        t->peak = 0;
        t->count++;
        return 0;
}

int memory_trim_new(sd_event *event, unsigned busy_threshold, uint64_t quiet_usec, memory_trim_release_t release,
                    void *userdata, MemoryTrim **ret) {
        _cleanup_(memory_trim_freep) MemoryTrim *t = NULL;
        int r;

        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->busy_threshold = busy_threshold;
        t->low = MAX(busy_threshold / MEMORY_TRIM_LOW_DIVISOR, 1U);
        t->quiet_usec = quiet_usec;
        t->release = release;
        t->userdata = userdata;
        /* Accuracy of a tenth of the wait: the exact moment does not matter, sharing a wake-up does. */
        r = sd_event_add_time(event, &t->timer, CLOCK_MONOTONIC, UINT64_MAX, MAX(quiet_usec / 10, UINT64_C(1)),
                              on_quiet, t);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(t->timer, "memory-trim");
        *ret = TAKE_PTR(t);
        return 0;
}

MemoryTrim *memory_trim_free(MemoryTrim *t) {
        if (!t)
                return NULL;
        sd_event_source_disable_unref(t->timer);
        free(t);
        return NULL;
}

void memory_trim_note(MemoryTrim *t, unsigned n) {
        int enabled = SD_EVENT_OFF;
        uint64_t now;

        if (!t)
                return;
        t->in_flight = n;
        if (n > t->peak)
                t->peak = n;
        if (n >= t->low || t->peak < t->busy_threshold)
                return;
        /* Armed already: the quiet interval counts from the first drop; a spell that comes back
         * meanwhile is caught when the timer fires. */
        (void) sd_event_source_get_enabled(t->timer, &enabled);
        if (enabled != SD_EVENT_OFF)
                return;
        if (sd_event_now(sd_event_source_get_event(t->timer), CLOCK_MONOTONIC, &now) < 0 ||
            sd_event_source_set_time(t->timer, now + t->quiet_usec) < 0 ||
            sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT) < 0)
                log_debug("Cannot arm the memory trim timer; freed memory stays with the process.");
}

unsigned memory_trim_count(const MemoryTrim *t) {
        return t ? t->count : 0;
}
