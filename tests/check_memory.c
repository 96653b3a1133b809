/* SPDX-License-Identifier: MIT */
/*
 * check_memory.c — unit tests for memory-trim.c: when the heap is trimmed (after a spell at or
 * above the busy threshold, once the in-flight count has stayed low for the quiet interval —
 * zero, or under an eighth of the threshold; not after a small spell, not while busy again),
 * that the owner's release hook runs just before each trim, and that the trim really gives
 * freed heap pages back to the kernel.
 */
#include <check.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "memory-trim.h"

#define QUIET_USEC UINT64_C(20000)

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Runs the loop for usec, or until the trim count reaches until_count. */
static void run_loop(sd_event *e, MemoryTrim *t, uint64_t usec, unsigned until_count) {
        uint64_t end = now_usec() + usec;

        while (memory_trim_count(t) < until_count && now_usec() < end)
                ck_assert_int_ge(sd_event_run(e, 5000), 0);
}

/* The owner's release hook: counts its calls. */
static void on_release(void *userdata) {
        (*(unsigned *) userdata)++;
}

static sd_event *event_new(void) {
        sd_event *e = NULL;

        ck_assert_int_eq(sd_event_new(&e), 0);
        return e;
}

START_TEST(test_trim_after_busy_spell) {
        sd_event *e = event_new();
        MemoryTrim *t = NULL;
        unsigned released = 0;

        ck_assert_int_eq(memory_trim_new(e, 4, QUIET_USEC, on_release, &released, &t), 0);
        for (unsigned n = 1; n <= 5; n++)
                memory_trim_note(t, n);
        for (unsigned n = 5; n-- > 0;)
                memory_trim_note(t, n);
        ck_assert_uint_eq(memory_trim_count(t), 0); /* not before the quiet interval */
        run_loop(e, t, 2000000, 1);
        ck_assert_uint_eq(memory_trim_count(t), 1);
        ck_assert_uint_eq(released, 1); /* the owner dropped its idle pools first */
        /* Once per spell: quiet from now on means nothing more to do. */
        memory_trim_note(t, 0);
        run_loop(e, t, 10 * QUIET_USEC, 2);
        ck_assert_uint_eq(memory_trim_count(t), 1);
        /* The next busy spell is trimmed after, too. */
        memory_trim_note(t, 4);
        memory_trim_note(t, 0);
        run_loop(e, t, 2000000, 2);
        ck_assert_uint_eq(memory_trim_count(t), 2);
        ck_assert_uint_eq(released, 2);
        memory_trim_free(t);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_no_trim_below_threshold) {
        sd_event *e = event_new();
        MemoryTrim *t = NULL;
        unsigned released = 0;

        ck_assert_int_eq(memory_trim_new(e, 4, QUIET_USEC, on_release, &released, &t), 0);
        memory_trim_note(t, 3);
        memory_trim_note(t, 0);
        run_loop(e, t, 10 * QUIET_USEC, 1);
        ck_assert_uint_eq(memory_trim_count(t), 0);
        /* Small spells do not add up: the threshold is about one spell's peak. */
        memory_trim_note(t, 3);
        memory_trim_note(t, 0);
        run_loop(e, t, 10 * QUIET_USEC, 1);
        ck_assert_uint_eq(memory_trim_count(t), 0);
        ck_assert_uint_eq(released, 0);
        memory_trim_free(t);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_busy_again_waits) {
        sd_event *e = event_new();
        MemoryTrim *t = NULL;
        unsigned released = 0;

        ck_assert_int_eq(memory_trim_new(e, 4, QUIET_USEC, on_release, &released, &t), 0);
        memory_trim_note(t, 8);
        memory_trim_note(t, 0); /* armed */
        memory_trim_note(t, 2); /* busy again before it fires */
        run_loop(e, t, 10 * QUIET_USEC, 1);
        ck_assert_uint_eq(memory_trim_count(t), 0);
        ck_assert_uint_eq(released, 0); /* pools are not dropped under load either */
        /* The drop to zero after that arms it again; the spell's peak is remembered. */
        memory_trim_note(t, 0);
        run_loop(e, t, 2000000, 1);
        ck_assert_uint_eq(memory_trim_count(t), 1);
        memory_trim_free(t);
        sd_event_unref(e);
}
END_TEST

/* With a threshold of 64, under 8 in flight is quiet: a steady trickle after a burst does not
 * keep the burst's memory; 8 or more is still busy. */
