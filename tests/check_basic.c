/* SPDX-License-Identifier: MIT */
/*
 * check_basic.c — unit tests for the libc-only parsers of src/basic on their own: the INI
 * tokenizer (ini.c) line by line, and the value parsers and printers (parse-util.c,
 * time-util.c, string-util.c) at their edges. check_config.c tests them again through the
 * keys that use them, with the messages users see. Built against libbasic alone, so a
 * dependency on a higher layer fails to link here.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"
#include "parse-util.h"
#include "string-util.h"
#include "time-util.h"

/* ---- ini.c ---- */

static void assert_line(IniReader *r, IniLineType type, unsigned number, const char *name, const char *value) {
        IniLine l;

        ck_assert_int_eq(ini_reader_next(r, &l), 1);
        ck_assert_int_eq(l.type, type);
        ck_assert_uint_eq(l.number, number);
        ck_assert_uint_eq(l.name_len, strlen(name));
        ck_assert_int_eq(memcmp(l.name, name, l.name_len), 0);
        if (type == INI_ASSIGNMENT) {
                ck_assert_uint_eq(l.value_len, strlen(value));
                ck_assert_int_eq(memcmp(l.value, value, l.value_len), 0);
        }
}

static void assert_end(IniReader *r) {
        IniLine l;

        ck_assert_int_eq(ini_reader_next(r, &l), 0);
        /* And it stays at the end. */
        ck_assert_int_eq(ini_reader_next(r, &l), 0);
}

static void assert_syntax_error(const char *text, size_t len, unsigned line, IniSyntaxError error) {
        IniReader r;
        IniLine l;
        int k;

        ini_reader_init(&r, text, len);
        while ((k = ini_reader_next(&r, &l)) > 0)
                ;
        ck_assert_int_eq(k, -EINVAL);
        ck_assert_uint_eq(r.line, line);
        ck_assert_int_eq(r.error, error);
        ck_assert_ptr_nonnull(ini_syntax_error_to_string(error));
}

/* The whole literal, NUL bytes in it included. */
#define SYNTAX_ERROR(text, line, error) assert_syntax_error(text, sizeof(text) - 1, line, error)

START_TEST(test_ini_empty) {
        IniReader r;

        ini_reader_init(&r, NULL, 0);
        assert_end(&r);

        ini_reader_init(&r, "", 0);
        assert_end(&r);

        /* Only blanks, comments and a byte order mark: no lines to report. */
        const char *t = "\xEF\xBB\xBF\n  \t\n# a comment\n; another\n\r\n";
        ini_reader_init(&r, t, strlen(t));
        assert_end(&r);
        ck_assert_uint_eq(r.line, 5);
}
END_TEST

START_TEST(test_ini_lines) {
        const char *t = "\xEF\xBB\xBF[Graph]\r\n"
                        "MaxAttempts=5\r\n"
                        "\n"
                        "  # MaxAttempts=6\n"
                        "\tRequestTimeoutSec = 30s \n"
                        "Empty=\n"
                        "Url=https://x/?a=b\n"
                        "Max Attempts = 1 2 \n"
                        "[ Socket ]\n"
                        "[]]\n"
                        "Last=no newline";
        IniReader r;

        ini_reader_init(&r, t, strlen(t));
        assert_line(&r, INI_SECTION, 1, "Graph", NULL);
        assert_line(&r, INI_ASSIGNMENT, 2, "MaxAttempts", "5");
        assert_line(&r, INI_ASSIGNMENT, 5, "RequestTimeoutSec", "30s");
        assert_line(&r, INI_ASSIGNMENT, 6, "Empty", "");
        /* The first "=" ends the key; later ones belong to the value. */
        assert_line(&r, INI_ASSIGNMENT, 7, "Url", "https://x/?a=b");
        /* Blanks inside a key or value are kept: giving them a meaning is the reader's job. */
        assert_line(&r, INI_ASSIGNMENT, 8, "Max Attempts", "1 2");
        /* Brackets are stripped, nothing else. */
        assert_line(&r, INI_SECTION, 9, " Socket ", NULL);
        assert_line(&r, INI_SECTION, 10, "]", NULL);
        assert_line(&r, INI_ASSIGNMENT, 11, "Last", "no newline");
        assert_end(&r);
}
END_TEST

