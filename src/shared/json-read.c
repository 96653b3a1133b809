/* SPDX-License-Identifier: MIT */
/*
 * json-read.c — see json-read.h.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json-read.h"
#include "util.h"
#include "validate.h"

void json_reader_init(JsonReader *c, char *text, size_t len, unsigned max_depth) {
        *c = (JsonReader) { .p = text, .end = text + len, .max_depth = max_depth };
}

void json_skip_ws(JsonReader *c) {
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
                c->p++;
}

bool json_take(JsonReader *c, char ch) {
        json_skip_ws(c);
        if (c->p < c->end && *c->p == ch) {
                c->p++;
                return true;
        }
        return false;
}

bool json_take_literal(JsonReader *c, const char *lit, size_t n) {
        if ((size_t) (c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
                return false;
        c->p += n;
        return true;
}

static int hex4(const char *p) {
        int v = 0;

        for (int i = 0; i < 4; i++) {
                char ch = p[i];
                v <<= 4;
                if (ch >= '0' && ch <= '9')
                        v |= ch - '0';
                else if (ch >= 'a' && ch <= 'f')
                        v |= ch - 'a' + 10;
                else if (ch >= 'A' && ch <= 'F')
                        v |= ch - 'A' + 10;
                else
                        return -1;
        }
        return v;
}

/* One \u escape with its four hex digits (or a surrogate pair of them) at c->p, just past the backslash and 'u'.
 * Returns the code point; refuses NUL and unpaired surrogates. */
static int32_t read_u_escape(JsonReader *c) {
        int hi, lo;

        if (c->end - c->p < 4 || (hi = hex4(c->p)) < 0)
                return -1;
        c->p += 4;
        if (hi == 0 || (hi >= 0xdc00 && hi <= 0xdfff))
                return -1;
        if (hi < 0xd800 || hi > 0xdbff)
                return hi;
        if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' || (lo = hex4(c->p + 2)) < 0 || lo < 0xdc00 ||
            lo > 0xdfff)
                return -1;
        c->p += 6;
        return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
}

static size_t put_utf8(char *out, int32_t cp) {
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xc0 | (cp >> 6));
                out[1] = (char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char) (0xe0 | (cp >> 12));
                out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char) (0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char) (0xf0 | (cp >> 18));
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char) (0x80 | (cp & 0x3f));
        return 4;
}

/* A string at c->p (after whitespace). decode=true rewrites it in place, unescaped and
 * NUL-terminated (never longer than its escaped form, so it fits), and sets *ret; decode=false
 * only checks it, leaving the text as it was (for values that are kept as text). */
int json_read_string(JsonReader *c, bool decode, const char **ret) {
        char *out, *start;

        json_skip_ws(c);
        if (c->p >= c->end || *c->p != '"')
                return -EBADMSG;
        start = out = ++c->p;
        for (;;) {
                if (c->p >= c->end)
                        return -EBADMSG;
                unsigned char ch = (unsigned char) *c->p;
                if (ch == '"')
                        break;
                if (ch < 0x20)
                        return -EBADMSG;
                if (ch != '\\') {
                        if (decode)
                                *out = (char) ch;
                        out++;
                        c->p++;
                        continue;
                }
                if (c->end - c->p < 2)
                        return -EBADMSG;
                char e = c->p[1], plain;
                c->p += 2;
                switch (e) {
                case '"': plain = '"'; break;
                case '\\': plain = '\\'; break;
                case '/': plain = '/'; break;
                case 'b': plain = '\b'; break;
                case 'f': plain = '\f'; break;
                case 'n': plain = '\n'; break;
                case 'r': plain = '\r'; break;
                case 't': plain = '\t'; break;
                case 'u': {
                        char tmp[4];
                        int32_t cp = read_u_escape(c);
                        if (cp < 0)
                                return -EBADMSG;
                        size_t k = put_utf8(tmp, cp);
                        if (decode)
                                memcpy(out, tmp, k);
                        out += k;
                        continue;
                }
                default:
                        return -EBADMSG;
                }
                if (decode)
                        *out = plain;
                out++;
        }
        c->p++; /* the closing quote, which the terminator may now overwrite */
        /* Text kept as it is (skipped members, the error object) must be UTF-8 as much as
         * decoded text: the error object goes on to clients and back into the journal. */
        if (!decode && !utf8_is_valid(start, (size_t) (c->p - 1 - start), NULL))
                return -EBADMSG;
        if (decode) {
                *out = '\0';
                if (!utf8_is_valid(start, (size_t) (out - start), NULL))
                        return -EBADMSG;
                *ret = start;
        }
        return 0;
}

