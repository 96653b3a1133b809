/* SPDX-License-Identifier: MIT */
/*
 * ctl-output.c — everything mediacancelctl prints about a reply: the raw result with --json,
 * aligned text for people otherwise (an operation, the list table, the daemon's status, the
 * lines of watch), daemon errors on stderr, and the flush that finds write errors. Text from
 * the daemon may come from other local services or from Graph, so the human output passes it
 * through put(), which keeps control characters from reaching the terminal.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "ctl-output.h"
#include "protocol.h"

/* Writes text from the daemon, which may come from other local services or from Graph, so
 * that it cannot drive the terminal: C0/C1 controls become '?' (whitespace becomes a space,
 * which keeps every message on one line). */
static void put(FILE *f, const char *s) {
        const unsigned char *p = (const unsigned char *) strempty(s);

        for (; *p; p++) {
                if (*p == '\t' || *p == '\n' || *p == '\r')
                        fputc(' ', f);
                else if (*p < 0x20 || *p == 0x7f)
                        fputc('?', f);
                else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
                        fputc('?', f); /* U+0080..U+009F, e.g. the one-byte CSI */
                        p++;
                } else
                        fputc(*p, f);
        }
}

/* Writes JSON text and a newline, like puts(), with DEL and the C1 controls (U+0080..U+009F)
 * escaped as \u007f..\u009f: json-c escapes only C0, and --json output is read by people too,
 * on terminals that take U+009B for CSI. The text stays the same JSON value: outside strings
 * JSON text is ASCII, so these bytes can only be inside one. */
static void put_json_line(FILE *f, const char *s) {
        const unsigned char *p = (const unsigned char *) strempty(s);

        for (; *p; p++) {
                if (*p == 0x7f)
                        fputs("\\u007f", f);
                else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
                        fprintf(f, "\\u%04x", (unsigned) p[1]);
                        p++;
                } else
                        fputc(*p, f);
        }
        fputc('\n', f);
}

/* Terminal columns that put() will use, counting each UTF-8 sequence as one. */
static size_t columns(const char *s) {
        size_t n = 0;

        for (const unsigned char *p = (const unsigned char *) strempty(s); *p; p++)
                if ((*p & 0xc0) != 0x80)
                        n++;
        return n;
}

const char *member(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            json_object_is_type(v, json_type_null))
                return NULL;
        return json_object_get_string(v);
}

json_object *member_object(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_object))
                return NULL;
        return v;
}

/* "2026-11-26T21:00:00.123Z" (or with a ±hh:mm offset) → local time, e.g.
 * "2026-11-26 22:00:00.123 CET". -EINVAL if it is not RFC 3339; callers then show it as is. */
static int format_timestamp(const char *s, char *buf, size_t size) {
        struct tm tm = {};
        int year, mon, day, hour, min, sec, n = 0;
        char frac[4] = "";
        long offset = 0;
        size_t l, k;
        time_t t;
        const char *p;

        if (!s || sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n",
                         &year, &mon, &day, &hour, &min, &sec, &n) != 6 || n == 0)
                return -EINVAL;
        if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
                return -EINVAL;

        p = s + n;
        if (*p == '.') {
                size_t i = 0;

                for (p++; *p >= '0' && *p <= '9'; p++)
                        if (i < 3)
                                frac[i++] = *p;
                if (i == 0)
                        return -EINVAL;
                while (i < 3)
                        frac[i++] = '0';
        }

        if (*p == 'Z' || *p == 'z')
                p++;
        else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
                int oh, om;

                if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
                        return -EINVAL;
                offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
                p += 6;
        } else
                return -EINVAL;
        if (*p != '\0')
                return -EINVAL;

        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        t = timegm(&tm) - offset;
        if (!localtime_r(&t, &tm))
                return -EINVAL;

        l = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
        if (l == 0)
                return -EINVAL;
        if (frac[0]) {
                if (l + 4 >= size)
                        return -EINVAL;
                buf[l++] = '.';
                memcpy(buf + l, frac, 4);
                l += 3;
        }
        k = strftime(buf + l, size - l, " %Z", &tm);
        if (k == 0)
                buf[l] = '\0'; /* no zone name: the time alone is still right */
        return 0;
}

