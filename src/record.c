/* SPDX-License-Identifier: MIT */
/*
 * record.c — see record.h. The reader accepts any JSON object (RFC 8259) at the top and in
 * the members it skips, so that a record from an earlier version, or one edited by hand with
 * care, still loads; what it refuses is what the journal's CRC would never let through
 * anyway, and fuzz/fuzz-record.c keeps it honest against everything else.
 */
#include <errno.h>
#include <limits.h>

#include "errors.h"
#include "json-text.h"
#include "operation.h"
#include "record.h"
#include "validate.h"

#define SKIP_DEPTH_MAX 32

/* ---- writing -------------------------------------------------------------------------- */

#define APPEND_LITERAL(b, s) json_write_literal(b, s)

int record_write(const Operation *op, bool full, Buffer *b) {
        int r = 0;

#define W(expr)                  \
        do {                     \
                r = (expr);      \
                if (r < 0)       \
                        return r; \
        } while (0)

        W(APPEND_LITERAL(b, "{\"op\":{\"id\":"));
        W(json_write_string(b, op->id));
        if (full) {
                W(APPEND_LITERAL(b, ",\"callId\":"));
                W(json_write_string(b, op->call_id));
                if (op->client_context) {
                        W(APPEND_LITERAL(b, ",\"clientContext\":"));
                        W(json_write_string(b, op->client_context));
                }
                W(APPEND_LITERAL(b, ",\"uid\":"));
                W(json_write_int(b, (int64_t) op->uid));
                if (op->all >= 0)
                        W(op->all ? APPEND_LITERAL(b, ",\"all\":true") : APPEND_LITERAL(b, ",\"all\":false"));
                W(APPEND_LITERAL(b, ",\"createdUsec\":"));
                W(json_write_int(b, (int64_t) op->created_usec));
        }
        W(APPEND_LITERAL(b, ",\"status\":"));
        W(json_write_string(b, operation_status_to_string(op->status)));
        if (op->graph_operation_id) {
                W(APPEND_LITERAL(b, ",\"graphOperationId\":"));
                W(json_write_string(b, op->graph_operation_id));
        }
        if (op->has_result_info) {
                W(APPEND_LITERAL(b, ",\"resultInfo\":{\"code\":"));
                W(json_write_int(b, op->result_code));
                W(APPEND_LITERAL(b, ",\"subcode\":"));
                W(json_write_int(b, op->result_subcode));
                if (op->result_message) {
                        W(APPEND_LITERAL(b, ",\"message\":"));
                        W(json_write_string(b, op->result_message));
                }
                W(APPEND_LITERAL(b, "}"));
        }
        if (op->completion_reason) {
                W(APPEND_LITERAL(b, ",\"completionReason\":"));
                W(json_write_string(b, op->completion_reason));
        }
        if (op->error) {
                W(APPEND_LITERAL(b, ",\"error\":"));
                W(error_write_operation_json(op->error, b));
        }
        W(APPEND_LITERAL(b, ",\"updatedUsec\":"));
        W(json_write_int(b, (int64_t) op->updated_usec));
        W(APPEND_LITERAL(b, "}}"));
#undef W
        return 0;
}

/* ---- reading -------------------------------------------------------------------------- */

typedef struct Cursor {
        char *p, *end;
} Cursor;

static void skip_ws(Cursor *c) {
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
                c->p++;
}

static bool take(Cursor *c, char ch) {
        skip_ws(c);
        if (c->p < c->end && *c->p == ch) {
                c->p++;
                return true;
        }
        return false;
}

