/* SPDX-License-Identifier: MIT */
/*
 * rpc-scan.c — see rpc-scan.h. A second, shallow walk over a line already known to be one
 * JSON text: it reads the members of each request object, and skips everything else while
 * noting whether a string inside holds an escape that json-c would not keep as sent. No
 * allocation; the recursion is bounded by the depth json-check.c allowed.
 */
#include <string.h>

#include "rpc-scan.h"

static int hex4(const char *p, const char *end) {
        int v = 0;

        if (end - p < 4)
                return -1;
        for (int i = 0; i < 4; i++) {
                char c = p[i];
                int d = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
                if (d < 0)
                        return -1;
                v = v * 16 + d;
        }
        return v;
}

static bool is_high(int cp) {
        return cp >= 0xd800 && cp <= 0xdbff;
}

static bool is_low(int cp) {
        return cp >= 0xdc00 && cp <= 0xdfff;
}

static const char *skip_ws(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
        return p;
}

/* At the opening quote; returns the position after the closing one. Sets *unusable (never
 * clears it) when the string holds \u0000, a low surrogate escape not preceded by a high one,
 * or a high one not followed by a low one. */
static const char *scan_string(const char *p, const char *end, bool *unusable) {
        bool want_low = false;

        p++;
        while (p < end && *p != '"') {
                if (*p != '\\') {
                        if (want_low)
                                *unusable = true;
                        want_low = false;
                        p++;
                        continue;
                }
                if (end - p < 2)
                        break;
                if (p[1] != 'u') {
                        if (want_low)
                                *unusable = true;
                        want_low = false;
                        p += 2;
                        continue;
                }
                int cp = hex4(p + 2, end);
                if (want_low) {
                        want_low = false;
                        if (is_low(cp)) {
                                p += 6;
                                continue;
                        }
                        *unusable = true;
                }
                if (cp == 0 || is_low(cp))
                        *unusable = true;
                want_low = is_high(cp);
                p += 6;
        }
        if (want_low)
                *unusable = true;
        return p < end ? p + 1 : end;
}

/* Past one value of any kind. */
static const char *skip_value(const char *p, const char *end, bool *unusable) {
        p = skip_ws(p, end);
        if (p >= end)
                return end;
        if (*p == '"')
                return scan_string(p, end, unusable);
        if (*p == '{' || *p == '[') {
                char close = *p == '{' ? '}' : ']';
                bool object = *p == '{';

                p = skip_ws(p + 1, end);
                if (p < end && *p == close)
                        return p + 1;
                while (p < end) {
                        if (object) {
                                p = scan_string(skip_ws(p, end), end, unusable);
                                p = skip_ws(p, end);
                                if (p < end && *p == ':')
                                        p++;
                        }
                        p = skip_ws(skip_value(p, end, unusable), end);
                        if (p < end && *p == close)
                                return p + 1;
                        if (p < end && *p == ',')
                                p++;
                        else
                                return end; /* not JSON: cannot happen after json-check.c */
                }
                return end;
        }
        /* A number or a literal: up to the next delimiter. */
        while (p < end && !strchr(",]} \t\r\n", *p))
                p++;
        return p;
}

static bool span_is(const TextSpan *s, const char *word) {
        size_t n = strlen(word);
        return s->n == n && memcmp(s->p, word, n) == 0;
}

/* At a member name's opening quote: reads the name (span without quotes), the ':' and the
 * whitespace before the value. */
static const char *read_name(const char *p, const char *end, TextSpan *ret_name, bool *unusable) {
        const char *start = p + 1;

        p = scan_string(p, end, unusable);
        *ret_name = (TextSpan) { start, (size_t) (p - 1 - start) };
        p = skip_ws(p, end);
        if (p < end && *p == ':')
                p++;
        return skip_ws(p, end);
}

