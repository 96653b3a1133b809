/* SPDX-License-Identifier: MIT */
/*
 * check_rpc.c — unit tests for the socket protocol's pure parts: JSON-RPC 2.0 framing and
 * request validation (rpc.c), reply serialisation, the error-class table (errors.c), the
 * param helpers, and the rules for caller values that end up in Graph requests (validate.c).
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json-check.h"
#include "json-text.h"
#include "rpc.h"
#include "rpc-method.h"
#include "rpc-scan.h"
#include "validate.h"
#include "json-util.h"

/* ---- helpers ---- */

static int parse_n(const char *line, size_t len, int max_depth, RpcMessage **ret) {
        return rpc_message_parse(line, len, max_depth, ret);
}

static int parse(const char *line, RpcMessage **ret) {
        return parse_n(line, strlen(line), RPC_MAX_DEPTH_DEFAULT, ret);
}

/* A line that must be refused as a whole (ParseError); the out-param must stay untouched. */
static void assert_bad_line_n(const char *line, size_t len) {
        RpcMessage *m = NULL;
        int r = parse_n(line, len, RPC_MAX_DEPTH_DEFAULT, &m);

        ck_assert_msg(r == -EBADMSG, "line \"%.*s\": got %d", (int) len, line, r);
        ck_assert_ptr_null(m);
}

static void assert_bad_line(const char *line) {
        assert_bad_line_n(line, strlen(line));
}

/* Serialises j (consumed) and compares the whole wire line. */
static void assert_wire(json_object *j, const char *expected) {
        char *s = NULL;
        size_t n = 0;

        ck_assert_ptr_nonnull(j);
        ck_assert_int_eq(rpc_serialize(j, &s, &n), 0);
        ck_assert_str_eq(s, expected);
        ck_assert_uint_eq(n, strlen(expected));
        free(s);
        json_object_put(j);
}

/* Compact JSON of j (not consumed), for comparisons. */
static const char *plain(json_object *j) {
        return json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void assert_error(const Error *e, ErrorClass class, const char *message) {
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(e->class, class);
        ck_assert_str_eq(e->message, message);
}

/* An InvalidParams Error naming param in data.param, with the exact message. */
static void assert_param_error(Error *e, const char *param, const char *message) {
        json_object *v;

        assert_error(e, ERROR_INVALID_PARAMS, message);
        ck_assert_ptr_nonnull(e->data);
        ck_assert_int_eq(json_object_object_length(e->data), 1);
        ck_assert(json_object_object_get_ex(e->data, "param", &v));
        ck_assert_str_eq(json_object_get_string(v), param);
        error_free(e);
}

/* A single (non-batch) line whose only entry is an InvalidRequest with the given message. */
static RpcMessage *parse_invalid(const char *line, const char *message) {
        RpcMessage *m = NULL;

        ck_assert_int_eq(parse(line, &m), 0);
        ck_assert_ptr_nonnull(m);
        ck_assert(!m->is_batch);
        ck_assert_uint_eq(m->n_items, 1);
        assert_error(m->items[0].error, ERROR_INVALID_REQUEST, message);
        ck_assert_ptr_null(m->items[0].method);
        ck_assert(m->items[0].has_id); /* an invalid request is always answered */
        return m;
}

static json_object *params_of(const char *text) {
        json_object *j = json_tokener_parse(text);

        ck_assert_ptr_nonnull(j);
        return j;
}

/* ---- ids and replies ---- */

START_TEST(test_id_number) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;
        json_object *params, *v;

        ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"cancel\","
                               "\"params\":{\"callId\":\"57dab8b1-894c-409a-b240-bd8beae78896\"}}",
                               &m),
                         0);
        ck_assert(!m->is_batch);
        ck_assert_uint_eq(m->n_items, 1);
        ck_assert_ptr_null(m->items[0].error);
        ck_assert(m->items[0].has_id);
        ck_assert_ptr_nonnull(m->items[0].id);
        ck_assert(json_object_is_type(m->items[0].id, json_type_int));
        ck_assert_int_eq(json_object_get_int64(m->items[0].id), 7);
        ck_assert_str_eq(m->items[0].method, "cancel");
        params = m->items[0].params;
        ck_assert(json_object_is_type(params, json_type_object));
        ck_assert(json_object_object_get_ex(params, "callId", &v));
        ck_assert_str_eq(json_object_get_string(v), "57dab8b1-894c-409a-b240-bd8beae78896");

        json_object *result = json_object_new_object();
        json_object_object_add(result, "operation", json_object_new_string("x"));
        assert_wire(rpc_reply_result(m->items[0].id, result),
                    "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"operation\":\"x\"}}\n");
}
END_TEST

START_TEST(test_id_string) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;

        ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":\"req/1 \\\"x\\\"\",\"method\":\"status\"}", &m), 0);
        ck_assert_ptr_null(m->items[0].error);
        ck_assert(m->items[0].has_id);
        ck_assert(json_object_is_type(m->items[0].id, json_type_string));
        ck_assert_str_eq(json_object_get_string(m->items[0].id), "req/1 \"x\"");
        ck_assert_str_eq(m->items[0].method, "status");
        ck_assert_ptr_null(m->items[0].params);
        /* No result object: an empty one is sent; '/' is not escaped on the wire. */
        assert_wire(rpc_reply_result(m->items[0].id, NULL),
                    "{\"jsonrpc\":\"2.0\",\"id\":\"req/1 \\\"x\\\"\",\"result\":{}}\n");
}
END_TEST

START_TEST(test_id_numbers_verbatim) {
        static const char *const ids[] = { "0", "-3", "9007199254740993", "12345678901234567890", "1.50", "1e3" };

        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                _cleanup_(rpc_message_freep) RpcMessage *m = NULL;
                char line[128], expected[128];

                snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"m\"}", ids[i]);
                snprintf(expected, sizeof expected, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}\n", ids[i]);
                ck_assert_int_eq(parse(line, &m), 0);
                ck_assert_ptr_null(m->items[0].error);
                ck_assert(m->items[0].has_id);
                assert_wire(rpc_reply_result(m->items[0].id, NULL), expected);
        }
}
END_TEST

START_TEST(test_id_null) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;

        ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"list\",\"params\":[]}", &m), 0);
        ck_assert_ptr_null(m->items[0].error);
        ck_assert(m->items[0].has_id);
        ck_assert_ptr_null(m->items[0].id);
        ck_assert_str_eq(m->items[0].method, "list");
        ck_assert(json_object_is_type(m->items[0].params, json_type_array));
        assert_wire(rpc_reply_result(m->items[0].id, json_object_new_boolean(1)),
                    "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":true}\n");
}
END_TEST

START_TEST(test_id_bad_type) {
        static const char *const lines[] = {
                "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"m\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"m\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"m\"}",
        };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                _cleanup_(rpc_message_freep) RpcMessage *m =
                        parse_invalid(lines[i], "\"id\" must be a string, a number or null.");
                ck_assert_ptr_null(m->items[0].id);
        }
}
END_TEST

START_TEST(test_notification) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;
        json_object *v;

        ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"operation.changed\",\"params\":{\"n\":1}}", &m), 0);
        ck_assert(!m->is_batch);
        ck_assert_uint_eq(m->n_items, 1);
        ck_assert_ptr_null(m->items[0].error);
        ck_assert(!m->items[0].has_id);
        ck_assert_ptr_null(m->items[0].id);
        ck_assert_str_eq(m->items[0].method, "operation.changed");
        ck_assert(json_object_object_get_ex(m->items[0].params, "n", &v));
        ck_assert_int_eq(json_object_get_int(v), 1);
}
END_TEST

