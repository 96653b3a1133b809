/* SPDX-License-Identifier: MIT */
/*
 * ini.h — the systemd-style INI syntax, without meaning: cuts a text into "[Section]" headers
 * and "Key=Value" assignments, one line at a time, and says which line is not INI. It knows no
 * section or key names; whoever reads the lines decides what they mean. Works on the caller's
 * buffer, allocates nothing and does no I/O, so tests and fuzzers feed it text directly.
 *
 * The rules: a leading UTF-8 byte order mark is skipped; lines end at '\n'; blanks
 * (WHITESPACE, so the '\r' of CRLF too) around a line, a key and a value are not part of them;
 * a line whose first non-blank character is '#' or ';' is a comment; blank lines and comments
 * are skipped. There is no line continuation, no quoting and no comment after a value.
 */
#pragma once

#include <stddef.h>

typedef enum IniLineType {
        INI_SECTION,    /* "[name]": name is what is between the brackets, never empty */
        INI_ASSIGNMENT, /* "key=value": name is the key, never empty; value may be empty */
} IniLineType;

/* Why a line is not INI. */
typedef enum IniSyntaxError {
        INI_ERROR_NUL_BYTE,       /* the line contains a NUL byte */
        INI_ERROR_SECTION_HEADER, /* starts with '[' but is not "[name]" */
        INI_ERROR_MISSING_EQUALS, /* neither header, comment nor assignment */
        INI_ERROR_EMPTY_KEY,      /* "=value" */
} IniSyntaxError;

/* One line, pointing into the text: not NUL-terminated, valid as long as the text is. */
typedef struct IniLine {
        IniLineType type;
        unsigned number; /* 1-based */
        const char *name;
        size_t name_len;
        const char *value;
        size_t value_len;
} IniLine;

typedef struct IniReader {
        const char *p, *end;
        unsigned line;        /* the number of the line read last */
        IniSyntaxError error; /* after ini_reader_next() returned -EINVAL: why line is not INI */
} IniReader;

/* text may be NULL when len is 0. */
void ini_reader_init(IniReader *r, const char *text, size_t len);

/* Returns 1 and the next header or assignment in *ret, 0 at the end of the text, or -EINVAL
 * when line r->line is not INI (r->error says why; reading on after that is not supported). */
int ini_reader_next(IniReader *r, IniLine *ret);

/* A sentence for a syntax error, for messages such as "FILE:LINE: <sentence>". It never quotes
 * the line: a line that is not INI may well be a pasted secret. */
const char *ini_syntax_error_to_string(IniSyntaxError e);
