/* SPDX-License-Identifier: MIT */
/*
 * fuzz-rpc.c — libFuzzer harness for the JSON-RPC framing (src/rpc.c): one received line of
 * arbitrary bytes goes through rpc_message_parse(); every item is answered the way the server
 * answers it (an error reply for an invalid entry, a result for a valid one, nothing for a
 * notification, one array for a batch) and serialised with rpc_serialize(). The param helpers
 * run on every valid item's params.
 *
 * Invariants checked beyond "no sanitizer report":
 *   - rpc_message_parse() returns 0, -EBADMSG or -ENOMEM, and a message has at least one item;
 *   - a single request that runs holds no \u0000 and no lone surrogate escape;
 *   - every written line is one strict JSON value, valid UTF-8, with no raw '\n' before its end;
 *   - a reply echoes its request's id unchanged (equal after the round trip; a number with
 *     the digits it was sent with);
 *   - a string a param helper hands to a method is the whole JSON string (no embedded NUL that
 *     would let the C string differ from what the caller sent and validators saw).
 */
#include <errno.h>
#include <stdint.h>

#include "fuzz-util.h"
#include "log.h"
#include "rpc.h"
#include "rpc-method.h"
#include "rpc-scan.h"

static const char *const known_params[] = { "callId", "clientContext", "all", "operationId", "status", "limit", NULL };
static const RpcParamSpec known_rows[] = {
        { "callId", RPC_PARAM_STRING, false, NULL, NULL },      { "clientContext", RPC_PARAM_STRING, false, NULL, NULL },
        { "all", RPC_PARAM_BOOLEAN, false, NULL, NULL },        { "operationId", RPC_PARAM_STRING, false, NULL, NULL },
        { "status", RPC_PARAM_STRING, false, NULL, NULL },      { "limit", RPC_PARAM_INTEGER, false, NULL, NULL },
};
static const RpcMethodSpec known_method = { .name = "m", .params = known_rows, .n_params = ELEMENTSOF(known_rows) };

static void check_params(json_object *params) {
        Error *e;

        e = rpc_params_check(params, &known_method);
        if (e) {
                fuzz_assert(e->class == ERROR_INVALID_PARAMS);
                error_free(e);
                return;
        }

        for (const char *const *name = known_params; *name; name++) {
                const char *s = NULL;
                json_object *v;
                unsigned u;
                int b;

                e = rpc_param_string(params, *name, false, &s);
                if (!e && s) {
                        fuzz_assert(json_object_object_get_ex(params, *name, &v));
                        fuzz_assert(strlen(s) == (size_t) json_object_get_string_len(v));
                        (void) call_id_is_valid(s);
                        (void) client_context_check(s);
                }
                error_free(e);

                e = rpc_param_bool(params, *name, &b);
                fuzz_assert(e || b == -1 || b == 0 || b == 1);
                error_free(e);

                e = rpc_param_uint(params, *name, 1, 1000, 100, &u);
                fuzz_assert(e || (u >= 1 && u <= 1000));
                error_free(e);
        }
}

static bool is_number(json_object *o) {
        return json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_double);
}

/* A numeric id is echoed with the digits it was sent with (rpc.c), which json-c may read back
 * as another value (a clamped integer): a number must come back as a number printed as in the
 * request; anything else equal. */
static void assert_same_id(json_object *back, json_object *sent, const char *line) {
        if (is_number(sent)) {
                _cleanup_free_ char *needle = NULL;
                fuzz_assert(is_number(back));
                fuzz_assert(asprintf(&needle, "\"id\":%s", json_object_to_json_string(sent)) > 0);
                fuzz_assert(strstr(line, needle));
        } else
                fuzz_assert(json_object_equal(back, sent));
}

/* Serialises like connection_write() and checks the line a client would read. */
static void write_and_check(json_object *reply, json_object *expect_id, bool batch) {
        _cleanup_free_ char *s = NULL;
        json_object *back;
        size_t n;

        fuzz_assert(rpc_serialize(reply, &s, &n) == 0);
        fuzz_assert(n >= 2 && s[n - 1] == '\n' && s[n] == '\0');
        back = fuzz_parse_reply_line(s, n - 1);

        if (batch) {
                fuzz_assert(json_object_is_type(back, json_type_array));
                fuzz_assert(json_object_array_length(back) == json_object_array_length(reply));
                for (size_t i = 0; i < json_object_array_length(back); i++) {
                        json_object *a = json_object_array_get_idx(back, i), *b = json_object_array_get_idx(reply, i);
                        json_object *ida, *idb;
                        fuzz_check_reply_object(a);
                        fuzz_assert(json_object_object_get_ex(a, "id", &ida));
                        fuzz_assert(json_object_object_get_ex(b, "id", &idb));
                        assert_same_id(ida, idb, s);
                }
        } else {
                json_object *id;
                fuzz_check_reply_object(back);
                fuzz_assert(json_object_object_get_ex(back, "id", &id));
                assert_same_id(id, expect_id, s);
        }
        json_object_put(back);
}