START_TEST(test_reply_error_and_notification_wire) {
        _cleanup_(error_freep) Error *e = error_new(ERROR_PARSE, NULL, "bad line");
        _cleanup_(error_freep) Error *p = error_invalid_param("callId", "Bad \"callId\".");
        json_object *id = json_object_new_string("a");
        json_object *params = json_object_new_object();

        assert_wire(rpc_reply_error(NULL, e),
                    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"bad line\","
                    "\"data\":{\"class\":\"ParseError\"}}}\n");
        assert_wire(rpc_reply_error(id, p),
                    "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":-32602,\"message\":\"Bad \\\"callId\\\".\","
                    "\"data\":{\"class\":\"InvalidParams\",\"param\":\"callId\"}}}\n");
        /* The reply took its own reference: id is still ours. */
        ck_assert_str_eq(json_object_get_string(id), "a");
        json_object_put(id);

        json_object_object_add(params, "operation", json_object_new_object());
        assert_wire(rpc_notification("operation.changed", params),
                    "{\"jsonrpc\":\"2.0\",\"method\":\"operation.changed\",\"params\":{\"operation\":{}}}\n");
        assert_wire(rpc_notification("ping", NULL), "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"params\":{}}\n");
}
END_TEST

/* ---- a reply written as text ---- */

static json_object *text_result(const char *text) {
        Buffer b = {};
        ck_assert_int_ge(buffer_append(&b, text, strlen(text)), 0);
        json_object *j = json_text_new(&b);
        ck_assert_ptr_nonnull(j);
        return j;
}

/* The text path writes exactly what the json-c path would, for every id it takes, and leaves
 * the others (and results that are trees) to it. */
START_TEST(test_write_result_text) {
        static const char *const ids[] = { "7", "-3", "\"tok-1\"", "\"a\\\"b\\u00e9\"", "9223372036854775806" };
        json_object *result = text_result("{\"operation\":{\"id\":\"x\"}}");

        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                json_object *id = json_tokener_parse(ids[i]);
                Buffer b = {};
                char *wire = NULL;
                size_t n;

                ck_assert_int_eq(rpc_write_result_text(&b, id, result), 0);
                json_object *tree = rpc_reply_result(id, json_tokener_parse("{\"operation\":{\"id\":\"x\"}}"));
                ck_assert_int_eq(rpc_serialize(tree, &wire, &n), 0);
                ck_assert_uint_eq(b.size, n);
                ck_assert(memcmp(b.data, wire, n) == 0);
                free(wire);
                json_object_put(tree);
                buffer_done(&b);
                json_object_put(id);
        }

        static const char *const refused[] = { "null", "1.5", "9223372036854775807", "-9223372036854775808", "18446744073709551615" };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                json_object *id = json_tokener_parse(refused[i]);
                Buffer b = {};
                ck_assert_int_eq(rpc_write_result_text(&b, id, result), -EOPNOTSUPP);
                ck_assert_uint_eq(b.size, 0);
                json_object_put(id);
        }
        json_object *tree_result = json_object_new_object();
        json_object *id = json_object_new_int(1);
        Buffer b = {};
        ck_assert_int_eq(rpc_write_result_text(&b, id, tree_result), -EOPNOTSUPP);
        json_object_put(id);
        json_object_put(tree_result);
        json_object_put(result);
}
END_TEST

/* ---- the shape of a line, before it is parsed ---- */

/* 0, or the name of the limit the line is over. */
static const char *shape(const char *line, size_t max_batch, size_t max_values) {
        const char *limit = "untouched";
        int r = rpc_line_check_shape(line, strlen(line), RPC_MAX_DEPTH_DEFAULT, max_batch, max_values, &limit);

        if (r == 0) {
                ck_assert_str_eq(limit, "untouched"); /* written only when over a limit */
                return NULL;
        }
        ck_assert_int_eq(r, -E2BIG);
        return limit;
}

START_TEST(test_shape_batch_items) {
        /* Exactly at the limit passes; one more entry does not. Entries of any type count,
         * objects and arrays as one each whatever they hold. */
        ck_assert_ptr_null(shape("[1,2,3]", 3, 100));
        ck_assert_str_eq(shape("[1,2,3,4]", 3, 100), "MaxBatchItems");
        ck_assert_ptr_null(shape(" [ {\"a\":[1,2,3,4,5]} , [1,2,3,4] , \"x\" ] ", 3, 100));
        ck_assert_str_eq(shape("[{},[],{},[]]", 3, 100), "MaxBatchItems");
        ck_assert_str_eq(shape("[[1],[2],[3],[4]]", 3, 100), "MaxBatchItems");
        /* Commas and brackets inside strings are text, escaped quotes included. */
        ck_assert_ptr_null(shape("[\"a,b,c,d\",\"[\\\",\\\"]\"]", 2, 100));
        ck_assert_ptr_null(shape("[\"\\\\\",1]", 2, 100));
        ck_assert_str_eq(shape("[\"\\\\\",1,2]", 2, 100), "MaxBatchItems");
        /* Only a top-level array is a batch: an object's members, or an array deeper down,
         * count as values only. */
        ck_assert_ptr_null(shape("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", 1, 100));
        ck_assert_ptr_null(shape("{\"params\":[1,2,3,4,5]}", 1, 100));
        ck_assert_ptr_null(shape("[]", 1, 100));
        ck_assert_ptr_null(shape("[ ]", 0, 100));
        ck_assert_str_eq(shape("[1]", 0, 100), "MaxBatchItems");
}
END_TEST

START_TEST(test_shape_values) {
        /* Array elements and object members at every depth, the root not counted. */
        ck_assert_ptr_null(shape("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}", 10, 3));
        ck_assert_str_eq(shape("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\",\"params\":{}}", 10, 3),
                         "MaxValuesPerLine");
        ck_assert_ptr_null(shape("{\"a\":[1,[2,3],{\"b\":4}]}", 10, 7));
        ck_assert_str_eq(shape("{\"a\":[1,[2,3],{\"b\":4,\"c\":5}]}", 10, 7), "MaxValuesPerLine");
        ck_assert_ptr_null(shape("[[],{},[[]]]", 10, 4));
        ck_assert_str_eq(shape("[[],{},[[[]]]]", 10, 4), "MaxValuesPerLine");
        /* A string's content is one value however it looks. */
        ck_assert_ptr_null(shape("{\"a\":\"{[1,2,3],{\\\"x\\\":1}}\"}", 10, 1));
        /* A scalar: nothing to count. */
        ck_assert_ptr_null(shape("42", 0, 0));
        ck_assert_ptr_null(shape(" \"text\" ", 0, 0));
}
END_TEST

/* Nesting beyond the parser's depth is refused as the parser would (a ParseError), before
 * any entry over a limit is counted, so a depth bomb never looks like a big batch. */
START_TEST(test_shape_depth) {
        const char *limit = "untouched";
        char deep[64];

        /* n levels: n '[' then n ']'. */
        for (size_t n = 1; n <= 9; n++) {
                memset(deep, '[', n);
                memset(deep + n, ']', n);
                ck_assert_int_eq(rpc_line_check_shape(deep, 2 * n, 8, 1000, 1000, &limit), n <= 8 ? 0 : -EBADMSG);
        }
        /* Too deep wins over a limit, even when the line is not JSON at all further on. */
        memset(deep, '[', sizeof deep);
        ck_assert_int_eq(rpc_line_check_shape(deep, sizeof deep, 8, 1, 1, &limit), -EBADMSG);
        ck_assert_str_eq(limit, "untouched");
        /* Brackets inside strings do not nest. */
        const char *quoted = "[\"[[[[[[[[[[[[\"]";
        ck_assert_int_eq(rpc_line_check_shape(quoted, strlen(quoted), 2, 1000, 1000, &limit), 0);
}
END_TEST

/* The line of the security review: a 1 MB batch of 520,000 numbers is refused at its 65th
 * entry, in one pass over the text. */
START_TEST(test_shape_huge_batch) {
        size_t n = 520000;
        char *line = malloc(2 * n + 2);
        ck_assert_ptr_nonnull(line);
        line[0] = '[';
        for (size_t i = 0; i < n; i++) {
                line[1 + 2 * i] = '1';
                line[2 + 2 * i] = ',';
        }
        line[2 * n] = ']';
        line[2 * n + 1] = '\0';
        ck_assert_str_eq(shape(line, 64, 65536), "MaxBatchItems");
        ck_assert_str_eq(shape(line, 1000000, 65536), "MaxValuesPerLine");
        ck_assert_ptr_null(shape(line, 1000000, 1000000));
        free(line);
}
END_TEST

/* ---- RFC 8259, exactly ---- */