START_TEST(test_ini_length_not_nul) {
        /* The text ends at len, not at a NUL: the rest of the buffer is not read. */
        const char *t = "[A]\nk=v\n[B]\n";
        IniReader r;

        ini_reader_init(&r, t, 6);
        assert_line(&r, INI_SECTION, 1, "A", NULL);
        assert_line(&r, INI_ASSIGNMENT, 2, "k", "");
        assert_end(&r);

        /* A byte order mark only counts at the very start. */
        ini_reader_init(&r, "[A]\n\xEF\xBB\xBFk=v", strlen("[A]\n\xEF\xBB\xBFk=v"));
        assert_line(&r, INI_SECTION, 1, "A", NULL);
        assert_line(&r, INI_ASSIGNMENT, 2, "\xEF\xBB\xBFk", "v");
        assert_end(&r);

        /* A partial byte order mark is text. */
        SYNTAX_ERROR("\xEF\xBB", 1, INI_ERROR_MISSING_EQUALS);
}
END_TEST

START_TEST(test_ini_errors) {
        SYNTAX_ERROR("[A]\nk=v\0w\n", 2, INI_ERROR_NUL_BYTE);
        /* Before the comment check: a NUL anywhere refuses the file. */
        SYNTAX_ERROR("# c\0mment\n", 1, INI_ERROR_NUL_BYTE);
        SYNTAX_ERROR("[]", 1, INI_ERROR_SECTION_HEADER);
        SYNTAX_ERROR("[A", 1, INI_ERROR_SECTION_HEADER);
        SYNTAX_ERROR("[A] x", 1, INI_ERROR_SECTION_HEADER);
        SYNTAX_ERROR("[A]\n\njust words\n", 3, INI_ERROR_MISSING_EQUALS);
        SYNTAX_ERROR("k=v # comments only on their own line\nnope", 2, INI_ERROR_MISSING_EQUALS);
        SYNTAX_ERROR("=v", 1, INI_ERROR_EMPTY_KEY);
        SYNTAX_ERROR(" \t= v", 1, INI_ERROR_EMPTY_KEY);
        /* No line continuation: a trailing backslash is part of the value, and the next line
         * stands on its own. */
        SYNTAX_ERROR("k=a \\\nb\n", 2, INI_ERROR_MISSING_EQUALS);
}
END_TEST

START_TEST(test_ini_error_strings) {
        ck_assert_str_eq(ini_syntax_error_to_string(INI_ERROR_NUL_BYTE), "Line contains a NUL byte.");
        ck_assert_str_eq(ini_syntax_error_to_string(INI_ERROR_SECTION_HEADER),
                         "Invalid section header, expected \"[Name]\".");
        ck_assert_str_eq(ini_syntax_error_to_string(INI_ERROR_EMPTY_KEY), "Assignment without a key name.");
        ck_assert_ptr_null(strstr(ini_syntax_error_to_string(INI_ERROR_MISSING_EQUALS), "%"));
}
END_TEST

/* ---- parse-util.c ---- */