/* At the '{' of params. */
static const char *scan_params(const char *p, const char *end, RpcRequestFacts *f) {
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}')
                return p + 1;
        while (p < end) {
                TextSpan name;
                bool bad = false;

                p = read_name(skip_ws(p, end), end, &name, &bad);
                p = skip_ws(skip_value(p, end, &bad), end);
                if (bad && !f->bad_param.p)
                        f->bad_param = name;
                if (p < end && *p == '}')
                        return p + 1;
                if (p < end && *p == ',')
                        p++;
                else
                        return end;
        }
        return end;
}

/* At the '{' of a request object. */
static const char *scan_request(const char *p, const char *end, RpcRequestFacts *f) {
        *f = (RpcRequestFacts) { .is_object = true };
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}')
                return p + 1;
        while (p < end) {
                TextSpan name;
                bool name_bad = false, value_bad = false;

                p = read_name(skip_ws(p, end), end, &name, &name_bad);
                if (span_is(&name, "id")) {
                        /* A repeated member: json-c keeps the last, and so does this. */
                        f->has_id = true;
                        f->id_number = (TextSpan) {};
                        const char *v = p;
                        p = skip_value(p, end, &value_bad);
                        if (v < end && (*v == '-' || (*v >= '0' && *v <= '9')))
                                f->id_number = (TextSpan) { v, (size_t) (p - v) };
                        f->id_unusable = v < end && *v == '"' && value_bad;
                } else if (span_is(&name, "params") && p < end && *p == '{')
                        p = scan_params(p, end, f);
                else if (span_is(&name, "params")) {
                        p = skip_value(p, end, &value_bad);
                        f->params_unusable = f->params_unusable || value_bad;
                } else {
                        p = skip_value(p, end, &value_bad);
                        if ((name_bad || value_bad) && !f->bad_member.p)
                                f->bad_member = name;
                }
                p = skip_ws(p, end);
                if (p < end && *p == '}')
                        return p + 1;
                if (p < end && *p == ',')
                        p++;
                else
                        return end;
        }
        return end;
}

void rpc_scan_requests(const char *text, size_t len, RpcRequestFacts *facts, size_t n_facts) {
        const char *p = skip_ws(text, text + len), *end = text + len;
        bool ignored = false;

        memset(facts, 0, n_facts * sizeof *facts);
        if (p >= end || n_facts == 0)
                return;
        if (*p == '{') {
                (void) scan_request(p, end, &facts[0]);
                return;
        }
        if (*p != '[')
                return;
        p = skip_ws(p + 1, end);
        for (size_t i = 0; p < end && *p != ']'; i++) {
                if (i < n_facts && *p == '{')
                        p = scan_request(p, end, &facts[i]);
                else
                        p = skip_value(p, end, &ignored);
                p = skip_ws(p, end);
                if (p < end && *p == ',')
                        p = skip_ws(p + 1, end);
                else
                        break;
        }
}

bool rpc_text_has_unusable_escape(const char *p, size_t n) {
        bool want_low = false; /* the previous escape was a high surrogate */

        /* In valid JSON a backslash occurs only in a string and always starts an escape, so the
         * line can be searched without following its strings; a high surrogate at the end of one
         * string is followed by a quote, so it is never paired with an escape in the next. */
        for (size_t i = 0; i < n; i++) {
                int cp = -1;

                if (!want_low) {
                        const char *q = memchr(p + i, '\\', n - i);
                        if (!q)
                                break;
                        i = (size_t) (q - p);
                }
                if (p[i] == '\\' && n - i >= 6 && p[i + 1] == 'u')
                        cp = hex4(p + i + 2, p + n);
                if (want_low) {
                        if (!is_low(cp))
                                return true;
                        want_low = false;
                        i += 5;
                        continue;
                }
                if (p[i] != '\\')
                        continue;
                if (cp < 0) {
                        i++; /* a one-character escape */
                        continue;
                }
                if (cp == 0 || is_low(cp))
                        return true;
                want_low = is_high(cp);
                i += 5;
        }
        return want_low;
}