static bool valid(const char *text) {
        return json_text_is_valid(text, strlen(text), 32);
}

START_TEST(test_rfc8259_numbers) {
        /* What json-c takes even in strict mode, and RFC 8259 does not. */
        static const char *const bad[] = {
                "[-01]", "[-2.]", "[2.e3]", "[2.e-3]", "[2.e+3]", "[0.e1]", "[-.123]", "[1.]", "[-012]",
                "[01]", "[.5]", "[+1]", "[1e]", "[1e+]", "[1E-]", "[--1]", "[-]", "[0x10]", "[1.5.2]",
                "[NaN]", "[Infinity]", "[-Infinity]", "[1 2]", "[0e]",
        };
        static const char *const good[] = {
                "[0]", "[-0]", "[1]", "[-1]", "[10]", "[1.5]", "[-0.5]", "[1e5]", "[1E5]", "[1e+5]", "[1e-5]",
                "[0.5e-3]", "[-1.25E+10]", "[12345678901234567890123]", "0", "-0.0e0",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!valid(bad[i]), "%s was taken", bad[i]);
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(valid(good[i]), "%s was refused", good[i]);
}
END_TEST

START_TEST(test_rfc8259_strings) {
        static const char *const bad[] = {
                "{'a':0}", "['a']", "[\"\t\"]", "[\"a\nb\"]", "[\"\x01\"]", "[\"\x1f\"]", "[\"\\x\"]",
                "[\"\\u12\"]", "[\"\\u12g4\"]", "[\"\\U0041\"]", "[\"\\'\"]", "[\"abc]", "[\"\\\"]", "\"",
        };
        static const char *const good[] = {
                "[\"\"]", "[\"a b\"]", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[\"\\u00e9\\uD83D\\uDE00\"]",
                "[\"\x7f\"]", "[\"\xc3\xa9\"]", "\"top\"",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!valid(bad[i]), "%s was taken", bad[i]);
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(valid(good[i]), "%s was refused", good[i]);
}
END_TEST

START_TEST(test_rfc8259_structure) {
        static const char *const bad[] = {
                "", " ", "[", "]", "[1,]", "[,1]", "[1,,2]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}",
                "{1:2}", "{\"a\" 1}", "[1]]", "[1] [2]", "{\"a\":1}}", "tru", "nulll", "True", "[null x]",
                "[1]\x0b", "\xa0[1]", "[1;2]", "//x\n[1]", "[1]/*c*/",
        };
        static const char *const good[] = {
                "[]", "{}", " [ ] ", "\t{ }\r\n", "[[],{}]", "{\"a\":[1,{\"b\":null}],\"c\":true,\"d\":false}",
                "{\"\":0}", "{\"a\":1,\"a\":2}", "null", "true", "false", " 7 ",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!valid(bad[i]), "\"%s\" was taken", bad[i]);
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(valid(good[i]), "\"%s\" was refused", good[i]);
        /* Depth: exactly the limit passes, one more does not. */
        ck_assert(json_text_is_valid("[[[]]]", 6, 3));
        ck_assert(!json_text_is_valid("[[[[]]]]", 8, 3));
        ck_assert(!json_text_is_valid("{\"a\":{\"b\":{\"c\":{}}}}", 21, 3));
}
END_TEST

/* The parser refuses what the check refuses: every line json-c would have taken is a
 * ParseError now, and the message shape is unchanged for valid lines. */
START_TEST(test_rfc8259_parse) {
        static const char *const bad[] = {
                "[-01]", "[1.]", "{'a':0}", "[\"\t\"]", "{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":\"status\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":1.,\"method\":\"status\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_bad_line(bad[i]);
        RpcMessage *m = NULL;
        ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":-0.5e1,\"method\":\"status\"}", &m), 0);
        ck_assert_ptr_null(m->items[0].error);
        rpc_message_free(m);
}
END_TEST

/* ---- batches ---- */

START_TEST(test_batch_mixed) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;

        ck_assert_int_eq(parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"},"
                               "{\"jsonrpc\":\"1.0\",\"id\":\"two\",\"method\":\"b\"},"
                               "{\"jsonrpc\":\"2.0\",\"method\":\"c\"},"
                               "5,"
                               "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":7},"
                               "{\"jsonrpc\":\"2.0\",\"id\":\"six\",\"method\":\"f\",\"params\":\"x\"}]",
                               &m),
                         0);
        ck_assert(m->is_batch);
        ck_assert_uint_eq(m->n_items, 6);

        /* 0: valid request */
        ck_assert_ptr_null(m->items[0].error);
        ck_assert(m->items[0].has_id);
        ck_assert_int_eq(json_object_get_int(m->items[0].id), 1);
        ck_assert_str_eq(m->items[0].method, "a");

        /* 1: wrong version, answered with its own id */
        assert_error(m->items[1].error, ERROR_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\".");
        ck_assert(m->items[1].has_id);
        ck_assert_str_eq(json_object_get_string(m->items[1].id), "two");
        assert_wire(rpc_reply_error(m->items[1].id, m->items[1].error),
                    "{\"jsonrpc\":\"2.0\",\"id\":\"two\",\"error\":{\"code\":-32600,"
                    "\"message\":\"\\\"jsonrpc\\\" must be \\\"2.0\\\".\",\"data\":{\"class\":\"InvalidRequest\"}}}\n");

        /* 2: a valid notification inside the batch */
        ck_assert_ptr_null(m->items[2].error);
        ck_assert(!m->items[2].has_id);
        ck_assert_str_eq(m->items[2].method, "c");

        /* 3: not an object: answered with a null id */
        assert_error(m->items[3].error, ERROR_INVALID_REQUEST, "A request must be a JSON object.");
        ck_assert(m->items[3].has_id);
        ck_assert_ptr_null(m->items[3].id);
        ck_assert_ptr_null(m->items[3].method);

        /* 4: method not a string */
        assert_error(m->items[4].error, ERROR_INVALID_REQUEST, "\"method\" must be a string.");
        ck_assert(m->items[4].has_id);
        ck_assert_int_eq(json_object_get_int(m->items[4].id), 3);
        ck_assert_ptr_null(m->items[4].method);

        /* 5: params a string */
        assert_error(m->items[5].error, ERROR_INVALID_REQUEST, "\"params\" must be an object or an array.");
        ck_assert(m->items[5].has_id);
        ck_assert_str_eq(json_object_get_string(m->items[5].id), "six");
        ck_assert_ptr_null(m->items[5].method);
}
END_TEST

START_TEST(test_batch_empty) {
        static const char *const lines[] = { "[]", "[ ]", " [] \r" };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                _cleanup_(rpc_message_freep) RpcMessage *m = NULL;

                ck_assert_int_eq(parse(lines[i], &m), 0);
                ck_assert(!m->is_batch); /* answered with one error object, not an array */
                ck_assert_uint_eq(m->n_items, 1);
                assert_error(m->items[0].error, ERROR_INVALID_REQUEST, "An empty batch is not a request.");
                ck_assert(m->items[0].has_id);
                ck_assert_ptr_null(m->items[0].id);
                ck_assert_ptr_null(m->items[0].method);
        }
}
END_TEST

START_TEST(test_batch_of_scalars) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;

        ck_assert_int_eq(parse("[1,\"x\",null]", &m), 0);
        ck_assert(m->is_batch);
        ck_assert_uint_eq(m->n_items, 3);
        for (size_t i = 0; i < 3; i++) {
                assert_error(m->items[i].error, ERROR_INVALID_REQUEST, "A request must be a JSON object.");
                ck_assert(m->items[i].has_id);
                ck_assert_ptr_null(m->items[i].id);
        }
}
END_TEST

/* ---- lines refused as a whole ---- */

START_TEST(test_invalid_json) {
        assert_bad_line("");
        assert_bad_line("   ");
        assert_bad_line("{");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"");
        assert_bad_line("{\"jsonrpc\":\"2.0\",}");
        assert_bad_line("[1,]");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"unterminated}");
        assert_bad_line("{\"a\":'b'}");
        assert_bad_line("nul");
        assert_bad_line("tru");
        /* json-c takes these even in strict mode; they are not JSON, and a NaN id would be
         * echoed as a reply no client can parse. */
        assert_bad_line("NaN");
        assert_bad_line("-Infinity");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":NaN,\"method\":\"a\"}");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"params\":{\"x\":[Infinity]}}");
        assert_bad_line("-");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":\"a\"}");
}
END_TEST

