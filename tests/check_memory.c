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

/* An event loop, a MemoryTrim on it, and a count of the owner's release hook calls. */
typedef struct Fixture {
        sd_event *event;
        MemoryTrim *trim;
        unsigned released;
} Fixture;

static void on_release(void *userdata) {
        ((Fixture *) userdata)->released++;
}

static void fixture_init(Fixture *f, unsigned busy_threshold) {
        *f = (Fixture) {};
        ck_assert_int_eq(sd_event_new(&f->event), 0);
        ck_assert_int_eq(memory_trim_new(f->event, busy_threshold, QUIET_USEC, on_release, f, &f->trim), 0);
}

static void fixture_done(Fixture *f) {
        memory_trim_free(f->trim);
        sd_event_unref(f->event);
}

/* Runs the loop for usec, or until the trim count reaches until_count. */
static void run_loop(Fixture *f, uint64_t usec, unsigned until_count) {
        uint64_t end = now_usec() + usec;

        while (memory_trim_count(f->trim) < until_count && now_usec() < end)
                ck_assert_int_ge(sd_event_run(f->event, 5000), 0);
}

/* Reports a spell: the count rises to peak one by one, then falls to end. */
static void spell(Fixture *f, unsigned peak, unsigned end) {
        for (unsigned n = 1; n <= peak; n++)
                memory_trim_note(f->trim, n);
        memory_trim_note(f->trim, end);
}

/* Expects n trims in all: waits up to 2 s for the n-th when it is due, otherwise ten quiet
 * intervals to see that no further one comes; each trim came after the owner's release hook. */
static void expect_trims(Fixture *f, unsigned n) {
        if (memory_trim_count(f->trim) < n)
                run_loop(f, 2000000, n);
        run_loop(f, 10 * QUIET_USEC, n + 1);
        ck_assert_uint_eq(memory_trim_count(f->trim), n);
        ck_assert_uint_eq(f->released, n);
}

START_TEST(test_trim_after_busy_spell) {
        Fixture f;

        fixture_init(&f, 4);
        spell(&f, 5, 0);
        ck_assert_uint_eq(memory_trim_count(f.trim), 0); /* not before the quiet interval */
        expect_trims(&f, 1);
        /* Once per spell: quiet from now on means nothing more to do. */
        memory_trim_note(f.trim, 0);
        expect_trims(&f, 1);
        /* The next busy spell is trimmed after, too. */
        spell(&f, 4, 0);
        expect_trims(&f, 2);
        fixture_done(&f);
}
END_TEST

START_TEST(test_no_trim_below_threshold) {
        Fixture f;

        fixture_init(&f, 4);
        spell(&f, 3, 0);
        expect_trims(&f, 0);
        /* Small spells do not add up: the threshold is about one spell's peak. */
        spell(&f, 3, 0);
        expect_trims(&f, 0);
        fixture_done(&f);
}
END_TEST

START_TEST(test_busy_again_waits) {
        Fixture f;

        fixture_init(&f, 4);
        spell(&f, 8, 0);             /* armed */
        memory_trim_note(f.trim, 2); /* busy again before it fires */
        expect_trims(&f, 0);         /* and no pool is dropped under load either */
        /* The drop to zero after that arms it again; the spell's peak is remembered. */
        memory_trim_note(f.trim, 0);
        expect_trims(&f, 1);
        fixture_done(&f);
}
END_TEST

/* With a threshold of 64, under 8 in flight is quiet: a steady trickle after a burst does not
 * keep the burst's memory; 8 or more is still busy. */
START_TEST(test_trickle_counts_as_quiet) {
        Fixture f;

        fixture_init(&f, 64);
        spell(&f, 64, 8); /* not low yet */
        expect_trims(&f, 0);
        memory_trim_note(f.trim, 7); /* low: armed */
        memory_trim_note(f.trim, 3);
        expect_trims(&f, 1);
        /* A spell that peaks at 63 is not worth it. */
        spell(&f, 63, 1);
        expect_trims(&f, 1);
        fixture_done(&f);
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
        long before, after;
        Fixture f;

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
        if (mi.fordblks >= (size_t) N_CHUNKS * BIG / 2) {
                fixture_init(&f, 1);
                before = anonymous_kib();
                spell(&f, 1, 0);
                expect_trims(&f, 1);
                after = anonymous_kib();
                /* 48 MiB were freed into holes; nearly all of it must leave the process. */
                ck_assert_msg(before - after >= (long) N_CHUNKS * BIG / 1024 * 3 / 4,
                              "anonymous memory %ld KiB -> %ld KiB", before, after);
                fixture_done(&f);
        } else
                fprintf(stderr, "check_memory: malloc is not glibc's here; RSS part skipped\n");

        for (unsigned i = 0; i < N_CHUNKS; i++)
                free(small[i]);
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