static void put_timestamp(FILE *f, const char *s) {
        char buf[128];

        put(f, format_timestamp(s, buf, sizeof(buf)) >= 0 ? buf : s);
}

static void put_key(int width, const char *key) {
        printf("%*s: ", width, key);
}

static void print_field(int width, const char *key, const char *value) {
        if (!value)
                return;
        put_key(width, key);
        put(stdout, value);
        putchar('\n');
}

static void print_time_field(int width, const char *key, const char *value) {
        if (!value)
                return;
        put_key(width, key);
        put_timestamp(stdout, value);
        putchar('\n');
}

/* "200/0 message" */
static void put_result_info(json_object *ri) {
        const char *msg = member(ri, "message");

        put(stdout, member(ri, "code") ?: "-");
        putchar('/');
        put(stdout, member(ri, "subcode") ?: "-");
        if (msg) {
                putchar(' ');
                put(stdout, msg);
        }
}

/* The members of an error's data worth showing after its message, in this order. The
 * first ERROR_DETAILS_HEAD of them also lead an operation's error line. */
#define ERROR_DETAILS_HEAD 2
static const struct {
        const char *key;
        const char *prefix;
        const char *suffix;
} error_details[] = {
        { "httpStatus", "HTTP ", "" },
        { "graphCode", "", "" },
        { "reason", "", "" },
        { "aadsts", "", "" },
        { "param", "param ", "" },
        { "tenantId", "tenant ", "" },
        { "limit", "limit ", "" },
        { "retryAfterMs", "retry after ", " ms" },
        { "requestId", "request-id ", "" },
};

/* " (HTTP 404, itemNotFound, request-id …)", or nothing when data has none of them. */
static void put_error_details(FILE *f, json_object *data, size_t first_detail) {
        bool first = true;

        for (size_t i = first_detail; i < ELEMENTSOF(error_details); i++) {
                const char *v = member(data, error_details[i].key);

                if (!v)
                        continue;
                fputs(first ? " (" : ", ", f);
                fputs(error_details[i].prefix, f);
                put(f, v);
                fputs(error_details[i].suffix, f);
                first = false;
        }
        if (!first)
                fputc(')', f);
}

/* "GraphError 404 itemNotFound: message (request-id …)"; an operation's error carries the
 * data members inline, next to class and message. */
static void put_operation_error(json_object *e) {
        const char *msg = member(e, "message"), *class = member(e, "class");
        bool any = false;

        if (class) {
                put(stdout, class);
                any = true;
        }
        for (size_t i = 0; i < ERROR_DETAILS_HEAD; i++) {
                const char *v = member(e, error_details[i].key);

                if (!v)
                        continue;
                fputs(any ? " " : "", stdout);
                put(stdout, v);
                any = true;
        }
        if (msg) {
                fputs(any ? ": " : "", stdout);
                put(stdout, msg);
                any = true;
        }
        put_error_details(stdout, e, ERROR_DETAILS_HEAD);
}

/* The operation's cancelledOperations array, or NULL. */
static json_object *cancelled_of(json_object *op) {
        json_object *v;

        if (!op || !json_object_object_get_ex(op, "cancelledOperations", &v) || !json_object_is_type(v, json_type_array))
                return NULL;
        return v;
}

/* One "Cancelled" line per prompt or recording Graph reported cancelled by this cancel:
 * "playPromptOperation 0fe0… at 2026-…". */
static void print_cancelled(int w, json_object *op) {
        json_object *list = cancelled_of(op);
        size_t n = list ? json_object_array_length(list) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(list, i);
                if (!json_object_is_type(e, json_type_object))
                        continue;
                put_key(w, "Cancelled");
                put(stdout, member(e, "type") ?: "operation");
                putchar(' ');
                put(stdout, member(e, "graphOperationId") ?: "?");
                if (member(e, "at")) {
                        fputs(" at ", stdout);
                        put_timestamp(stdout, member(e, "at"));
                }
                putchar('\n');
        }
}