START_TEST(test_invalid_utf8) {
        /* Invalid bytes, a truncated sequence, an overlong '/', a surrogate, beyond U+10FFFF. */
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\x80\"}");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\xe2\x82\"}");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc0\xaf\"}");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xe0\x80\xaf\"}");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xed\xa0\x80\"}");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xf4\x90\x80\x80\"}");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\",\"method\":\"a\"}");

        /* Valid multi-byte text still parses. */
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;
        ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\xa9\xf0\x9f\x98\x80\",\"method\":\"a\"}", &m), 0);
        ck_assert_ptr_null(m->items[0].error);
        ck_assert_str_eq(json_object_get_string(m->items[0].id), "\xc3\xa9\xf0\x9f\x98\x80");
}
END_TEST

START_TEST(test_nul_byte) {
        static const char inside[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\0b\"}";
        static const char between[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}\0";
        static const char first[] = "\0{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}";

        assert_bad_line_n(inside, sizeof inside - 1);
        assert_bad_line_n(between, sizeof between - 1);
        assert_bad_line_n(first, sizeof first - 1);
}
END_TEST

START_TEST(test_trailing_garbage) {
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}x");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"} {}");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}]");
        assert_bad_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"} \r x");
        assert_bad_line("5 6");
        assert_bad_line("5x");
        assert_bad_line("[] []");
}
END_TEST

START_TEST(test_trailing_whitespace) {
        static const char *const lines[] = {
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}   ",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}\r",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"} \t \r",
                "  {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}",
        };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                _cleanup_(rpc_message_freep) RpcMessage *m = NULL;

                ck_assert_int_eq(parse(lines[i], &m), 0);
                ck_assert_uint_eq(m->n_items, 1);
                ck_assert_ptr_null(m->items[0].error);
                ck_assert_str_eq(m->items[0].method, "a");
                ck_assert_int_eq(json_object_get_int(m->items[0].id), 1);
        }
}
END_TEST

START_TEST(test_bare_values) {
        /* Valid JSON that is not a request: InvalidRequest with a null id, not ParseError. */
        static const char *const lines[] = { "5", "5 ", "5\r", "-12", "1.5e3", "\"str\"", "true", "null", "null \r" };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                _cleanup_(rpc_message_freep) RpcMessage *m = parse_invalid(lines[i], "A request must be a JSON object.");
                ck_assert_ptr_null(m->items[0].id);
        }
}
END_TEST

static char *nested_arrays(int depth) {
        char *s = malloc(2 * (size_t) depth + 1);

        ck_assert_ptr_nonnull(s);
        memset(s, '[', (size_t) depth);
        memset(s + depth, ']', (size_t) depth);
        s[2 * depth] = '\0';
        return s;
}

START_TEST(test_depth) {
        _cleanup_free_ char *at = nested_arrays(32), *over = nested_arrays(33), *far = nested_arrays(40),
                            *small = nested_arrays(4), *five = nested_arrays(5);
        RpcMessage *m = NULL;

        /* Exactly at the limit: parses; the outer array is a batch of one non-object entry. */
        ck_assert_int_eq(parse_n(at, strlen(at), 32, &m), 0);
        ck_assert(m->is_batch);
        ck_assert_uint_eq(m->n_items, 1);
        assert_error(m->items[0].error, ERROR_INVALID_REQUEST, "A request must be a JSON object.");
        m = rpc_message_free(m);

        assert_bad_line_n(over, strlen(over));
        assert_bad_line_n(far, strlen(far));
        /* max_depth <= 0 means the default. */
        ck_assert_int_eq(parse_n(far, strlen(far), 0, &m), -EBADMSG);
        ck_assert_ptr_null(m);
        ck_assert_int_eq(parse_n(at, strlen(at), 0, &m), 0);
        m = rpc_message_free(m);

        /* A smaller configured limit applies. */
        ck_assert_int_eq(parse_n(small, strlen(small), 4, &m), 0);
        m = rpc_message_free(m);
        ck_assert_int_eq(parse_n(five, strlen(five), 4, &m), -EBADMSG);
        ck_assert_ptr_null(m);
}
END_TEST

/* ---- request validation ---- */

START_TEST(test_jsonrpc_version) {
        _cleanup_(rpc_message_freep) RpcMessage *a =
                parse_invalid("{\"jsonrpc\":\"1.0\",\"id\":9,\"method\":\"m\"}", "\"jsonrpc\" must be \"2.0\".");
        _cleanup_(rpc_message_freep) RpcMessage *b =
                parse_invalid("{\"jsonrpc\":2.0,\"id\":\"b\",\"method\":\"m\"}", "\"jsonrpc\" must be \"2.0\".");
        _cleanup_(rpc_message_freep) RpcMessage *c =
                parse_invalid("{\"id\":\"c\",\"method\":\"m\"}", "\"jsonrpc\" must be \"2.0\".");
        _cleanup_(rpc_message_freep) RpcMessage *d =
                parse_invalid("{\"jsonrpc\":\"2.0 \",\"method\":\"m\"}", "\"jsonrpc\" must be \"2.0\".");

        ck_assert_int_eq(json_object_get_int(a->items[0].id), 9);
        ck_assert_str_eq(json_object_get_string(b->items[0].id), "b");
        ck_assert_str_eq(json_object_get_string(c->items[0].id), "c");
        ck_assert_ptr_null(d->items[0].id); /* no id given: answered with null */
}
END_TEST

START_TEST(test_method_not_string) {
        static const char *const lines[] = {
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":null}",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":[\"a\"]}",
                "{\"jsonrpc\":\"2.0\",\"id\":1}",
        };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                _cleanup_(rpc_message_freep) RpcMessage *m = parse_invalid(lines[i], "\"method\" must be a string.");
                ck_assert_int_eq(json_object_get_int(m->items[0].id), 1);
        }
}
END_TEST

START_TEST(test_params_type) {
        static const char *const bad[] = {
                "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"m\",\"params\":\"callId\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"m\",\"params\":3}",
                "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"m\",\"params\":false}",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(rpc_message_freep) RpcMessage *m =
                        parse_invalid(bad[i], "\"params\" must be an object or an array.");
                ck_assert_int_eq(json_object_get_int(m->items[0].id), 2);
        }

        _cleanup_(rpc_message_freep) RpcMessage *ok = NULL;
        ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"m\",\"params\":[1,2]}", &ok), 0);
        ck_assert_ptr_null(ok->items[0].error);
        ck_assert_str_eq(plain(ok->items[0].params), "[1,2]");
}
END_TEST

START_TEST(test_unknown_member) {
        _cleanup_(rpc_message_freep) RpcMessage *m = parse_invalid(
                "{\"jsonrpc\":\"2.0\",\"id\":\"u\",\"method\":\"m\",\"params\":{},\"extra\":1}",
                "Unknown member \"extra\" in request.");
        _cleanup_(rpc_message_freep) RpcMessage *n =
                parse_invalid("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"Params\":{}}", "Unknown member \"Params\" in request.");

        ck_assert_str_eq(json_object_get_string(m->items[0].id), "u");
        ck_assert_ptr_null(n->items[0].id);
}
END_TEST

/* ---- the error table ---- */

