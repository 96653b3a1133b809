/* SPDX-License-Identifier: MIT */
/*
 * json-check.c — see json-check.h. A recursive descent over RFC 8259's grammar, one function
 * per rule, counting the values it meets (JsonShape) on the way; the recursion is bounded by
 * max_depth, so a line of a million '[' costs one pass and a refusal at the first level too
 * deep.
 */
#include <string.h>

#include "json-check.h"

typedef struct Scan {
        const char *p, *end;
        unsigned depth, max_depth;
        JsonShape shape;
} Scan;

static bool check_value(Scan *s);

static void skip_ws(Scan *s) {
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
                s->p++;
}

static bool take(Scan *s, char c) {
        if (s->p < s->end && *s->p == c) {
                s->p++;
                return true;
        }
        return false;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_hex(char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* At the opening quote. Any byte from 0x20 up but '"' and '\\' stands for itself (UTF-8 is
 * checked elsewhere); a control character must be escaped; an escape is one of the eight
 * characters or 'u' and four hex digits. */
static bool check_string(Scan *s) {
        s->p++;
        while (s->p < s->end) {
                unsigned char c = (unsigned char) *s->p++;

                if (c == '"')
                        return true;
                if (c < 0x20)
                        return false;
                if (c != '\\')
                        continue;
                if (s->p >= s->end)
                        return false;
                c = (unsigned char) *s->p++;
                if (c == 'u') {
                        if (s->end - s->p < 4)
                                return false;
                        for (int i = 0; i < 4; i++)
                                if (!is_hex(s->p[i]))
                                        return false;
                        s->p += 4;
                } else if (!strchr("\"\\/bfnrt", c) || c == '\0')
                        return false;
        }
        return false; /* unterminated */
}

static bool check_digits(Scan *s) {
        const char *start = s->p;

        while (s->p < s->end && is_digit(*s->p))
                s->p++;
        return s->p > start;
}

/* number = [ "-" ] ( "0" / digit1-9 *digit ) [ "." 1*digit ] [ ( "e" / "E" ) [ "+" / "-" ] 1*digit ] */
static bool check_number(Scan *s) {
        (void) take(s, '-');
        if (!take(s, '0')) {
                /* No leading zeros: "01" is not a number. */
                if (s->p >= s->end || *s->p < '1' || *s->p > '9')
                        return false;
                (void) check_digits(s);
        }
        if (take(s, '.') && !check_digits(s))
                return false;
        if (take(s, 'e') || take(s, 'E')) {
                if (!take(s, '+'))
                        (void) take(s, '-');
                if (!check_digits(s))
                        return false;
        }
        return true;
}

static bool check_literal(Scan *s, const char *literal) {
        size_t n = strlen(literal);

        if ((size_t) (s->end - s->p) < n || memcmp(s->p, literal, n) != 0)
                return false;
        s->p += n;
        return true;
}

/* The members or elements of a container whose opening bracket was just taken, up to its
 * closing one. */
static bool check_container(Scan *s, char close, bool object) {
        if (++s->depth > s->max_depth)
                return false;
        skip_ws(s);
        if (!take(s, close))
                for (;;) {
                        if (object) {
                                skip_ws(s);
                                if (s->p >= s->end || *s->p != '"' || !check_string(s))
                                        return false;
                                skip_ws(s);
                                if (!take(s, ':'))
                                        return false;
                        }
                        if (!check_value(s))
                                return false;
                        s->shape.values++;
                        if (s->depth == 1 && !object)
                                s->shape.top_elements++;
                        skip_ws(s);
                        if (take(s, close))
                                break;
                        if (!take(s, ','))
                                return false;
                }
        s->depth--;
        return true;
}

static bool check_value(Scan *s) {
        skip_ws(s);
        if (s->p >= s->end)
                return false;
        switch (*s->p) {
        case '{':
                s->p++;
                return check_container(s, '}', true);
        case '[':
                s->p++;
                return check_container(s, ']', false);
        case '"':
                return check_string(s);
        case 't':
                return check_literal(s, "true");
        case 'f':
                return check_literal(s, "false");
        case 'n':
                return check_literal(s, "null");
        default:
                return check_number(s);
        }
}

bool json_text_check(const char *text, size_t len, unsigned max_depth, JsonShape *ret_shape) {
        Scan s = { .p = text, .end = text + len, .max_depth = max_depth };

        if (!check_value(&s))
                return false;
        skip_ws(&s);
        if (s.p != s.end)
                return false;
        if (ret_shape)
                *ret_shape = s.shape;
        return true;
}