START_TEST(test_parse_uint64) {
        uint64_t v = 42;

        ck_assert_int_eq(parse_uint64("0", &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(parse_uint64("007", &v), 0);
        ck_assert_uint_eq(v, 7);
        ck_assert_int_eq(parse_uint64("18446744073709551615", &v), 0);
        ck_assert_uint_eq(v, UINT64_MAX);

        v = 42;
        ck_assert_int_eq(parse_uint64("18446744073709551616", &v), -ERANGE);
        ck_assert_int_eq(parse_uint64("99999999999999999999999", &v), -ERANGE);
        ck_assert_int_eq(parse_uint64("", &v), -EINVAL);
        ck_assert_int_eq(parse_uint64(" 1", &v), -EINVAL);
        ck_assert_int_eq(parse_uint64("1 ", &v), -EINVAL);
        ck_assert_int_eq(parse_uint64("+1", &v), -EINVAL);
        ck_assert_int_eq(parse_uint64("-1", &v), -EINVAL);
        ck_assert_int_eq(parse_uint64("0x10", &v), -EINVAL);
        ck_assert_int_eq(parse_uint64("1e3", &v), -EINVAL);
        ck_assert_int_eq(parse_uint64(NULL, &v), -EINVAL);
        ck_assert_uint_eq(v, 42); /* written only on success */
}
END_TEST

START_TEST(test_parse_decimal_prefix) {
        const char *s = "123abc", *p = s;
        uint64_t v = 0;

        ck_assert_int_eq(parse_decimal_prefix(&p, &v), 0);
        ck_assert_uint_eq(v, 123);
        ck_assert_ptr_eq(p, s + 3);

        p = "abc";
        v = 5;
        ck_assert_int_eq(parse_decimal_prefix(&p, &v), -EINVAL);
        ck_assert_str_eq(p, "abc");
        ck_assert_uint_eq(v, 5);

        s = "18446744073709551616s";
        p = s;
        ck_assert_int_eq(parse_decimal_prefix(&p, &v), -ERANGE);
        ck_assert_ptr_eq(p, s);
        ck_assert_uint_eq(v, 5);
}
END_TEST

START_TEST(test_format_size) {
        static const struct {
                uint64_t bytes;
                const char *text;
        } cases[] = {
                { 0, "0" },
                { 256, "256" },
                { 1023, "1023" },
                { 1024, "1K" },
                { 1536, "1536" },
                { UINT64_C(64) << 20, "64M" },
                { UINT64_C(1) << 30, "1G" },
                { UINT64_C(1) << 40, "1024G" }, /* no T: the largest unit printed is G */
                { UINT64_MAX, "18446744073709551615" },
        };
        char buf[32];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                format_size(buf, sizeof buf, cases[i].bytes);
                ck_assert_str_eq(buf, cases[i].text);
        }

        /* Every printed size parses back to itself. */
        size_t s;
        format_size(buf, sizeof buf, UINT64_C(3) << 20);
        ck_assert_int_eq(parse_size(buf, &s), 0);
        ck_assert_uint_eq(s, UINT64_C(3) << 20);
}
END_TEST

/* ---- time-util.c ---- */

START_TEST(test_parse_timespan_default_unit) {
        uint64_t u = 0;

        /* The *Ms keys: a bare number is milliseconds, a unit still wins. */
        ck_assert_int_eq(parse_timespan("200", USEC_PER_MSEC, &u), 0);
        ck_assert_uint_eq(u, 200 * USEC_PER_MSEC);
        ck_assert_int_eq(parse_timespan("1.5", USEC_PER_MSEC, &u), 0);
        ck_assert_uint_eq(u, 1500);
        ck_assert_int_eq(parse_timespan("2s", USEC_PER_MSEC, &u), 0);
        ck_assert_uint_eq(u, 2 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timespan("1s 500", USEC_PER_MSEC, &u), 0);
        ck_assert_uint_eq(u, 1500 * USEC_PER_MSEC);

        /* A default of microseconds drops fractions below one. */
        ck_assert_int_eq(parse_timespan("1.9", 1, &u), 0);
        ck_assert_uint_eq(u, 1);

        /* Days at the top of the range. */
        ck_assert_int_eq(parse_timespan("213503982d", USEC_PER_SEC, &u), 0);
        ck_assert_uint_eq(u, UINT64_C(213503982) * USEC_PER_DAY);
        ck_assert_int_eq(parse_timespan("213503983d", USEC_PER_SEC, &u), -ERANGE);

        /* Units are case-sensitive and whole words. */
        ck_assert_int_eq(parse_timespan("1S", USEC_PER_SEC, &u), -EINVAL);
        ck_assert_int_eq(parse_timespan("1mins", USEC_PER_SEC, &u), -EINVAL);
        ck_assert_int_eq(parse_timespan("1s2", USEC_PER_SEC, &u), 0);
        ck_assert_uint_eq(u, 3 * USEC_PER_SEC);
}
END_TEST

START_TEST(test_format_timespan) {
        static const struct {
                uint64_t usec;
                const char *text;
        } cases[] = {
                { 0, "0" },
                { 1, "1us" },
                { 1500, "1500us" },
                { USEC_PER_MSEC, "1ms" },
                { 90 * USEC_PER_SEC, "90s" },
                { 90 * USEC_PER_MINUTE, "90min" },
                { USEC_PER_HOUR, "1h" },
                { 7 * USEC_PER_DAY, "7d" },
                { UINT64_MAX, "18446744073709551615us" },
        };
        char buf[32];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                format_timespan(buf, sizeof buf, cases[i].usec);
                ck_assert_str_eq(buf, cases[i].text);
        }

        /* A short buffer gets a truncated, terminated string. */
        char small[3];
        format_timespan(small, sizeof small, 3600 * USEC_PER_SEC * 10);
        ck_assert_str_eq(small, "10");

        /* Every printed span parses back to itself. */
        uint64_t u;
        format_timespan(buf, sizeof buf, 36 * USEC_PER_HOUR);
        ck_assert_int_eq(parse_timespan_sec(buf, &u), 0);
        ck_assert_uint_eq(u, 36 * USEC_PER_HOUR);
}
END_TEST