START_TEST(test_error_table) {
        static const struct {
                ErrorClass class;
                int code;
                const char *name;
        } table[] = {
                { ERROR_PARSE, -32700, "ParseError" },
                { ERROR_INVALID_REQUEST, -32600, "InvalidRequest" },
                { ERROR_METHOD_NOT_FOUND, -32601, "MethodNotFound" },
                { ERROR_INVALID_PARAMS, -32602, "InvalidParams" },
                { ERROR_INTERNAL, -32603, "InternalError" },
                { ERROR_PERMISSION_DENIED, -32001, "PermissionDenied" },
                { ERROR_TOKEN_UNAVAILABLE, -32002, "TokenUnavailable" },
                { ERROR_THROTTLED, -32003, "Throttled" },
                { ERROR_GRAPH, -32004, "GraphError" },
                { ERROR_OPERATION_NOT_FOUND, -32005, "OperationNotFound" },
                { ERROR_LIMIT_EXCEEDED, -32006, "LimitExceeded" },
                { ERROR_TIMEOUT, -32007, "Timeout" },
                { ERROR_GRAPH_UNREACHABLE, -32008, "GraphUnreachable" },
                { ERROR_TENANT_NOT_ALLOWED, -32009, "TenantNotAllowed" },
                { ERROR_NOTIFICATION_REFUSED, -32010, "NotificationRefused" },
        };

        ck_assert_uint_eq(ELEMENTSOF(table), _ERROR_CLASS_MAX);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(error_freep) Error *e = error_new(table[i].class, NULL, "message %zu", i);
                char expected[160];
                json_object *j;

                ck_assert_int_eq(error_class_code(table[i].class), table[i].code);
                ck_assert_str_eq(error_class_name(table[i].class), table[i].name);
                ck_assert_int_eq(error_class_from_name(table[i].name), table[i].class);

                j = error_to_rpc_json(e);
                snprintf(expected, sizeof expected,
                         "{\"code\":%d,\"message\":\"message %zu\",\"data\":{\"class\":\"%s\"}}", table[i].code, i,
                         table[i].name);
                ck_assert_str_eq(plain(j), expected);
                json_object_put(j);
        }

        /* Out-of-range classes map to InternalError; unknown names are refused. */
        ck_assert_int_eq(error_class_code(_ERROR_CLASS_MAX), -32603);
        ck_assert_str_eq(error_class_name(_ERROR_CLASS_MAX), "InternalError");
        ck_assert_int_eq(error_class_code(_ERROR_CLASS_INVALID), -32603);
        ck_assert_int_eq(error_class_from_name("parseerror"), _ERROR_CLASS_INVALID);
        ck_assert_int_eq(error_class_from_name(NULL), _ERROR_CLASS_INVALID);
}
END_TEST

START_TEST(test_error_data_members) {
        json_object *data = json_object_new_object(), *j;

        json_object_object_add(data, "httpStatus", json_object_new_int(404));
        json_object_object_add(data, "graphCode", json_object_new_string("itemNotFound"));
        json_object_object_add(data, "requestId", NULL);
        _cleanup_(error_freep) Error *e = error_new(ERROR_GRAPH, data, "Graph answered %d", 404);
        _cleanup_(error_freep) Error *l = error_limit("MaxQueued", "Queue full.");

        j = error_to_rpc_json(e);
        ck_assert_str_eq(plain(j), "{\"code\":-32004,\"message\":\"Graph answered 404\",\"data\":{\"class\":\"GraphError\","
                                   "\"httpStatus\":404,\"graphCode\":\"itemNotFound\",\"requestId\":null}}");
        json_object_put(j);

        j = error_to_rpc_json(l);
        ck_assert_str_eq(plain(j),
                         "{\"code\":-32006,\"message\":\"Queue full.\",\"data\":{\"class\":\"LimitExceeded\",\"limit\":\"MaxQueued\"}}");
        json_object_put(j);
}
END_TEST

/* ---- param helpers ---- */

static const RpcParamSpec test_params[] = {
        { "callId", RPC_PARAM_STRING, true, NULL, NULL },
        { "clientContext", RPC_PARAM_STRING, false, NULL, NULL },
        { "all", RPC_PARAM_BOOLEAN, false, NULL, NULL },
        { "limit", RPC_PARAM_INTEGER, false, NULL, NULL },
        { "value", RPC_PARAM_ARRAY, false, NULL, NULL },
        { "extra", RPC_PARAM_OBJECT, false, NULL, NULL },
};
static const RpcMethodSpec test_method = { .name = "m", .params = test_params, .n_params = ELEMENTSOF(test_params) };
static const RpcMethodSpec no_params_method = { .name = "n" };

static Error *check_params_text(const RpcMethodSpec *m, const char *text) {
        _cleanup_json_ json_object *p = text ? params_of(text) : NULL;
        return rpc_params_check(p, m);
}

START_TEST(test_params_check) {
        ck_assert_ptr_null(check_params_text(&test_method, "{\"callId\":\"a\",\"all\":true}"));
        ck_assert_ptr_null(check_params_text(&test_method, "{\"callId\":\"a\",\"all\":null,\"limit\":5,\"value\":[],\"extra\":{}}"));
        ck_assert_ptr_null(check_params_text(&no_params_method, NULL));
        ck_assert_ptr_null(check_params_text(&no_params_method, "{}"));
        /* Unknown names first (the first one named), then the rows in their order. */
        assert_param_error(check_params_text(&test_method, "{\"callId\":\"a\",\"callid\":\"b\"}"), "callid",
                           "Unknown parameter \"callid\".");
        assert_param_error(check_params_text(&test_method, "{\"all\":1,\"zz\":1}"), "zz", "Unknown parameter \"zz\".");
        assert_param_error(check_params_text(&no_params_method, "{\"x\":1}"), "x", "Unknown parameter \"x\".");
        assert_param_error(check_params_text(&test_method, "[\"a\"]"), "params",
                           "Parameters must be given by name (an object).");
        assert_param_error(check_params_text(&no_params_method, "[]"), "params",
                           "Parameters must be given by name (an object).");
        assert_param_error(check_params_text(&test_method, NULL), "callId", "Missing parameter \"callId\".");
        assert_param_error(check_params_text(&test_method, "{\"callId\":null}"), "callId", "Missing parameter \"callId\".");
        assert_param_error(check_params_text(&test_method, "{\"all\":\"yes\"}"), "callId", "Missing parameter \"callId\".");
        assert_param_error(check_params_text(&test_method, "{\"callId\":5}"), "callId", "Parameter \"callId\" must be a string.");
        assert_param_error(check_params_text(&test_method, "{\"callId\":\"a\",\"all\":\"yes\"}"), "all",
                           "Parameter \"all\" must be a boolean.");
        assert_param_error(check_params_text(&test_method, "{\"callId\":\"a\",\"limit\":1.0}"), "limit",
                           "Parameter \"limit\" must be an integer.");
        assert_param_error(check_params_text(&test_method, "{\"callId\":\"a\",\"value\":{}}"), "value",
                           "Parameter \"value\" must be an array.");
        assert_param_error(check_params_text(&test_method, "{\"callId\":\"a\",\"extra\":[]}"), "extra",
                           "Parameter \"extra\" must be an object.");
        ck_assert_ptr_eq(rpc_method_param(&test_method, "limit"), &test_params[3]);
        ck_assert_ptr_null(rpc_method_param(&test_method, "Limit"));
        ck_assert_str_eq(rpc_param_type_name(RPC_PARAM_INTEGER), "integer");
        ck_assert_ptr_null(rpc_param_type_name(_RPC_PARAM_TYPE_MAX));
}
END_TEST

START_TEST(test_param_string) {
        _cleanup_json_ json_object *p = params_of("{\"callId\":\"abc\",\"n\":5,\"z\":null,\"e\":\"\"}");
        const char *s = "unset";

        ck_assert_ptr_null(rpc_param_string(p, "callId", true, &s));
        ck_assert_str_eq(s, "abc");
        ck_assert_ptr_null(rpc_param_string(p, "e", true, &s));
        ck_assert_str_eq(s, "");

        s = "unset";
        ck_assert_ptr_null(rpc_param_string(p, "missing", false, &s));
        ck_assert_ptr_null(s);
        s = "unset";
        ck_assert_ptr_null(rpc_param_string(NULL, "callId", false, &s));
        ck_assert_ptr_null(s);

        assert_param_error(rpc_param_string(p, "missing", true, &s), "missing", "Missing parameter \"missing\".");
        assert_param_error(rpc_param_string(NULL, "callId", true, &s), "callId", "Missing parameter \"callId\".");
        /* null counts as absent */
        assert_param_error(rpc_param_string(p, "z", true, &s), "z", "Missing parameter \"z\".");
        s = "unset";
        assert_param_error(rpc_param_string(p, "n", false, &s), "n", "Parameter \"n\" must be a string.");
        ck_assert_str_eq(s, "unset"); /* not written on error */
}
END_TEST