START_TEST(test_trickle_counts_as_quiet) {
        sd_event *e = event_new();
        MemoryTrim *t = NULL;
        unsigned released = 0;

        ck_assert_int_eq(memory_trim_new(e, 64, QUIET_USEC, on_release, &released, &t), 0);
        memory_trim_note(t, 64);
        memory_trim_note(t, 8); /* not low yet */
        run_loop(e, t, 10 * QUIET_USEC, 1);
        ck_assert_uint_eq(memory_trim_count(t), 0);
        memory_trim_note(t, 7); /* low: armed */
        memory_trim_note(t, 3);
        run_loop(e, t, 2000000, 1);
        ck_assert_uint_eq(memory_trim_count(t), 1);
        ck_assert_uint_eq(released, 1);
        /* A spell that peaks at 63 is not worth it. */
        memory_trim_note(t, 63);
        memory_trim_note(t, 1);
        run_loop(e, t, 10 * QUIET_USEC, 2);
        ck_assert_uint_eq(memory_trim_count(t), 1);
        memory_trim_free(t);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_free_accepts_null) {
        ck_assert_ptr_null(memory_trim_free(NULL));
        memory_trim_note(NULL, 5);
        ck_assert_uint_eq(memory_trim_count(NULL), 0);
}
END_TEST

static long anonymous_kib(void) {
        FILE *f = fopen("/proc/self/smaps_rollup", "re");
        char line[256];
        long kib = -1;

        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "Anonymous: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        ck_assert_int_ge(kib, 0);
        return kib;
}

#define N_CHUNKS 1024
#define BIG (48 * 1024) /* below glibc's mmap threshold: these come from the heap */

/* A burst's shape: large buffers interleaved with small allocations that outlive them (the
 * operations a burst leaves behind), so freeing the buffers leaves holes that glibc never
 * returns at the heap's top. */
START_TEST(test_trim_returns_pages) {
        static void *big[N_CHUNKS], *small[N_CHUNKS];
        sd_event *e = event_new();
        MemoryTrim *t = NULL;
        long before, after;

        for (unsigned i = 0; i < N_CHUNKS; i++) {
                big[i] = malloc(BIG);
                small[i] = malloc(64);
                ck_assert_ptr_nonnull(big[i]);
                ck_assert_ptr_nonnull(small[i]);
                memset(big[i], 0x5a, BIG);
        }
        for (unsigned i = 0; i < N_CHUNKS; i++)
                free(big[i]);

        /* Under a sanitizer or valgrind, malloc is not glibc's and malloc_trim() has nothing to
         * work on: only the timing above is tested there. */
        struct mallinfo2 mi = mallinfo2();
        if (mi.fordblks < (size_t) N_CHUNKS * BIG / 2) {
                fprintf(stderr, "check_memory: malloc is not glibc's here; RSS part skipped\n");
                for (unsigned i = 0; i < N_CHUNKS; i++)
                        free(small[i]);
                sd_event_unref(e);
                return;
        }

        before = anonymous_kib();
        ck_assert_int_eq(memory_trim_new(e, 1, QUIET_USEC, NULL, NULL, &t), 0);
        memory_trim_note(t, 1);
        memory_trim_note(t, 0);
        run_loop(e, t, 2000000, 1);
        ck_assert_uint_eq(memory_trim_count(t), 1);
        after = anonymous_kib();
        /* 48 MiB were freed into holes; nearly all of it must leave the process. */
        ck_assert_msg(before - after >= (long) N_CHUNKS * BIG / 1024 * 3 / 4,
                      "anonymous memory %ld KiB -> %ld KiB", before, after);

        for (unsigned i = 0; i < N_CHUNKS; i++)
                free(small[i]);
        memory_trim_free(t);
        sd_event_unref(e);
}
END_TEST

static Suite *memory_suite(void) {
        Suite *s = suite_create("memory-trim");
        TCase *tc = tcase_create("trim");

        tcase_add_test(tc, test_trim_after_busy_spell);
        tcase_add_test(tc, test_no_trim_below_threshold);
        tcase_add_test(tc, test_busy_again_waits);
        tcase_add_test(tc, test_trickle_counts_as_quiet);
        tcase_add_test(tc, test_free_accepts_null);
        tcase_add_test(tc, test_trim_returns_pages);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(memory_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