static int print_operation(json_object *result) {
        const int w = (int) strlen("Graph operation");
        json_object *op = member_object(result, "operation"), *ri, *e;

        if (!op)
                return -EBADMSG;

        print_field(w, "ID", member(op, "id"));
        print_field(w, "Call", member(op, "callId"));
        print_field(w, "Tenant", member(op, "tenantId"));
        print_field(w, "Context", member(op, "clientContext"));
        print_field(w, "Status", member(op, "status"));
        print_field(w, "Graph operation", member(op, "graphOperationId"));

        ri = member_object(op, "resultInfo");
        if (ri) {
                put_key(w, "Result");
                put_result_info(ri);
                putchar('\n');
        }

        e = member_object(op, "error");
        if (e) {
                put_key(w, "Error");
                put_operation_error(e);
                putchar('\n');
        }

        print_cancelled(w, op);
        print_time_field(w, "Created", member(op, "createdAt"));
        print_time_field(w, "Updated", member(op, "updatedAt"));
        return 0;
}

enum { COLUMN_ID, COLUMN_CALL, COLUMN_STATUS, COLUMN_CREATED, _COLUMN_MAX };

/* The text of one table cell; CREATED is rendered in local time into buf. */
static const char *list_cell(json_object *op, unsigned column, char *buf, size_t size) {
        static const char *const keys[_COLUMN_MAX] = { "id", "callId", "status", "createdAt" };
        const char *v = member(op, keys[column]);

        if (!v)
                return "-";
        if (column == COLUMN_CREATED && format_timestamp(v, buf, size) >= 0)
                return buf;
        return v;
}

static int print_list(json_object *result) {
        static const char *const headers[_COLUMN_MAX] = { "ID", "CALL", "STATUS", "CREATED" };
        size_t width[_COLUMN_MAX];
        json_object *ops;
        size_t n;
        char buf[128];

        if (!json_object_is_type(result, json_type_object) || !json_object_object_get_ex(result, "operations", &ops) ||
            !json_object_is_type(ops, json_type_array))
                return -EBADMSG;

        n = json_object_array_length(ops);
        if (n == 0) {
                puts("No operations.");
                return 0;
        }

        /* Two passes, so the columns line up without keeping every cell around. */
        for (unsigned c = 0; c < _COLUMN_MAX; c++)
                width[c] = strlen(headers[c]);
        for (size_t i = 0; i < n; i++)
                for (unsigned c = 0; c < _COLUMN_MAX; c++) {
                        const char *cell = list_cell(json_object_array_get_idx(ops, i), c, buf, sizeof(buf));

                        width[c] = MAX(width[c], columns(cell));
                }

        for (unsigned c = 0; c < _COLUMN_MAX; c++)
                if (c + 1 < _COLUMN_MAX)
                        printf("%-*s  ", (int) width[c], headers[c]);
                else
                        printf("%s\n", headers[c]);

        for (size_t i = 0; i < n; i++)
                for (unsigned c = 0; c < _COLUMN_MAX; c++) {
                        const char *cell = list_cell(json_object_array_get_idx(ops, i), c, buf, sizeof(buf));

                        put(stdout, cell);
                        if (c + 1 < _COLUMN_MAX)
                                printf("%*s", (int) (width[c] - columns(cell) + 2), "");
                        else
                                putchar('\n');
                }

        return 0;
}

/* "12.5s", "3min 4s", "2d 5h 1min 0s": enough precision for a glance at the daemon. */
static void put_uptime(json_object *v) {
        double d;
        uint64_t s;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
                put(stdout, json_object_get_string(v));
                return;
        }
        d = json_object_get_double(v);
        if (!(d >= 0) || d > 1e15) {
                put(stdout, json_object_get_string(v));
                return;
        }
        if (d < 60) {
                printf("%.1fs", d);
                return;
        }

        s = (uint64_t) d;
        if (s >= 86400)
                printf("%" PRIu64 "d ", s / 86400);
        if (s >= 3600)
                printf("%" PRIu64 "h ", s / 3600 % 24);
        printf("%" PRIu64 "min %" PRIu64 "s", s / 60 % 60, s % 60);
}

