/* SPDX-License-Identifier: MIT */
/*
 * check_store.c — unit tests for what store.c does on disk: which state directories and
 * journals store_open() refuses (symlinks, modes and owners that would let another user plant
 * or redirect the journal) and accepts (a root-owned symlink to the directory, as systemd makes
 * for DynamicUser=), and that a compaction never writes through whatever sits at its temp
 * file's name. Runs as root (it chowns to another uid) and is skipped otherwise.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define OTHER_UID 65534 /* nobody */
#define VICTIM_TEXT "precious, not a journal\n"

static char tmp[64], state[128], journal[192], victim[128];
static sd_event *event;

static void write_text(const char *path, const char *text, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

static char *read_text(const char *path) {
        static char buf[4096];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ssize_t n = read(fd, buf, sizeof buf - 1);
        ck_assert_int_ge(n, 0);
        buf[n] = '\0';
        close(fd);
        return buf;
}

static void setup(void) {
        snprintf(tmp, sizeof tmp, "/tmp/mediacancel-store-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmp));
        snprintf(state, sizeof state, "%s/state", tmp);
        snprintf(journal, sizeof journal, "%s/" STORE_JOURNAL_NAME, state);
        snprintf(victim, sizeof victim, "%s/victim", tmp);
        ck_assert_int_eq(mkdir(state, 0700), 0);
        write_text(victim, VICTIM_TEXT, 0644);
        ck_assert_int_ge(sd_event_new(&event), 0);
}

static void teardown(void) {
        char cmd[128];

        event = sd_event_unref(event);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        ck_assert_int_eq(system(cmd), 0);
}

static int open_store(Store **ret) {
        return store_open(event, state, ret);
}

START_TEST(test_plain_directory) {
        _cleanup_(store_freep) Store *s = NULL;
        struct stat st;

        ck_assert_int_eq(open_store(&s), 0);
        ck_assert_int_eq(lstat(journal, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
}
END_TEST

START_TEST(test_created_directory) {
        _cleanup_(store_freep) Store *s = NULL;
        struct stat st;

        ck_assert_int_eq(rmdir(state), 0);
        ck_assert_int_eq(open_store(&s), 0);
        ck_assert_int_eq(stat(state, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0700);
}
END_TEST

/* The finding: the next compaction truncated and rewrote whatever the journal pointed to. */
START_TEST(test_journal_symlink_refused) {
        Store *s = NULL;

        ck_assert_int_eq(symlink(victim, journal), 0);
        ck_assert_int_eq(open_store(&s), -ELOOP);
        ck_assert_ptr_null(s);
        ck_assert_str_eq(read_text(victim), VICTIM_TEXT);
}
END_TEST

START_TEST(test_journal_not_regular_refused) {
        Store *s = NULL;

        ck_assert_int_eq(mkfifo(journal, 0600), 0);
        ck_assert_int_eq(open_store(&s), -EBADFD);
        ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_writable_directory_refused) {
        static const mode_t modes[] = { 0770, 0707, 0777, 01777, 0720 };
        Store *s = NULL;

        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
                ck_assert_int_eq(chmod(state, modes[i]), 0);
                ck_assert_int_eq(open_store(&s), -EPERM);
                ck_assert_ptr_null(s);
        }
        /* Read and search for others are fine (systemd's default StateDirectoryMode= is 0755). */
        ck_assert_int_eq(chmod(state, 0755), 0);
        ck_assert_int_eq(open_store(&s), 0);
        s = store_free(s);
}
END_TEST

START_TEST(test_foreign_directory_refused) {
        Store *s = NULL;

        ck_assert_int_eq(chown(state, OTHER_UID, OTHER_UID), 0);
        ck_assert_int_eq(open_store(&s), -EPERM);
        ck_assert_ptr_null(s);
        /* The group does not matter (systemd may give the directory the service's group). */
        ck_assert_int_eq(chown(state, 0, OTHER_UID), 0);
        ck_assert_int_eq(open_store(&s), 0);
        s = store_free(s);
}
END_TEST

/* DynamicUser= makes /var/lib/NAME a (root-owned) symlink to /var/lib/private/NAME: that must
 * work, another user's symlink must not. */
START_TEST(test_directory_symlink) {
        char real[160];
        Store *s = NULL;

        snprintf(real, sizeof real, "%s/private", tmp);
        ck_assert_int_eq(rename(state, real), 0);
        ck_assert_int_eq(symlink("private", state), 0);
        ck_assert_int_eq(open_store(&s), 0);
        s = store_free(s);
        ck_assert_int_eq(access(journal, F_OK), 0);

        ck_assert_int_eq(lchown(state, OTHER_UID, OTHER_UID), 0);
        ck_assert_int_eq(open_store(&s), -EPERM);
        ck_assert_ptr_null(s);
}
END_TEST

static void compact_one(Store *s, const char *json) {
        Buffer snapshot = {};

        ck_assert_int_gt(store_frame(&snapshot, json, strlen(json)), 0);
        ck_assert_int_eq(store_compact(s, &snapshot, 1), 0);
}

/* A stale temp file from a crash mid-compaction, or a symlink planted under its name: the
 * compaction replaces it, writes nothing through it, and the journal is a regular file after. */
START_TEST(test_compaction_temp_file) {
        char temp[192];
        struct stat st;
        Store *s = NULL;

        snprintf(temp, sizeof temp, "%s/.%s.tmp", state, STORE_JOURNAL_NAME);
        ck_assert_int_eq(symlink(victim, temp), 0);
        ck_assert_int_eq(open_store(&s), 0);
        compact_one(s, "{\"first\":1}");
        s = store_free(s); /* flushes: the writer thread did the rewrite */
        ck_assert_str_eq(read_text(victim), VICTIM_TEXT);
        ck_assert_int_eq(lstat(journal, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_ptr_nonnull(strstr(read_text(journal), "{\"first\":1}\n"));
        ck_assert_int_eq(lstat(temp, &st), -1);

        write_text(temp, "stale\n", 0600);
        ck_assert_int_eq(open_store(&s), 0);
        compact_one(s, "{\"second\":2}");
        s = store_free(s);
        ck_assert_ptr_null(strstr(read_text(journal), "first"));
        ck_assert_ptr_nonnull(strstr(read_text(journal), "{\"second\":2}\n"));
        ck_assert_ptr_null(strstr(read_text(journal), "stale"));
        ck_assert_int_eq(lstat(temp, &st), -1);
}
END_TEST

static Suite *store_suite(void) {
        Suite *s = suite_create("store");
        TCase *tc = tcase_create("disk");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_plain_directory);
        tcase_add_test(tc, test_created_directory);
        tcase_add_test(tc, test_journal_symlink_refused);
        tcase_add_test(tc, test_journal_not_regular_refused);
        tcase_add_test(tc, test_writable_directory_refused);
        tcase_add_test(tc, test_foreign_directory_refused);
        tcase_add_test(tc, test_directory_symlink);
        tcase_add_test(tc, test_compaction_temp_file);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "check_store: SKIP: needs root to chown test directories to another uid.\n");
                return 77;
        }
        SRunner *sr = srunner_create(store_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