static bool take_literal(Cursor *c, const char *lit, size_t n) {
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

/* One \uXXXX escape (or a surrogate pair of them) at c->p, just past the backslash and 'u'.
 * Returns the code point; refuses NUL and unpaired surrogates. */
static int32_t read_u_escape(Cursor *c) {
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
static int read_string(Cursor *c, bool decode, const char **ret) {
        char *out, *start;

        skip_ws(c);
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

static int read_int(Cursor *c, int64_t min, int64_t max, int64_t *ret) {
        bool neg = false;
        uint64_t v = 0;

        skip_ws(c);
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

static int skip_number(Cursor *c) {
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

/* Checks and steps over any JSON value without changing it. */
static int skip_value(Cursor *c, unsigned depth) {
        int r;

        skip_ws(c);
        if (c->p >= c->end)
                return -EBADMSG;
        switch (*c->p) {
        case '"':
                return read_string(c, false, NULL);
        case '{':
        case '[': {
                char close = *c->p == '{' ? '}' : ']';
                bool object = close == '}';
                if (depth > SKIP_DEPTH_MAX)
                        return -EBADMSG;
                c->p++;
                if (take(c, close))
                        return 0;
                do {
                        if (object) {
                                if ((r = read_string(c, false, NULL)) < 0)
                                        return r;
                                if (!take(c, ':'))
                                        return -EBADMSG;
                        }
                        if ((r = skip_value(c, depth + 1)) < 0)
                                return r;
                } while (take(c, ','));
                return take(c, close) ? 0 : -EBADMSG;
        }
        case 't':
                return take_literal(c, "true", 4) ? 0 : -EBADMSG;
        case 'f':
                return take_literal(c, "false", 5) ? 0 : -EBADMSG;
        case 'n':
                return take_literal(c, "null", 4) ? 0 : -EBADMSG;
        default:
                return skip_number(c);
        }
}

static bool take_null(Cursor *c) {
        skip_ws(c);
        return take_literal(c, "null", 4);
}

/* A string member that may also be null (stays NULL). */
static int read_string_or_null(Cursor *c, const char **ret) {
        if (take_null(c)) {
                *ret = NULL;
                return 0;
        }
        return read_string(c, true, ret);
}

/* Walks an object's members, calling member() for each with the cursor at its value. */
static int read_object(Cursor *c, int (*member)(Cursor *c, const char *key, void *userdata), void *userdata) {
        const char *key;
        int r;

        if (!take(c, '{'))
                return -EBADMSG;
        if (take(c, '}'))
                return 0;
        do {
                if ((r = read_string(c, true, &key)) < 0)
                        return r;
                if (!take(c, ':'))
                        return -EBADMSG;
                if ((r = member(c, key, userdata)) < 0)
                        return r;
        } while (take(c, ','));
        return take(c, '}') ? 0 : -EBADMSG;
}

static int result_info_member(Cursor *c, const char *key, void *userdata) {
        OperationRecord *rec = userdata;
        int64_t v;
        int r;

        if (streq(key, "code") || streq(key, "subcode")) {
                if ((r = read_int(c, INT_MIN, INT_MAX, &v)) < 0)
                        return r;
                *(streq(key, "code") ? &rec->result_code : &rec->result_subcode) = (int) v;
                return 0;
        }
        if (streq(key, "message"))
                return read_string_or_null(c, &rec->result_message);
        return skip_value(c, 1);
}

static int op_member(Cursor *c, const char *key, void *userdata) {
        OperationRecord *rec = userdata;
        int64_t v;
        int r;

        switch (key[0]) {
        case 'a':
                if (streq(key, "all")) {
                        skip_ws(c);
                        if (take_literal(c, "true", 4))
                                rec->all = 1;
                        else if (take_literal(c, "false", 5))
                                rec->all = 0;
                        else if (take_literal(c, "null", 4))
                                rec->all = -1;
                        else
                                return -EBADMSG;
                        return 0;
                }
                break;
        case 'c':
                if (streq(key, "callId"))
                        return read_string(c, true, &rec->call_id);
                if (streq(key, "clientContext"))
                        return read_string_or_null(c, &rec->client_context);
                if (streq(key, "completionReason"))
                        return read_string_or_null(c, &rec->completion_reason);
                if (streq(key, "createdUsec")) {
                        if ((r = read_int(c, 0, INT64_MAX, &rec->created_usec)) < 0)
                                return r;
                        return 0;
                }
                break;
        case 'e':
                if (streq(key, "error")) {
                        if (take_null(c)) {
                                rec->error_json = NULL;
                                return 0;
                        }
                        skip_ws(c);
                        char *start = c->p;
                        if (c->p >= c->end || *c->p != '{' || (r = skip_value(c, 1)) < 0)
                                return -EBADMSG;
                        rec->error_json = start;
                        rec->error_json_len = (size_t) (c->p - start);
                        return 0;
                }
                break;
        case 'g':
                if (streq(key, "graphOperationId"))
                        return read_string_or_null(c, &rec->graph_operation_id);
                break;
        case 'i':
                if (streq(key, "id"))
                        return read_string(c, true, &rec->id);
                break;
        case 'r':
                if (streq(key, "resultInfo")) {
                        if (take_null(c)) {
                                rec->has_result_info = false;
                                return 0;
                        }
                        rec->has_result_info = true;
                        rec->result_code = rec->result_subcode = 0;
                        rec->result_message = NULL;
                        return read_object(c, result_info_member, rec);
                }
                break;
        case 's':
                if (streq(key, "status"))
                        return read_string(c, true, &rec->status);
                break;
        case 'u':
                if (streq(key, "uid")) {
                        if ((r = read_int(c, 0, UINT32_MAX - 1, &v)) < 0)
                                return r;
                        rec->has_uid = true;
                        rec->uid = (uid_t) v;
                        return 0;
                }
                if (streq(key, "updatedUsec"))
                        return read_int(c, 0, INT64_MAX, &rec->updated_usec);
                break;
        }
        return skip_value(c, 1);
}

static int top_member(Cursor *c, const char *key, void *userdata) {
        if (streq(key, "op")) {
                skip_ws(c);
                if (c->p >= c->end || *c->p != '{')
                        return -EBADMSG;
                return read_object(c, op_member, userdata);
        }
        return skip_value(c, 1);
}

int record_parse(char *text, size_t len, OperationRecord *ret) {
        Cursor c = { .p = text, .end = text + len };
        int r;

        *ret = (OperationRecord) { .all = -1, .created_usec = -1, .updated_usec = -1 };
        skip_ws(&c);
        if (c.p >= c.end || *c.p != '{')
                return -EBADMSG;
        r = read_object(&c, top_member, ret);
        if (r < 0)
                return r;
        skip_ws(&c);
        if (c.p != c.end || !ret->id || !ret->status)
                return -EBADMSG;
        return 0;
}