static void print_status_token(int w, json_object *token) {
        const char *state = member(token, "state"), *expires = member(token, "expiresAt");
        json_object *last;

        if (state || expires) {
                put_key(w, "Token");
                put(stdout, state ?: "?");
                if (expires) {
                        fputs(", expires ", stdout);
                        put_timestamp(stdout, expires);
                }
                putchar('\n');
        }

        if (!json_object_object_get_ex(token, "lastError", &last) || json_object_is_type(last, json_type_null))
                return;

        put_key(w, "Token last error");
        if (json_object_is_type(last, json_type_object)) {
                const char *err = member(last, "error"), *aadsts = member(last, "aadsts"),
                           *msg = member(last, "message");

                put(stdout, err ?: "");
                if (aadsts) {
                        fputs(err ? " " : "", stdout);
                        put(stdout, aadsts);
                }
                if (msg) {
                        fputs(err || aadsts ? ": " : "", stdout);
                        put(stdout, msg);
                }
        } else
                put(stdout, json_object_get_string(last));
        putchar('\n');
}

/* One line per tenant whose token the daemon holds: "contoso.com: valid, expires …". */
static void print_status_tenants(int w, json_object *tenants) {
        if (!json_object_is_type(tenants, json_type_array))
                return;
        for (size_t i = 0; i < json_object_array_length(tenants); i++) {
                json_object *t = json_object_array_get_idx(tenants, i), *last;
                const char *id = member(t, "tenantId"), *state = member(t, "state"), *expires = member(t, "expiresAt");

                put_key(w, "Tenant token");
                put(stdout, id ?: "?");
                fputs(": ", stdout);
                put(stdout, state ?: "?");
                if (expires) {
                        fputs(", expires ", stdout);
                        put_timestamp(stdout, expires);
                }
                if (json_object_object_get_ex(t, "lastError", &last) && json_object_is_type(last, json_type_object) &&
                    member(last, "error")) {
                        fputs(", last error ", stdout);
                        put(stdout, member(last, "error"));
                        if (member(last, "aadsts")) {
                                putchar(' ');
                                put(stdout, member(last, "aadsts"));
                        }
                }
                putchar('\n');
        }
}

/* "3 total: 2 completed, 1 failed". Zero counts are left out; statuses this client does not
 * know yet are shown all the same. */
static void print_status_operations(int w, json_object *ops) {
        const char *total = member(ops, "total");
        bool first = true;

        if (!ops)
                return;

        put_key(w, "Operations");
        put(stdout, total ?: "?");
        fputs(" total", stdout);
        json_object_object_foreach(ops, key, v) {
                if (streq(key, "total") || json_object_is_type(v, json_type_null))
                        continue;
                if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) == 0)
                        continue;
                fputs(first ? ": " : ", ", stdout);
                put(stdout, json_object_get_string(v));
                putchar(' ');
                put(stdout, key);
                first = false;
        }
        putchar('\n');
}

/* "Notifications: jwt", "Signing keys: 2 (fetched 35s ago)", "Keys last error: …". */
static void print_status_notifications(int w, json_object *n) {
        json_object *keys = member_object(n, "keys");

        print_field(w, "Notifications", member(n, "authentication"));
        if (!keys)
                return;
        put_key(w, "Signing keys");
        put(stdout, member(keys, "count") ?: "0");
        if (member(keys, "ageSec")) {
                fputs(" (fetched ", stdout);
                put(stdout, member(keys, "ageSec"));
                fputs("s ago)", stdout);
        }
        putchar('\n');
        print_field(w, "Keys last error", member(keys, "lastError"));
}

static int print_status(json_object *result) {
        const int w = (int) strlen("Token last error");
        const char *version = member(result, "version"), *proto = member(result, "protocolVersion");
        json_object *graph = member_object(result, "graph"), *token = member_object(result, "token"), *uptime;

        if (!json_object_is_type(result, json_type_object))
                return -EBADMSG;

        if (version || proto) {
                put_key(w, "Version");
                put(stdout, version ?: "?");
                if (proto) {
                        fputs(" (protocol ", stdout);
                        put(stdout, proto);
                        putchar(')');
                }
                putchar('\n');
        }

        if (json_object_object_get_ex(result, "uptimeSec", &uptime) && !json_object_is_type(uptime, json_type_null)) {
                put_key(w, "Uptime");
                put_uptime(uptime);
                putchar('\n');
        }

        json_object *cloud = member_object(result, "cloud");
        print_field(w, "Cloud", member(cloud, "name"));
        print_field(w, "Cloud warning", member(cloud, "warning"));

        if (token)
                print_status_token(w, token);
        json_object *tenants = NULL;
        if (json_object_object_get_ex(result, "tenants", &tenants))
                print_status_tenants(w, tenants);

        print_field(w, "Graph endpoint", member(graph, "endpoint"));
        print_field(w, "Graph version", member(graph, "apiVersion"));
        print_field(w, "Calls path", member(graph, "callsPath"));
        print_field(w, "In flight", member(graph, "inFlight"));
        print_field(w, "Queued", member(graph, "queued"));

        print_status_notifications(w, member_object(result, "notifications"));
        print_status_operations(w, member_object(result, "operations"));
        print_field(w, "Connections", member(result, "connections"));
        return 0;
}

