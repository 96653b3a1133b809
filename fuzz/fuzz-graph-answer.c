/* SPDX-License-Identifier: MIT */
/*
 * fuzz-graph-answer.c — libFuzzer harness for what the daemon reads from Graph and from the
 * identity platform (src/graph.c) and what it does with it (src/operation.c).
 *
 * The input is one or more HTTP answers, separated by a line "%%":
 *
 *     HTTP/1.1 429 Too Many Requests      (or just "429")
 *     Retry-After: 2.128                  (headers, case-insensitive; others are ignored)
 *     request-id: 0a1b…
 *     Location: https://…/operations/17e3…
 *                                         (empty line)
 *     {"error":{…}}                       (the body, up to the separator)
 *
 * Each answer goes through graph_answer_parse() (as a cancel or operation answer),
 * token_answer_parse() (as a token endpoint answer), parse_retry_after() and, outside those,
 * graph_status_is_retryable(). Answers are then applied in turn to three operations of one
 * operation table, the way on_cancel_done() does (operation_apply_answer() or operation_fail()),
 * the table is listed and looked up by every Graph id seen and by clientContext (the three
 * operations share one, as cancels of different calls may), pruned, and emptied one operation
 * at a time with lookups in between, so duplicate or case-changed ids from Graph and shared
 * clientContexts exercise the table's indexes.
 *
 * Invariants checked beyond "no sanitizer report":
 *   - a non-2xx answer always yields a GraphError naming its HTTP status; a token answer has
 *     exactly one of access_token and error;
 *   - a numeric Retry-After is at most a day;
 *   - every operation the table lists or finds serialises to valid JSON, and a lookup by a
 *     Graph id finds an operation carrying that id.
 */
#include <errno.h>
#include <stdint.h>

#include "fuzz-util.h"
#include "graph.h"
#include "identity.h"
#include "log.h"
#include "operation.h"

#define NOW_USEC (UINT64_C(1764190800) * UINT64_C(1000000)) /* 2025-11-26T21:00:00Z */
#define N_OPS 3
#define MAX_ANSWERS 16

typedef struct Answer {
        long status;
        char *location, *request_id, *retry_after;
        const char *body;
        size_t body_len;
} Answer;

static void answer_done(Answer *a) {
        free(a->location);
        free(a->request_id);
        free(a->retry_after);
}

static bool header_is(const char *line, size_t n, const char *name, char **ret) {
        size_t k = strlen(name);

        if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
                return false;
        line += k + 1;
        n -= k + 1;
        while (n > 0 && (*line == ' ' || *line == '\t'))
                line++, n--;
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
                n--;
        free(*ret);
        *ret = fuzz_strndup((const uint8_t *) line, n);
        return true;
}

/* Splits one answer's text into status, the three headers the daemon reads, and body. */
static void answer_split(const char *p, size_t len, Answer *ret) {
        const char *end = p + len, *eol;
        Answer a = {};

        eol = memchr(p, '\n', len) ?: end;
        if (eol - p > 5 && strncmp(p, "HTTP/", 5) == 0) {
                const char *sp = memchr(p, ' ', (size_t) (eol - p));
                p = sp ? sp + 1 : eol;
        }
        while (p < eol && *p >= '0' && *p <= '9' && a.status < 100000)
                a.status = a.status * 10 + (*p++ - '0');
        p = eol < end ? eol + 1 : end;

        while (p < end) {
                eol = memchr(p, '\n', (size_t) (end - p)) ?: end;
                size_t n = (size_t) (eol - p);
                if (n > 0 && p[n - 1] == '\r')
                        n--;
                if (n == 0) {
                        p = eol < end ? eol + 1 : end;
                        break;
                }
                if (!header_is(p, n, "Location", &a.location) && !header_is(p, n, "request-id", &a.request_id))
                        (void) header_is(p, n, "Retry-After", &a.retry_after);
                p = eol < end ? eol + 1 : end;
        }
        a.body = p;
        a.body_len = (size_t) (end - p);
        *ret = a;
}