START_TEST(test_param_bool) {
        _cleanup_json_ json_object *p = params_of("{\"t\":true,\"f\":false,\"s\":\"true\",\"i\":1,\"z\":null}");
        int v = 42;

        ck_assert_ptr_null(rpc_param_bool(p, "t", &v));
        ck_assert_int_eq(v, 1);
        ck_assert_ptr_null(rpc_param_bool(p, "f", &v));
        ck_assert_int_eq(v, 0);
        ck_assert_ptr_null(rpc_param_bool(p, "absent", &v));
        ck_assert_int_eq(v, -1);
        v = 42;
        ck_assert_ptr_null(rpc_param_bool(p, "z", &v));
        ck_assert_int_eq(v, -1);
        v = 42;
        ck_assert_ptr_null(rpc_param_bool(NULL, "t", &v));
        ck_assert_int_eq(v, -1);

        v = 42;
        assert_param_error(rpc_param_bool(p, "s", &v), "s", "Parameter \"s\" must be a boolean.");
        assert_param_error(rpc_param_bool(p, "i", &v), "i", "Parameter \"i\" must be a boolean.");
        ck_assert_int_eq(v, 42);
}
END_TEST

START_TEST(test_param_uint) {
        _cleanup_json_ json_object *p = params_of("{\"min\":1,\"max\":100,\"below\":0,\"above\":101,\"neg\":-1,"
                                                  "\"frac\":1.5,\"str\":\"5\",\"huge\":18446744073709551615,"
                                                  "\"u32\":4294967295,\"u32p\":4294967296,\"z\":null}");
        unsigned v = 7;

        ck_assert_ptr_null(rpc_param_uint(p, "absent", 1, 100, 10, &v));
        ck_assert_uint_eq(v, 10);
        ck_assert_ptr_null(rpc_param_uint(p, "z", 1, 100, 11, &v));
        ck_assert_uint_eq(v, 11);
        ck_assert_ptr_null(rpc_param_uint(NULL, "min", 1, 100, 12, &v));
        ck_assert_uint_eq(v, 12);
        ck_assert_ptr_null(rpc_param_uint(p, "min", 1, 100, 10, &v));
        ck_assert_uint_eq(v, 1);
        ck_assert_ptr_null(rpc_param_uint(p, "max", 1, 100, 10, &v));
        ck_assert_uint_eq(v, 100);
        ck_assert_ptr_null(rpc_param_uint(p, "u32", 0, UINT_MAX, 0, &v));
        ck_assert_uint_eq(v, UINT_MAX);

        v = 7;
        assert_param_error(rpc_param_uint(p, "below", 1, 100, 10, &v), "below", "Parameter \"below\" must be between 1 and 100.");
        assert_param_error(rpc_param_uint(p, "above", 1, 100, 10, &v), "above", "Parameter \"above\" must be between 1 and 100.");
        assert_param_error(rpc_param_uint(p, "neg", 0, 100, 10, &v), "neg", "Parameter \"neg\" must be between 0 and 100.");
        assert_param_error(rpc_param_uint(p, "huge", 0, UINT_MAX, 0, &v), "huge",
                           "Parameter \"huge\" must be between 0 and 4294967295.");
        assert_param_error(rpc_param_uint(p, "u32p", 0, UINT_MAX, 0, &v), "u32p",
                           "Parameter \"u32p\" must be between 0 and 4294967295.");
        assert_param_error(rpc_param_uint(p, "frac", 1, 100, 10, &v), "frac", "Parameter \"frac\" must be an integer.");
        assert_param_error(rpc_param_uint(p, "str", 1, 100, 10, &v), "str", "Parameter \"str\" must be an integer.");
        ck_assert_uint_eq(v, 7); /* not written on error */
}
END_TEST

/* ---- validate.c ---- */

static char *repeat(const char *unit, size_t times) {
        size_t n = strlen(unit);
        char *s = malloc(n * times + 1);

        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < times; i++)
                memcpy(s + i * n, unit, n);
        s[n * times] = '\0';
        return s;
}

START_TEST(test_guid) {
        ck_assert(guid_is_valid("57dab8b1-894c-409a-b240-bd8beae78896"));
        ck_assert(guid_is_valid("57DAB8B1-894C-409A-B240-BD8BEAE78896"));
        ck_assert(!guid_is_valid(NULL));
        ck_assert(!guid_is_valid(""));
        ck_assert(!guid_is_valid("57dab8b1-894c-409a-b240-bd8beae7889"));   /* 35 */
        ck_assert(!guid_is_valid("57dab8b1-894c-409a-b240-bd8beae788960")); /* 37 */
        ck_assert(!guid_is_valid("57dab8b1x894c-409a-b240-bd8beae78896"));  /* no dash */
        ck_assert(!guid_is_valid("57dab8b1-894c-409a-b240-bd8beae7889g"));  /* not hex */
        ck_assert(!guid_is_valid("57dab8b1894c-409a-b240-bd8beae78896-"));  /* dash moved */
        ck_assert(!guid_is_valid("contoso.onmicrosoft.com"));
}
END_TEST

START_TEST(test_call_id) {
        _cleanup_free_ char *max = repeat("a", CALL_ID_MAX), *over = repeat("a", CALL_ID_MAX + 1),
                            *mixed = repeat("Z9-", 42);
        static const char *const bad[] = { "", "../x", "%2e", "a/b", "?", "#", "a b", "\xc3\xa9", "a.b", "a_b",
                                           "a\tb", "a\nb", "abc\xc3\xa9", "a+b", "a:b", "a\\b", "~" };

        ck_assert_uint_eq(CALL_ID_MAX, 128);
        ck_assert(call_id_is_valid("57dab8b1-894c-409a-b240-bd8beae78896"));
        ck_assert(call_id_is_valid("x"));
        ck_assert(call_id_is_valid("-"));
        ck_assert(call_id_is_valid("ABCxyz019"));
        ck_assert_uint_eq(strlen(max), 128);
        ck_assert(call_id_is_valid(max));
        ck_assert(call_id_is_valid(mixed + 2)); /* 124 characters */
        ck_assert_uint_eq(strlen(over), 129);
        ck_assert(!call_id_is_valid(over));
        ck_assert(!call_id_is_valid(NULL));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!call_id_is_valid(bad[i]), "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_client_context_length) {
        _cleanup_free_ char *a256 = repeat("a", 256), *a257 = repeat("a", 257), *e256 = repeat("\xc3\xa9", 256),
                            *e257 = repeat("\xc3\xa9", 257), *emoji256 = repeat("\xf0\x9f\x98\x80", 256),
                            *emoji257 = repeat("\xf0\x9f\x98\x80", 257);
        size_t chars = 0;

        ck_assert_uint_eq(CLIENT_CONTEXT_MAX, 256);
        ck_assert_int_eq(client_context_check("ivr-42"), 0);
        ck_assert_int_eq(client_context_check("x"), 0);
        ck_assert_int_eq(client_context_check("a b/c?d#e\"f"), 0);
        ck_assert_int_eq(client_context_check("\xc2\xa0"), 0); /* U+00A0 is not a control */
        ck_assert_int_eq(client_context_check(a256), 0);
        ck_assert_int_eq(client_context_check(a257), -E2BIG);
        ck_assert_uint_eq(strlen(e256), 512);
        ck_assert_int_eq(client_context_check(e256), 0);
        ck_assert_int_eq(client_context_check(e257), -E2BIG);
        ck_assert_int_eq(client_context_check(emoji256), 0);
        ck_assert_int_eq(client_context_check(emoji257), -E2BIG);
        ck_assert_int_eq(client_context_check(""), -EINVAL);

        ck_assert(utf8_is_valid(e256, strlen(e256), &chars));
        ck_assert_uint_eq(chars, 256);
        ck_assert(utf8_is_valid("a\xe2\x82\xac\xf0\x9f\x98\x80", 8, &chars));
        ck_assert_uint_eq(chars, 3);
        ck_assert(utf8_is_valid("", 0, &chars));
        ck_assert_uint_eq(chars, 0);
}
END_TEST