/* deliver: how many notifications the daemon applied to an operation, how many it ignored. */
static int print_deliver(json_object *result) {
        const int w = (int) strlen("Ignored");
        const char *matched = member(result, "matched"), *ignored = member(result, "ignored");

        if (!matched || !ignored)
                return -EBADMSG;
        print_field(w, "Matched", matched);
        print_field(w, "Ignored", ignored);
        return 0;
}

/* The details are whichever of the documented error.data members are present, so each class
 * shows what it carries. */
void print_daemon_error(json_object *error) {
        json_object *data = member_object(error, "data"), *code;
        const char *class = member(data, "class"), *msg = member(error, "message");
        ErrorClass known = _ERROR_CLASS_INVALID;

        fputs(PROGRAM_NAME ": ", stderr);
        if (class)
                put(stderr, class);
        else if (json_object_object_get_ex(error, "code", &code) && json_object_is_type(code, json_type_int) &&
                 (known = protocol_error_from_code(json_object_get_int64(code))) >= 0)
                fputs(protocol_errors[known].name, stderr);
        else {
                fputs("error ", stderr);
                put(stderr, member(error, "code") ?: "?");
        }
        fputs(": ", stderr);
        put(stderr, msg ?: "(no message)");
        put_error_details(stderr, data, 0);
        fputc('\n', stderr);
}

int print_result(const Arguments *a, json_object *result) {
        /* The document is for programs and people alike: JSON either way. */
        if (a->json || a->command == COMMAND_DISCOVER) {
                const char *s = json_object_to_json_string_ext(
                                result, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

                if (!s)
                        return -ENOMEM;
                put_json_line(stdout, s);
                return 0;
        }

        switch (a->command) {
        case COMMAND_CANCEL:
        case COMMAND_GET:
                return print_operation(result);
        case COMMAND_LIST:
                return print_list(result);
        case COMMAND_STATUS:
                return print_status(result);
        case COMMAND_DELIVER:
                return print_deliver(result);
        case COMMAND_WATCH:
        case COMMAND_DISCOVER:
                break; /* watch() prints its own; discover: above */
        }
        return -EINVAL;
}

/* stdio buffers our output, so errors such as a full disk only show up when flushing. */
int flush_stdout(void) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
                /* The reader went away (e.g. "| head"): nothing left to tell anyone. */
                if (errno != EPIPE)
                        fprintf(stderr, PROGRAM_NAME ": cannot write output: %s\n", strerror(errno ?: EIO));
                return -EIO;
        }
        return 0;
}

void print_watch_line(const Arguments *a, json_object *holder, json_object *op) {
        json_object *ri = member_object(op, "resultInfo"), *e = member_object(op, "error");

        if (a->json) {
                put_json_line(stdout, json_object_to_json_string_ext(holder, JSON_C_TO_STRING_PLAIN |
                                                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
                return;
        }
        put_timestamp(stdout, member(op, "updatedAt") ?: "-");
        fputs("  ", stdout);
        put(stdout, member(op, "status") ?: "?");
        if (ri) {
                fputs("  ", stdout);
                put_result_info(ri);
        }
        if (e) {
                fputs("  ", stdout);
                put_operation_error(e);
        }
        if (cancelled_of(op))
                printf("  cancelled %zu", json_object_array_length(cancelled_of(op)));
        putchar('\n');
}

void print_watch_header(const Arguments *a, const char *id, json_object *op) {
        if (a->json)
                return;
        fputs("Operation ", stdout);
        put(stdout, id);
        fputs(" (call ", stdout);
        put(stdout, member(op, "callId") ?: "?");
        if (member(op, "clientContext")) {
                fputs(", context ", stdout);
                put(stdout, member(op, "clientContext"));
        }
        fputs(")\n", stdout);
}