static void check_json(json_object *j) {
        size_t n;
        const char *s = json_object_to_json_string_length(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

        fuzz_assert(s);
        json_object_put(fuzz_parse_reply_line(s, n));
}

static void check_error(const Error *e, long status) {
        json_object *j, *v;
        Error *back;

        fuzz_assert(e->class == ERROR_GRAPH);
        fuzz_assert(e->message);
        fuzz_assert(e->data && json_object_object_get_ex(e->data, "httpStatus", &v));
        fuzz_assert(json_object_get_int(v) == (int) status);

        j = error_to_rpc_json(e);
        check_json(j);
        json_object_put(j);

        /* The journal stores an operation's error as JSON and reads it back. */
        j = error_to_operation_json(e);
        check_json(j);
        back = error_from_operation_json(j);
        fuzz_assert(back && back->class == e->class && strcmp(back->message, e->message) == 0);
        error_free(back);
        json_object_put(j);
}

static void check_token_answer(long status, const char *body, size_t len) {
        TokenAnswer t = {};
        int r;

        r = token_answer_parse(status, body, len, &t);
        fuzz_assert(r == 0 || r == -ENOMEM);
        if (r < 0)
                return;
        fuzz_assert(!!t.access_token != !!t.error);
        if (t.access_token) {
                fuzz_assert(status == 200 && t.access_token[0] != '\0');
                fuzz_assert(t.expires_in_usec > 0);
                (void) token_renewal_delay_usec(t.expires_in_usec, t.refresh_in_usec, UINT64_C(0x9e3779b97f4a7c15));
        }
        if (t.aadsts)
                fuzz_assert(strncmp(t.aadsts, "AADSTS", 6) == 0);
        token_answer_done(&t);
}

static void check_retry_after(const char *s) {
        uint64_t usec;
        int r;

        r = parse_retry_after(s, NOW_USEC, &usec);
        fuzz_assert(r == 0 || r == -EINVAL);
        if (r == 0)
                fuzz_assert(usec <= GRAPH_RETRY_AFTER_MAX_USEC);
}

/* Every way the daemon finds an operation again: by a Graph id (cancel answers, polling,
 * notifications), by clientContext (repeated cancels, early notifications). */
static void lookup_all(OperationTable *t, char **ids, size_t n_ids) {
        Operation *op;

        for (size_t k = 0; k < n_ids; k++) {
                op = operation_table_get_by_graph_id(t, ids[k]);
                if (op) {
                        _cleanup_free_ char *want = id_normalize(ids[k]), *have = id_normalize(op->graph_operation_id);
                        fuzz_assert(strcmp(want, have) == 0);
                }
                op = operation_table_get(t, ids[k]);
                if (op) {
                        json_object *j = operation_to_json(op);
                        check_json(j);
                        json_object_put(j);
                }
        }
        op = operation_table_find_by_context(t, "ctx");
        fuzz_assert(!op || strcmp(op->client_context, "ctx") == 0);
        for (unsigned k = 0; k < N_OPS; k++) {
                char call_id[16];
                snprintf(call_id, sizeof call_id, "call-%u", k);
                op = operation_table_find_pending(t, 0, NULL, call_id, "ctx");
                fuzz_assert(!op || strcmp(op->call_id, call_id) == 0);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(operation_table_freep) OperationTable *t = NULL;
        _cleanup_free_ char *text = NULL;
        Operation *ops[N_OPS];
        char *ids[MAX_ANSWERS] = {};
        size_t n_ids = 0;
        const char *p, *end;
        unsigned i = 0;

        log_set_max_level(LOG_EMERG);
        text = fuzz_strndup(data, size);

        fuzz_assert(operation_table_new(N_OPS, UINT64_C(1000000), &t) == 0);
        for (unsigned k = 0; k < N_OPS; k++) {
                char call_id[16];
                snprintf(call_id, sizeof call_id, "call-%u", k);
                fuzz_assert(operation_table_add(t, NULL, call_id, "ctx", k == 1 ? 1 : -1, 0, &ops[k]) == 0);
        }

        p = text;
        end = text + size;
        for (; p <= end && i < MAX_ANSWERS; i++) {
                const char *sep = memmem(p, (size_t) (end - p), "\n%%\n", 4);
                size_t len = sep ? (size_t) (sep - p) : (size_t) (end - p);
                GraphAnswer a = {};
                Answer raw;
                int r;

                answer_split(p, len, &raw);

                r = graph_answer_parse(raw.status, raw.location, raw.request_id, raw.retry_after, raw.body,
                                       raw.body_len, NOW_USEC, &a);
                fuzz_assert(r == 0 || r == -ENOMEM);
                if (r == 0) {
                        Operation *op = ops[i % N_OPS];

                        fuzz_assert(a.http_status == raw.status);
                        if (raw.status < 200 || raw.status > 299)
                                fuzz_assert(a.error);
                        if (a.error)
                                check_error(a.error, raw.status);
                        (void) graph_status_is_retryable(raw.status);

                        /* What on_cancel_done() does with the answer. */
                        if (a.error)
                                fuzz_assert(operation_fail(op, a.error) == 0);
                        else
                                fuzz_assert(operation_apply_answer(op, &a) == 0);
                        operation_changed(op);

                        if (a.operation_id && n_ids < MAX_ANSWERS)
                                ids[n_ids++] = strdup(a.operation_id);
                        graph_answer_done(&a);
                }

                check_token_answer(raw.status, raw.body, raw.body_len);
                if (raw.retry_after)
                        check_retry_after(raw.retry_after);
                answer_done(&raw);

                if (!sep)
                        break;
                p = sep + 4;
        }

        /* The body alone as a Retry-After value, for more shapes of it. */
        check_retry_after(text);

        for (size_t k = 0; k < n_ids; k++) {
                Operation *op = operation_table_get(t, ids[k]);
                if (op) {
                        _cleanup_free_ char *want = id_normalize(ids[k]), *have = NULL;
                        fuzz_assert(op->graph_operation_id || strcmp(op->id, ids[k]) == 0);
                        if (op->graph_operation_id) {
                                have = id_normalize(op->graph_operation_id);
                                fuzz_assert(strcmp(op->id, ids[k]) == 0 || strcmp(want, have) == 0);
                        }
                        json_object *j = operation_to_json(op);
                        check_json(j);
                        json_object_put(j);
                }
        }

        json_object *list = operation_table_list_json(t, NULL, NULL, -1, -1, 100);
        check_json(list);
        json_object_put(list);
        list = operation_table_counts_json(t);
        check_json(list);
        json_object_put(list);

        /* Retention drops the settled operations, then the rest go one by one the way a refused
         * cancel is dropped; the indexes must forget each of them at once. */
        operation_table_prune(t, NOW_USEC + UINT64_C(3600) * UINT64_C(1000000) * 24 * 365 * 100);
        for (;;) {
                lookup_all(t, ids, n_ids);
                Operation *op = operation_table_first(t);
                if (!op)
                        break;
                operation_table_remove(t, op);
        }
        for (size_t k = 0; k < n_ids; k++)
                free(ids[k]);
        return 0;
}