START_TEST(test_client_context_utf8) {
        static const char *const bad[] = {
                "\xc0\xaf",         /* overlong '/' */
                "\xc1\xbf",         /* overlong */
                "\xe0\x80\xaf",     /* overlong, 3 bytes */
                "\xf0\x80\x80\xaf", /* overlong, 4 bytes */
                "\xed\xa0\x80",     /* high surrogate */
                "\xed\xbf\xbf",     /* low surrogate */
                "ab\xe2\x82",       /* truncated */
                "\xc3",             /* truncated at the end */
                "\x80",             /* lone continuation byte */
                "a\xc3(",           /* bad continuation */
                "\xf4\x90\x80\x80", /* beyond U+10FFFF */
                "\xf8\x88\x80\x80\x80",
                "\xff",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(client_context_check(bad[i]) == -EILSEQ, "case %zu", i);
        /* The edges just inside the rules are fine. */
        ck_assert_int_eq(client_context_check("\xed\x9f\xbf"), 0);     /* U+D7FF */
        ck_assert_int_eq(client_context_check("\xee\x80\x80"), 0);     /* U+E000 */
        ck_assert_int_eq(client_context_check("\xf4\x8f\xbf\xbf"), 0); /* U+10FFFF */
        ck_assert_int_eq(client_context_check("\xdf\xbf"), 0);         /* U+07FF */
}
END_TEST

START_TEST(test_client_context_controls) {
        static const char *const bad[] = {
                "a\tb", "\n", "a\rb", "\x01", "\x1f", "a\x7f", "\xc2\x85", "x\xc2\x80", "\xc2\x9f",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(client_context_check(bad[i]) == -EINVAL, "case %zu", i);
        ck_assert_int_eq(client_context_check(" "), 0);
        ck_assert_int_eq(client_context_check("~"), 0);
}
END_TEST

/* ---- strings json-c cannot keep as sent: \u0000 and lone surrogates ---- */

#define REQ(id, rest) "{\"jsonrpc\":\"2.0\",\"id\":" id "," rest "}"

/* The single entry of a line that parses; its error must be of class with data.param param
 * (NULL: no data), and its id must print as id_text (NULL: the null id). */
static void assert_entry_error(const char *line, ErrorClass class, const char *param, const char *id_text) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;
        json_object *v;

        ck_assert_msg(parse(line, &m) == 0, "%s", line);
        ck_assert_uint_eq(m->n_items, 1);
        ck_assert_msg(m->items[0].error, "%s: no error", line);
        ck_assert_msg(m->items[0].error->class == class, "%s: class %d", line, m->items[0].error->class);
        ck_assert_ptr_null(m->items[0].method);
        ck_assert(m->items[0].has_id);
        if (param) {
                ck_assert(json_object_object_get_ex(m->items[0].error->data, "param", &v));
                ck_assert_str_eq(json_object_get_string(v), param);
        }
        if (id_text)
                ck_assert_str_eq(plain(m->items[0].id), id_text);
        else
                ck_assert_ptr_null(m->items[0].id);
}

START_TEST(test_unusable_in_params) {
        /* A value, a member name, deep inside a value, a lone high, a lone low, a high followed
         * by something else than a low: InvalidParams naming the member, the id kept. */
        assert_entry_error(REQ("1", "\"method\":\"cancel\",\"params\":{\"callId\":\"a\\u0000b\"}"), ERROR_INVALID_PARAMS,
                           "callId", "1");
        assert_entry_error(REQ("\"r2\"", "\"method\":\"cancel\",\"params\":{\"callId\":\"ok\",\"clientContext\":\"x\\ud800\"}"),
                           ERROR_INVALID_PARAMS, "clientContext", "\"r2\"");
        assert_entry_error(REQ("3", "\"method\":\"cancel\",\"params\":{\"callId\":\"x\\udc00\"}"), ERROR_INVALID_PARAMS,
                           "callId", "3");
        assert_entry_error(REQ("4", "\"method\":\"cancel\",\"params\":{\"callId\":\"\\ud800\\u0041\"}"), ERROR_INVALID_PARAMS,
                           "callId", "4");
        assert_entry_error(REQ("5", "\"method\":\"cancel\",\"params\":{\"callId\":\"\\uDBFF\\n\"}"), ERROR_INVALID_PARAMS,
                           "callId", "5");
        /* json-c would have cut this name to "callId": the name is given as written. */
        assert_entry_error(REQ("6", "\"method\":\"cancel\",\"params\":{\"callId\\u0000x\":\"a\"}"), ERROR_INVALID_PARAMS,
                           "callId\\u0000x", "6");
        assert_entry_error(REQ("7", "\"method\":\"notifications.deliver\",\"params\":{\"value\":[{\"a\":{\"\\udfff\":1}}]}"),
                           ERROR_INVALID_PARAMS, "value", "7");
        /* The first such member is named. */
        assert_entry_error(REQ("8", "\"method\":\"x\",\"params\":{\"ok\":1,\"b\":\"\\u0000\",\"c\":\"\\u0000\"}"),
                           ERROR_INVALID_PARAMS, "b", "8");
        /* params given as an array. */
        assert_entry_error(REQ("9", "\"method\":\"x\",\"params\":[\"\\u0000\"]"), ERROR_INVALID_PARAMS, "params", "9");
        /* The id comes first in the text or last: the same. */
        assert_entry_error("{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"callId\":\"\\u0000\"},\"id\":10}",
                           ERROR_INVALID_PARAMS, "callId", "10");
}
END_TEST

START_TEST(test_unusable_in_request) {
        /* In "method" or "jsonrpc", or in a member name of the request: InvalidRequest, the
         * id kept. "cancel\u0000x" must never dispatch as cancel. */
        assert_entry_error(REQ("1", "\"method\":\"cancel\\u0000x\",\"params\":{\"callId\":\"a\"}"), ERROR_INVALID_REQUEST,
                           NULL, "1");
        assert_entry_error(REQ("2", "\"method\":\"status\\ud800\""), ERROR_INVALID_REQUEST, NULL, "2");
        assert_entry_error("{\"jsonrpc\":\"2.0\\u0000\",\"id\":3,\"method\":\"status\"}", ERROR_INVALID_REQUEST, NULL, "3");
        assert_entry_error(REQ("4", "\"method\\u0000\":\"x\",\"method\":\"status\""), ERROR_INVALID_REQUEST, NULL, "4");
        assert_entry_error(REQ("5", "\"method\":\"status\",\"params\\u0000\":{}"), ERROR_INVALID_REQUEST, NULL, "5");
        /* A notification that is not a valid request is answered too (id null). */
        assert_entry_error("{\"jsonrpc\":\"2.0\",\"method\":\"cancel\\u0000\"}", ERROR_INVALID_REQUEST, NULL, NULL);
        /* An id that holds one cannot be echoed as sent: InvalidRequest with the null id. */
        assert_entry_error(REQ("\"a\\u0000b\"", "\"method\":\"status\""), ERROR_INVALID_REQUEST, NULL, NULL);
        assert_entry_error(REQ("\"\\udc00\"", "\"method\":\"status\""), ERROR_INVALID_REQUEST, NULL, NULL);
        /* Not a request object at all: the usual answer. */
        assert_entry_error("\"\\u0000\"", ERROR_INVALID_REQUEST, NULL, NULL);
}
END_TEST

START_TEST(test_unusable_notification) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;

        /* A notification whose params hold one is not run, and not answered. */
        ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"callId\":\"\\u0000\"}}", &m), 0);
        ck_assert_ptr_nonnull(m->items[0].error);
        ck_assert_int_eq(m->items[0].error->class, ERROR_INVALID_PARAMS);
        ck_assert_ptr_null(m->items[0].method);
        ck_assert(!m->items[0].has_id);
}
END_TEST