/* What rpc_line_check_shape() counts, counted on the tree json-c built. */
static size_t count_values(json_object *o) {
        size_t n = 0;

        if (json_object_is_type(o, json_type_array))
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        n += 1 + count_values(json_object_array_get_idx(o, i));
        else if (json_object_is_type(o, json_type_object)) {
                json_object_object_foreach(o, _key, v) {
                        (void) _key;
                        n += 1 + count_values(v);
                }
        }
        return n;
}

/* For a line json-c accepted, the text is never too deep, its batch count is exact, and its
 * value count is at least the tree's (json-c keeps one of two members with the same name; the
 * text has both, and both cost parsing). */
/* Whether "id" appears as a member name more than once in the text (roughly: the quoted word
 * twice). A repeated id is the one member whose last copy wins (as json-c keeps it), so an
 * unusable string in an earlier copy is dropped rather than refused. */
static bool text_repeats_id(const char *text, size_t len) {
        unsigned n = 0;

        for (size_t i = 0; i + 4 <= len; i++)
                if (memcmp(text + i, "\"id\"", 4) == 0 && ++n >= 2)
                        return true;
        return false;
}

static void check_shape(const char *line, size_t len, json_object *root) {
        size_t values = count_values(root);
        size_t items = json_object_is_type(root, json_type_array) ? json_object_array_length(root) : 0;
        const char *limit = NULL;

        fuzz_assert(rpc_line_check_shape(line, len, RPC_MAX_DEPTH_DEFAULT, items, SIZE_MAX, &limit) == 0);
        if (values > 0) {
                fuzz_assert(rpc_line_check_shape(line, len, RPC_MAX_DEPTH_DEFAULT, SIZE_MAX, values - 1, &limit) == -E2BIG);
                fuzz_assert(strcmp(limit, "MaxValuesPerLine") == 0);
        }
        if (items > 0) {
                fuzz_assert(rpc_line_check_shape(line, len, RPC_MAX_DEPTH_DEFAULT, items - 1, SIZE_MAX, &limit) == -E2BIG);
                fuzz_assert(strcmp(limit, "MaxBatchItems") == 0);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;
        json_object *batch = NULL;
        int r;

        log_set_max_level(LOG_EMERG);

        /* The server never hands over the '\n' and skips empty lines. */
        if (size == 0 || memchr(data, '\n', size))
                return 0;

        r = rpc_message_parse((const char *) data, size, RPC_MAX_DEPTH_DEFAULT, &m);
        fuzz_assert(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r < 0) {
                /* What the server sends for an unparsable line. */
                Error *e = error_new(ERROR_PARSE, NULL, "The line is not valid JSON (or not valid UTF-8).");
                json_object *reply = rpc_reply_error(NULL, e);
                write_and_check(reply, NULL, false);
                json_object_put(reply);
                error_free(e);
                return 0;
        }
        fuzz_assert(m->n_items >= 1);
        fuzz_assert(!m->is_batch || json_object_is_type(m->root, json_type_array));
        check_shape((const char *) data, size, m->root);

        if (m->is_batch)
                batch = json_object_new_array();

        for (size_t i = 0; i < m->n_items; i++) {
                RpcItem *item = &m->items[i];
                json_object *reply;

                if (item->error && !item->has_id) {
                        /* Only a notification whose params hold \u0000 or a lone surrogate is
                         * refused silently; an invalid request is always answered. */
                        fuzz_assert(item->error->class == ERROR_INVALID_PARAMS);
                        continue;
                }
                if (item->error) {
                        reply = rpc_reply_error(item->id, item->error);
                } else {
                        fuzz_assert(item->method);
                        /* A request that runs holds no string json-c could not keep as sent (but for
                         * an earlier copy of a repeated id, which json-c drops). */
                        fuzz_assert(m->is_batch || !rpc_text_has_unusable_escape((const char *) data, size) ||
                                    text_repeats_id((const char *) data, size));
                        check_params(item->params);
                        if (!item->has_id)
                                continue; /* a notification: nothing goes back */

                        /* Echo what the method would see, so odd strings reach the serialiser. */
                        json_object *result = json_object_new_object();
                        json_object_object_add(result, "method", json_object_new_string(item->method));
                        json_object_object_add(result, "params", json_object_get(item->params));
                        reply = rpc_reply_result(item->id, result);
                }

                if (batch)
                        json_object_array_add(batch, reply);
                else {
                        write_and_check(reply, item->id, false);
                        json_object_put(reply);
                }
        }

        if (batch) {
                if (json_object_array_length(batch) > 0)
                        write_and_check(batch, NULL, true);
                json_object_put(batch);
        }
        return 0;
}