/* ---- string-util.c ---- */

START_TEST(test_string_util) {
        _cleanup_free_ char *s = NULL, *e = NULL;

        s = strprintf("%s:%u", "file", 7u);
        ck_assert_str_eq(s, "file:7");

        ck_assert_int_eq(set_error(NULL, "%s", "dropped"), -EINVAL);
        ck_assert_int_eq(set_error(&e, "\"%s\" is %d", "x", 1), -EINVAL);
        ck_assert_str_eq(e, "\"x\" is 1");

        ck_assert(ascii_isblank(' ') && ascii_isblank('\t') && ascii_isblank('\r'));
        ck_assert(ascii_isblank('\v') && ascii_isblank('\f'));
        ck_assert(!ascii_isblank('\n') && !ascii_isblank('\0') && !ascii_isblank('x'));
        ck_assert(ascii_isdigit('0') && ascii_isdigit('9') && !ascii_isdigit('a') && !ascii_isdigit('\0'));
        ck_assert(ascii_isalpha('a') && ascii_isalpha('Z') && !ascii_isalpha('0') && !ascii_isalpha((char) 0xe9));
}
END_TEST

static Suite *basic_suite(void) {
        Suite *s = suite_create("basic");
        TCase *tc;

        tc = tcase_create("ini");
        tcase_add_test(tc, test_ini_empty);
        tcase_add_test(tc, test_ini_lines);
        tcase_add_test(tc, test_ini_length_not_nul);
        tcase_add_test(tc, test_ini_errors);
        tcase_add_test(tc, test_ini_error_strings);
        suite_add_tcase(s, tc);

        tc = tcase_create("values");
        tcase_add_test(tc, test_parse_uint64);
        tcase_add_test(tc, test_parse_decimal_prefix);
        tcase_add_test(tc, test_format_size);
        tcase_add_test(tc, test_parse_timespan_default_unit);
        tcase_add_test(tc, test_format_timespan);
        tcase_add_test(tc, test_string_util);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(basic_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