START_TEST(test_unusable_in_batch) {
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;

        /* Each entry for itself: the valid ones run, the others get their own error and id. */
        ck_assert_int_eq(parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"},"
                               "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"cancel\",\"params\":{\"callId\":\"\\u0000\"}},"
                               "7,"
                               "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"st\\ud83d\\ude00\"},"
                               "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"s\\udbff\"}]",
                               &m),
                         0);
        ck_assert(m->is_batch);
        ck_assert_uint_eq(m->n_items, 5);
        ck_assert_ptr_null(m->items[0].error);
        ck_assert_str_eq(m->items[0].method, "status");
        ck_assert_int_eq(m->items[1].error->class, ERROR_INVALID_PARAMS);
        ck_assert_str_eq(plain(m->items[1].id), "2");
        ck_assert_int_eq(m->items[2].error->class, ERROR_INVALID_REQUEST);
        /* A surrogate pair is one character: a valid (unknown) method. */
        ck_assert_ptr_null(m->items[3].error);
        ck_assert_str_eq(m->items[3].method, "st\xf0\x9f\x98\x80");
        ck_assert_int_eq(m->items[4].error->class, ERROR_INVALID_REQUEST);
        ck_assert_str_eq(plain(m->items[4].id), "4");
}
END_TEST

START_TEST(test_usable_escapes) {
        static const char *const fine[] = {
                /* An escaped backslash, then the text u0000; other escapes; a pair; \u0000 as text
                 * of another escape. */
                REQ("1", "\"method\":\"x\",\"params\":{\"a\\\\u0000\":\"\\\\u0000\"}"),
                REQ("1", "\"method\":\"x\",\"params\":{\"a\\u0001\":\"\\u1000\\u0100\\\\\\\"\"}"),
                REQ("1", "\"method\":\"x\",\"params\":{\"a\":\"\\ud83d\\ude00\\uD83D\\uDE00\"}"),
                REQ("1", "\"method\":\"x\",\"params\":{\"a\":\"\\\\ud800\"}"),
        };

        for (size_t i = 0; i < ELEMENTSOF(fine); i++) {
                _cleanup_(rpc_message_freep) RpcMessage *m = NULL;
                ck_assert_int_eq(parse(fine[i], &m), 0);
                ck_assert_msg(!m->items[0].error, "%s: %s", fine[i], m->items[0].error->message);
                ck_assert_str_eq(m->items[0].method, "x");
        }
        /* A high surrogate at the end of one string does not pair with a low one in the next. */
        assert_entry_error(REQ("1", "\"method\":\"x\",\"params\":{\"a\":\"\\ud800\",\"b\":\"\\udc00\"}"), ERROR_INVALID_PARAMS,
                           "a", "1");
        ck_assert(!rpc_text_has_unusable_escape("\"\\\\u0000\"", 10));
        ck_assert(rpc_text_has_unusable_escape("[\"\\ud800\",\"\\udc00\"]", 20));
}
END_TEST

START_TEST(test_id_integers_exact) {
        /* Integer ids come back with the digits as sent, also where json-c's int64/uint64
         * would change them: "-0", beyond 2^64, below -2^63. */
        static const char *const ids[] = {
                "-0", "9007199254740993", "9223372036854775807", "9223372036854775808", "18446744073709551615",
                "18446744073709551616", "123456789012345678901234567890", "-9223372036854775808",
                "-9223372036854775809", "-123456789012345678901234567890", "0", "1e400", "-0.0",
        };

        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                _cleanup_(rpc_message_freep) RpcMessage *m = NULL;
                char line[160], expected[160];

                snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"m\"}", ids[i]);
                snprintf(expected, sizeof expected, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}\n", ids[i]);
                ck_assert_int_eq(parse(line, &m), 0);
                ck_assert_ptr_null(m->items[0].error);
                assert_wire(rpc_reply_result(m->items[0].id, NULL), expected);
        }

        /* In a batch, in an error reply, with the id after the other members, repeated (the
         * last wins, as everywhere). */
        _cleanup_(rpc_message_freep) RpcMessage *m = NULL;
        ck_assert_int_eq(parse("[{\"jsonrpc\":\"2.0\",\"id\":-0,\"method\":\"m\"},"
                               "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"callId\":\"\\u0000\"},"
                               "\"id\":99999999999999999999999}, {\"id\":1,\"id\":-0}]",
                               &m),
                         0);
        ck_assert_str_eq(plain(m->items[0].id), "-0");
        ck_assert_str_eq(plain(m->items[1].id), "99999999999999999999999");
        ck_assert_int_eq(m->items[1].error->class, ERROR_INVALID_PARAMS);
        assert_wire(rpc_reply_error(m->items[1].id, m->items[1].error),
                    "{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999999,\"error\":{\"code\":-32602,\"message\":"
                    "\"Parameter \\\"callId\\\" holds \\\\u0000 or a UTF-16 surrogate escape without its partner.\","
                    "\"data\":{\"class\":\"InvalidParams\",\"param\":\"callId\"}}}\n");
        ck_assert_str_eq(plain(m->items[2].id), "-0");
}
END_TEST


static Suite *rpc_suite(void) {
        Suite *s = suite_create("rpc");
        TCase *tc;

        tc = tcase_create("ids");
        tcase_add_test(tc, test_id_number);
        tcase_add_test(tc, test_id_string);
        tcase_add_test(tc, test_id_numbers_verbatim);
        tcase_add_test(tc, test_id_null);
        tcase_add_test(tc, test_id_bad_type);
        tcase_add_test(tc, test_notification);
        tcase_add_test(tc, test_reply_error_and_notification_wire);
        suite_add_tcase(s, tc);

        tc = tcase_create("text");
        tcase_add_test(tc, test_write_result_text);
        suite_add_tcase(s, tc);

        tc = tcase_create("shape");
        tcase_add_test(tc, test_shape_batch_items);
        tcase_add_test(tc, test_shape_values);
        tcase_add_test(tc, test_shape_depth);
        tcase_add_test(tc, test_shape_huge_batch);
        suite_add_tcase(s, tc);

        tc = tcase_create("rfc8259");
        tcase_add_test(tc, test_rfc8259_numbers);
        tcase_add_test(tc, test_rfc8259_strings);
        tcase_add_test(tc, test_rfc8259_structure);
        tcase_add_test(tc, test_rfc8259_parse);
        suite_add_tcase(s, tc);

        tc = tcase_create("batch");
        tcase_add_test(tc, test_batch_mixed);
        tcase_add_test(tc, test_batch_empty);
        tcase_add_test(tc, test_batch_of_scalars);
        suite_add_tcase(s, tc);

        tc = tcase_create("framing");
        tcase_add_test(tc, test_invalid_json);
        tcase_add_test(tc, test_invalid_utf8);
        tcase_add_test(tc, test_nul_byte);
        tcase_add_test(tc, test_trailing_garbage);
        tcase_add_test(tc, test_trailing_whitespace);
        tcase_add_test(tc, test_bare_values);
        tcase_add_test(tc, test_depth);
        suite_add_tcase(s, tc);

        tc = tcase_create("unusable-escapes");
        tcase_add_test(tc, test_unusable_in_params);
        tcase_add_test(tc, test_unusable_in_request);
        tcase_add_test(tc, test_unusable_notification);
        tcase_add_test(tc, test_unusable_in_batch);
        tcase_add_test(tc, test_usable_escapes);
        tcase_add_test(tc, test_id_integers_exact);
        suite_add_tcase(s, tc);

        tc = tcase_create("validation");
        tcase_add_test(tc, test_jsonrpc_version);
        tcase_add_test(tc, test_method_not_string);
        tcase_add_test(tc, test_params_type);
        tcase_add_test(tc, test_unknown_member);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_test(tc, test_error_table);
        tcase_add_test(tc, test_error_data_members);
        suite_add_tcase(s, tc);

        tc = tcase_create("params");
        tcase_add_test(tc, test_params_check);
        tcase_add_test(tc, test_param_string);
        tcase_add_test(tc, test_param_bool);
        tcase_add_test(tc, test_param_uint);
        suite_add_tcase(s, tc);

        tc = tcase_create("validate");
        tcase_add_test(tc, test_guid);
        tcase_add_test(tc, test_call_id);
        tcase_add_test(tc, test_client_context_length);
        tcase_add_test(tc, test_client_context_utf8);
        tcase_add_test(tc, test_client_context_controls);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(rpc_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