int json_read_int(JsonReader *c, int64_t min, int64_t max, int64_t *ret) {
        bool neg = false;
        uint64_t v = 0;

        json_skip_ws(c);
        if (c->p < c->end && *c->p == '-') {
                neg = true;
                c->p++;
        }
        if (c->p >= c->end || *c->p < '0' || *c->p > '9' || (*c->p == '0' && c->end - c->p > 1 && c->p[1] >= '0' && c->p[1] <= '9'))
                return -EBADMSG;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
                unsigned d = (unsigned) (*c->p++ - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                v = v * 10 + d;
        }
        if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E'))
                return -EBADMSG;
        if (neg ? v > (uint64_t) INT64_MAX + 1 : v > (uint64_t) INT64_MAX)
                return -EBADMSG;
        int64_t x = neg ? (int64_t) (0 - v) : (int64_t) v;
        if (x < min || x > max)
                return -EBADMSG;
        *ret = x;
        return 0;
}

static int skip_number(JsonReader *c) {
        char *s = c->p;

        if (c->p < c->end && *c->p == '-')
                c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
                return -EBADMSG;
        if (*c->p == '0')
                c->p++;
        else
                while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
                        c->p++;
        if (c->p < c->end && *c->p == '.') {
                c->p++;
                if (c->p >= c->end || *c->p < '0' || *c->p > '9')
                        return -EBADMSG;
                while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
                        c->p++;
        }
        if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
                c->p++;
                if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
                        c->p++;
                if (c->p >= c->end || *c->p < '0' || *c->p > '9')
                        return -EBADMSG;
                while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
                        c->p++;
        }
        return c->p > s ? 0 : -EBADMSG;
}

int json_read_number_as_int(JsonReader *c, int *ret) {
        char buf[64], *start;
        int r;

        json_skip_ws(c);
        start = c->p;
        r = skip_number(c);
        if (r < 0)
                return r;
        size_t n = (size_t) (c->p - start);
        if (n >= sizeof buf) {
                /* Digits beyond what any double holds: only the sign and size matter. */
                *ret = *start == '-' ? INT_MIN : INT_MAX;
                return 0;
        }
        memcpy(buf, start, n);
        buf[n] = '\0';
        double d = strtod(buf, NULL);
        *ret = isnan(d) ? 0 : d <= (double) INT_MIN ? INT_MIN : d >= (double) INT_MAX ? INT_MAX : (int) d;
        return 0;
}

/* Checks and steps over any JSON value without changing it. */
int json_skip_value(JsonReader *c, unsigned depth) {
        int r;

        json_skip_ws(c);
        if (c->p >= c->end)
                return -EBADMSG;
        switch (*c->p) {
        case '"':
                return json_read_string(c, false, NULL);
        case '{':
        case '[': {
                char close = *c->p == '{' ? '}' : ']';
                bool object = close == '}';
                if (depth > c->max_depth)
                        return -EBADMSG;
                c->p++;
                if (json_take(c, close))
                        return 0;
                do {
                        if (object) {
                                if ((r = json_read_string(c, false, NULL)) < 0)
                                        return r;
                                if (!json_take(c, ':'))
                                        return -EBADMSG;
                        }
                        if ((r = json_skip_value(c, depth + 1)) < 0)
                                return r;
                } while (json_take(c, ','));
                return json_take(c, close) ? 0 : -EBADMSG;
        }
        case 't':
                return json_take_literal(c, "true", 4) ? 0 : -EBADMSG;
        case 'f':
                return json_take_literal(c, "false", 5) ? 0 : -EBADMSG;
        case 'n':
                return json_take_literal(c, "null", 4) ? 0 : -EBADMSG;
        default:
                return skip_number(c);
        }
}

bool json_take_null(JsonReader *c) {
        json_skip_ws(c);
        return json_take_literal(c, "null", 4);
}

/* A string member that may also be null (stays NULL). */
int json_read_string_member(JsonReader *c, const char **ret) {
        json_skip_ws(c);
        if (c->p < c->end && *c->p == '"')
                return json_read_string(c, true, ret);
        *ret = NULL;
        return json_skip_value(c, 1);
}

int json_read_string_or_null(JsonReader *c, const char **ret) {
        if (json_take_null(c)) {
                *ret = NULL;
                return 0;
        }
        return json_read_string(c, true, ret);
}

/* Walks an object's members, calling member() for each with the cursor at its value. */
int json_read_object(JsonReader *c, int (*member)(JsonReader *c, const char *key, void *userdata), void *userdata) {
        const char *key;
        int r;

        if (!json_take(c, '{'))
                return -EBADMSG;
        if (json_take(c, '}'))
                return 0;
        do {
                if ((r = json_read_string(c, true, &key)) < 0)
                        return r;
                if (!json_take(c, ':'))
                        return -EBADMSG;
                if ((r = member(c, key, userdata)) < 0)
                        return r;
        } while (json_take(c, ','));
        return json_take(c, '}') ? 0 : -EBADMSG;
}

