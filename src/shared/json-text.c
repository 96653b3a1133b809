/* SPDX-License-Identifier: MIT */
/*
 * json-text.c — see json-text.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <json-c/printbuf.h>
#include <stdio.h>
#include <time.h>

#include "json-text.h"

/* The bytes a JSON string cannot hold as they are: controls, '"' and '\\'; and NUL, which
 * ends the C string. */
static const bool needs_escape[256] = {
        [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1,
        [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1,
        [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
        [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1,
        ['"'] = 1,  ['\\'] = 1,
};

int json_write_string(Buffer *b, const char *s) {
        static const char hex[] = "0123456789abcdef";
        const char *run;
        int r;

        if (!s)
                return json_write_literal(b, "null");
        if ((r = json_write_literal(b, "\"")) < 0)
                return r;
        for (run = s; *s; s++) {
                unsigned char c = (unsigned char) *s;
                char esc[6] = { '\\' };
                size_t n = 2;

                /* Skip what needs no escape a table lookup at a time. */
                while (!needs_escape[c]) {
                        c = (unsigned char) *++s;
                        if (!c)
                                goto done;
                }
                if ((r = buffer_append(b, run, (size_t) (s - run))) < 0)
                        return r;
                switch (c) {
                case '"': esc[1] = '"'; break;
                case '\\': esc[1] = '\\'; break;
                case '\n': esc[1] = 'n'; break;
                case '\r': esc[1] = 'r'; break;
                case '\t': esc[1] = 't'; break;
                default:
                        esc[1] = 'u';
                        esc[2] = '0';
                        esc[3] = '0';
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 0xf];
                        n = 6;
                }
                if ((r = buffer_append(b, esc, n)) < 0)
                        return r;
                run = s + 1;
        }
done:
        if ((r = buffer_append(b, run, (size_t) (s - run))) < 0)
                return r;
        return json_write_literal(b, "\"");
}

int json_write_int(Buffer *b, int64_t v) {
        char buf[24], *p = buf + sizeof buf;
        uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

        do {
                *--p = (char) ('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                *--p = '-';
        return buffer_append(b, p, (size_t) (buf + sizeof buf - p));
}

int json_write_rfc3339(Buffer *b, uint64_t realtime_usec) {
        /* Replies and events come in bursts stamped within the same second: gmtime_r() and
         * strftime() once per second, not twice per operation. Event loop thread only. */
        static time_t cached_sec = (time_t) -1;
        static char cached[24]; /* "YYYY-MM-DDTHH:MM:SS" */
        time_t sec = (time_t) (realtime_usec / 1000000);
        unsigned ms = (unsigned) ((realtime_usec / 1000) % 1000);
        char out[32];
        int r;

        if (sec != cached_sec) {
                struct tm tm;
                if (!gmtime_r(&sec, &tm) || strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
                        cached_sec = (time_t) -1;
                        return json_write_literal(b, "\"1970-01-01T00:00:00.000Z\"");
                }
                cached_sec = sec;
        }
        out[0] = '"';
        memcpy(out + 1, cached, 19);
        out[20] = '.';
        out[21] = (char) ('0' + ms / 100);
        out[22] = (char) ('0' + ms / 10 % 10);
        out[23] = (char) ('0' + ms % 10);
        out[24] = 'Z';
        out[25] = '"';
        if ((r = buffer_append(b, out, 26)) < 0)
                return r;
        return 0;
}

/* What a text value's userdata points to; the tag tells json_text_peek() that a json-c value
 * is one of ours (json-c's userdata is NULL unless someone set it, and nobody else does). */
#define TEXT_TAG UINT32_C(0x6a736f6e)
typedef struct TextValue {
        uint32_t tag;
        Buffer text;
} TextValue;

static int text_serialize(json_object *j, struct printbuf *pb, int level, int flags) {
        const TextValue *t = json_object_get_userdata(j);

        (void) level;
        (void) flags;
        return printbuf_memappend(pb, t->text.data ?: "null", t->text.data ? (int) t->text.size : 4);
}

static void text_free(json_object *j, void *userdata) {
        TextValue *t = userdata;

        (void) j;
        buffer_done(&t->text);
        free(t);
}

json_object *json_text_new(Buffer *b) {
        TextValue *t = malloc(sizeof *t);
        json_object *j;

        if (!t)
                return NULL;
        /* A boolean is json-c's cheapest value to allocate; the serialiser replaces its text. */
        j = json_object_new_boolean(0);
        if (!j) {
                free(t);
                return NULL;
        }
        *t = (TextValue) { .tag = TEXT_TAG, .text = *b };
        *b = (Buffer) {};
        json_object_set_serializer(j, text_serialize, t, text_free);
        return j;
}

const char *json_text_peek(json_object *j, size_t *ret_len) {
        const TextValue *t = j ? json_object_get_userdata(j) : NULL;

        if (!t || t->tag != TEXT_TAG || !t->text.data)
                return NULL;
        *ret_len = t->text.size;
        return t->text.data;
}
