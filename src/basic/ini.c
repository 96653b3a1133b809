/* SPDX-License-Identifier: MIT */
/*
 * ini.c — see ini.h.
 */
#include <errno.h>
#include <string.h>

#include "ini.h"
#include "macro.h"
#include "string-util.h"

static void trim(const char **b, const char **e) {
        while (*b < *e && ascii_isblank(**b))
                (*b)++;
        while (*e > *b && ascii_isblank((*e)[-1]))
                (*e)--;
}

void ini_reader_init(IniReader *r, const char *text, size_t len) {
        *r = (IniReader) {
                .p = text,
                .end = text ? text + len : text,
        };

        /* Editors on other systems like to start files with a UTF-8 byte order mark. */
        if (len >= 3 && memcmp(r->p, "\xEF\xBB\xBF", 3) == 0)
                r->p += 3;
}

static int syntax_error(IniReader *r, IniSyntaxError e) {
        r->error = e;
        return -EINVAL;
}

int ini_reader_next(IniReader *r, IniLine *ret) {
        while (r->p && r->p < r->end) {
                const char *eol = memchr(r->p, '\n', (size_t) (r->end - r->p));
                const char *next = eol ? eol + 1 : r->end;
                const char *b = r->p, *e = eol ?: r->end;

                r->p = next;
                r->line++;

                if (memchr(b, '\0', (size_t) (e - b)))
                        return syntax_error(r, INI_ERROR_NUL_BYTE);

                trim(&b, &e);
                if (b == e || *b == '#' || *b == ';')
                        continue;

                if (*b == '[') {
                        if (e - b < 3 || e[-1] != ']')
                                return syntax_error(r, INI_ERROR_SECTION_HEADER);

                        *ret = (IniLine) {
                                .type = INI_SECTION,
                                .number = r->line,
                                .name = b + 1,
                                .name_len = (size_t) (e - b - 2),
                        };
                        return 1;
                }

                const char *eq = memchr(b, '=', (size_t) (e - b));
                if (!eq)
                        return syntax_error(r, INI_ERROR_MISSING_EQUALS);

                const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
                trim(&kb, &ke);
                trim(&vb, &ve);
                if (kb == ke)
                        return syntax_error(r, INI_ERROR_EMPTY_KEY);

                *ret = (IniLine) {
                        .type = INI_ASSIGNMENT,
                        .number = r->line,
                        .name = kb,
                        .name_len = (size_t) (ke - kb),
                        .value = vb,
                        .value_len = (size_t) (ve - vb),
                };
                return 1;
        }

        return 0;
}

const char *ini_syntax_error_to_string(IniSyntaxError e) {
        switch (e) {
        case INI_ERROR_NUL_BYTE:
                return "Line contains a NUL byte.";
        case INI_ERROR_SECTION_HEADER:
                return "Invalid section header, expected \"[Name]\".";
        case INI_ERROR_MISSING_EQUALS:
                return "Missing \"=\": expected a [Section] header, a comment or a Key=Value assignment.";
        case INI_ERROR_EMPTY_KEY:
                return "Assignment without a key name.";
        }
        return "Invalid line.";
}
