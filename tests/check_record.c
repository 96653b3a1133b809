/* SPDX-License-Identifier: MIT */
/*
 * check_record.c — unit tests for the journal's record format and the JSON text helpers under
 * it: json-text.c (strings with their escapes, integers, RFC 3339 stamps and its cache, json-c
 * values that serialise as pre-written text), record.c (full and change records written from an
 * Operation and read back, records of earlier versions, everything the reader refuses),
 * operation_table_restore() applying records, and the journal's line framing and CRC-32
 * (store_frame(), store_crc32()).
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json-text.h"
#include "operation.h"
#include "record.h"
#include "store.h"
#include "json-util.h"

#define OP_ID "0fe0623f-d0ee-4a1a-9b8f-9d9b1b9c1e2a"
#define OP_ID2 "7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define CALL_ID "57dab8b1-894c-409a-b240-bd8beae78896"
#define GRAPH_ID "25f7e3a1-1b2c-4d5e-8f90-a1b2c3d4e5f6"
/* Every kind of character a string member can hold: quotes, backslash, the escaped controls,
 * other controls, DEL, two-, three- and four-byte UTF-8. */
#define NASTY "q\"uote\\back/slash\n\r\t\x01\x1f\x7f é € 😀 end"

/* ---- helpers ---- */

static char *xstrdup(const char *s) {
        char *c = s ? strdup(s) : NULL;

        if (s)
                ck_assert_ptr_nonnull(c);
        return c;
}

/* What json_write_string() makes of s, as a new string. */
static char *write_string(const char *s) {
        Buffer b = {};

        ck_assert_int_eq(json_write_string(&b, s), 0);
        ck_assert_ptr_nonnull(b.data);
        ck_assert_uint_eq(strlen(b.data), b.size);
        return b.data;
}

static void assert_string_written(const char *s, const char *expected) {
        _cleanup_free_ char *out = write_string(s);

        ck_assert_str_eq(out, expected);
}

/* json-c reads the text back to the very string. */
static void assert_string_round_trip(const char *s) {
        _cleanup_free_ char *out = write_string(s);
        _cleanup_json_ json_object *j = json_tokener_parse(out);

        ck_assert_msg(j != NULL, "json-c does not parse %s", out);
        ck_assert(json_object_is_type(j, json_type_string));
        ck_assert_str_eq(json_object_get_string(j), s);
        ck_assert_int_eq(json_object_get_string_len(j), (int) strlen(s));
}

static void assert_int_written(int64_t v, const char *expected) {
        Buffer b = {};

        ck_assert_int_eq(json_write_int(&b, v), 0);
        ck_assert_str_eq(b.data, expected);
        buffer_done(&b);
}

static void assert_rfc3339(uint64_t usec, const char *expected) {
        Buffer b = {};

        ck_assert_int_eq(json_write_rfc3339(&b, usec), 0);
        ck_assert_str_eq(b.data, expected);
        buffer_done(&b);
}

/* An operation built by hand, outside any table. */
static void op_init(Operation *op, const char *id) {
        *op = (Operation) {};
        memcpy(op->id, id, 37);
        op->call_id = xstrdup(CALL_ID);
        op->client_context = xstrdup("ctx-1");
        op->status = OPERATION_RUNNING;
        op->all = -1;
        op->uid = 1000;
        op->created_usec = UINT64_C(1795744424281835);
        op->updated_usec = UINT64_C(1795744424282438);
}

static void op_done(Operation *op) {
        free(op->call_id);
        free(op->client_context);
        free(op->graph_operation_id);
        free(op->result_message);
        free(op->completion_reason);
        error_free(op->error);
        *op = (Operation) {};
}

static void op_set(char **field, const char *value) {
        free(*field);
        *field = xstrdup(value);
}

/* operation_write_record() into b (emptied first). */
static void write_record(const Operation *op, bool full, Buffer *b) {
        buffer_done(b);
        ck_assert_int_eq(operation_write_record(op, full, b), 0);
        ck_assert_ptr_nonnull(b->data);
        ck_assert_uint_eq(strlen(b->data), b->size);
}

/* The record json-c reads, for checking what was written independently of record_parse(). */
static json_object *jsonc_op(const char *text) {
        json_object *j = json_tokener_parse(text), *op;

        ck_assert_msg(j != NULL, "json-c does not parse %s", text);
        ck_assert(json_object_object_get_ex(j, "op", &op));
        ck_assert(json_object_is_type(op, json_type_object));
        json_object_get(op);
        json_object_put(j);
        return op;
}

/* record_parse() on a malloc'd copy of exactly text's length, so reading past it is caught
 * under valgrind. */
static int parse_copy(const char *text, char **ret_copy, OperationRecord *rec) {
        size_t n = strlen(text);
        char *copy = malloc(n ? n : 1);

        ck_assert_ptr_nonnull(copy);
        memcpy(copy, text, n);
        *ret_copy = copy;
        return record_parse(copy, n, rec);
}

static void assert_refused_len(const char *text, size_t n) {
        OperationRecord rec;
        char *copy = malloc(n ? n : 1);
        int r;

        ck_assert_ptr_nonnull(copy);
        memcpy(copy, text, n);
        r = record_parse(copy, n, &rec);
        ck_assert_msg(r == -EBADMSG, "record_parse() gave %d, not -EBADMSG, for: %.*s", r, (int) n, text);
        free(copy);
}

static void assert_refused(const char *text) {
        assert_refused_len(text, strlen(text));
}

static void assert_accepted(const char *text) {
        _cleanup_free_ char *copy = NULL;
        OperationRecord rec;
        int r = parse_copy(text, &copy, &rec);

        ck_assert_msg(r == 0, "record_parse() gave %d for: %s", r, text);
        ck_assert_str_eq(rec.id, OP_ID);
}

/* The smallest record record_parse() accepts is {"op":{ID,ST}}; the refusals below each change
 * one thing about an accepted one. */
#define ID "\"id\":\"" OP_ID "\""
#define ST "\"status\":\"queued\""
#define REC(members) "{\"op\":{" ID "," ST members "}}"

/* ---- json_write_string ---- */

START_TEST(test_string_plain) {
        assert_string_written("", "\"\"");
        assert_string_written("plain", "\"plain\"");
        assert_string_written("with space/slash", "\"with space/slash\"");
        assert_string_written(NULL, "null");
}
END_TEST

START_TEST(test_string_escapes) {
        assert_string_written("a\"b", "\"a\\\"b\"");
        assert_string_written("a\\b", "\"a\\\\b\"");
        assert_string_written("\"\\\"", "\"\\\"\\\\\\\"\"");
        assert_string_written("l1\nl2\rl3\tl4", "\"l1\\nl2\\rl3\\tl4\"");
        assert_string_written("\x01", "\"\\u0001\"");
        assert_string_written("\x1f", "\"\\u001f\"");
        assert_string_written("\b\f\x0b\x1b", "\"\\u0008\\u000c\\u000b\\u001b\"");
        assert_string_written("x\x10y\x1a", "\"x\\u0010y\\u001a\"");
        /* DEL is no control to JSON. */
        assert_string_written("x\x7fy", "\"x\x7fy\"");
        /* Runs before, between and after escapes are all kept. */
        assert_string_written("ab\ncd\"ef", "\"ab\\ncd\\\"ef\"");
}
END_TEST

START_TEST(test_string_utf8) {
        assert_string_written("é", "\"é\"");
        assert_string_written("€ 😀 日本", "\"€ 😀 日本\"");
        assert_string_written("\xc3\xa9\n\xf0\x9f\x98\x80", "\"\xc3\xa9\\n\xf0\x9f\x98\x80\"");
}
END_TEST

START_TEST(test_string_appends) {
        Buffer b = {};

        ck_assert_int_eq(buffer_append(&b, "[", 1), 0);
        ck_assert_int_eq(json_write_string(&b, "a\"b"), 0);
        ck_assert_int_eq(json_write_literal(&b, ","), 0);
        ck_assert_int_eq(json_write_string(&b, NULL), 0);
        ck_assert_int_eq(json_write_literal(&b, "]"), 0);
        ck_assert_str_eq(b.data, "[\"a\\\"b\",null]");
        ck_assert_uint_eq(b.size, strlen("[\"a\\\"b\",null]"));
        buffer_done(&b);
}
END_TEST

START_TEST(test_string_round_trip) {
        char all[128];

        assert_string_round_trip("");
        assert_string_round_trip("plain");
        assert_string_round_trip(NASTY);
        assert_string_round_trip("\"\\/\b\f\n\r\t");
        /* Every ASCII character but NUL. */
        for (int i = 1; i < 128; i++)
                all[i - 1] = (char) i;
        all[127] = '\0';
        assert_string_round_trip(all);
        /* Every control character on its own. */
        for (int i = 1; i < 0x20; i++) {
                char s[4] = { 'a', (char) i, 'b', '\0' };
                assert_string_round_trip(s);
        }
}
END_TEST

/* ---- json_write_int, json_write_rfc3339 ---- */

START_TEST(test_int) {
        Buffer b = {};

        assert_int_written(0, "0");
        assert_int_written(1, "1");
        assert_int_written(9, "9");
        assert_int_written(10, "10");
        assert_int_written(-1, "-1");
        assert_int_written(-10, "-10");
        assert_int_written(200, "200");
        assert_int_written(-1234567890123, "-1234567890123");
        assert_int_written(INT32_MIN, "-2147483648");
        assert_int_written(UINT32_MAX, "4294967295");
        assert_int_written(INT64_MAX, "9223372036854775807");
        assert_int_written(INT64_MIN, "-9223372036854775808");
        assert_int_written(INT64_MIN + 1, "-9223372036854775807");

        /* Appends. */
        ck_assert_int_eq(json_write_int(&b, 12), 0);
        ck_assert_int_eq(json_write_literal(&b, ","), 0);
        ck_assert_int_eq(json_write_int(&b, -3), 0);
        ck_assert_str_eq(b.data, "12,-3");
        buffer_done(&b);
}
END_TEST

START_TEST(test_rfc3339_known) {
        assert_rfc3339(0, "\"1970-01-01T00:00:00.000Z\"");
        assert_rfc3339(999, "\"1970-01-01T00:00:00.000Z\"");
        assert_rfc3339(1000, "\"1970-01-01T00:00:00.001Z\"");
        assert_rfc3339(UINT64_C(1795744424281835), "\"2026-11-27T01:53:44.281Z\"");
        assert_rfc3339(UINT64_C(951782400000000), "\"2000-02-29T00:00:00.000Z\"");
        assert_rfc3339(UINT64_C(4102444799999999), "\"2099-12-31T23:59:59.999Z\"");
}
END_TEST

START_TEST(test_rfc3339_cache) {
        /* Within one second only the milliseconds change. */
        assert_rfc3339(UINT64_C(1795744424281835), "\"2026-11-27T01:53:44.281Z\"");
        assert_rfc3339(UINT64_C(1795744424282438), "\"2026-11-27T01:53:44.282Z\"");
        assert_rfc3339(UINT64_C(1795744424000000), "\"2026-11-27T01:53:44.000Z\"");
        assert_rfc3339(UINT64_C(1795744424999999), "\"2026-11-27T01:53:44.999Z\"");
        assert_rfc3339(UINT64_C(1795744424050000), "\"2026-11-27T01:53:44.050Z\"");
        /* The next second, and back: the cache follows. */
        assert_rfc3339(UINT64_C(1795744425000000), "\"2026-11-27T01:53:45.000Z\"");
        assert_rfc3339(UINT64_C(1795744424123000), "\"2026-11-27T01:53:44.123Z\"");
        assert_rfc3339(UINT64_C(951782400007000), "\"2000-02-29T00:00:00.007Z\"");
        assert_rfc3339(UINT64_C(1795744424123000), "\"2026-11-27T01:53:44.123Z\"");

        /* The same as format_rfc3339_ms() across seconds, days and years, cached or not. */
        for (uint64_t usec = UINT64_C(1795744424281835), i = 0; i < 2000; i++, usec += UINT64_C(123456789)) {
                char want[32], quoted[40];
                for (int k = 0; k < 2; k++) {
                        uint64_t u = usec + (uint64_t) k * 1000;
                        snprintf(quoted, sizeof quoted, "\"%s\"", format_rfc3339_ms(u, want));
                        assert_rfc3339(u, quoted);
                }
        }
}
END_TEST

/* ---- json_text_new ---- */

static json_object *text_value(const char *text) {
        Buffer b = {};
        json_object *j;

        ck_assert_int_eq(buffer_append(&b, text, strlen(text)), 0);
        j = json_text_new(&b);
        ck_assert_ptr_nonnull(j);
        /* The text was taken over. */
        ck_assert_ptr_null(b.data);
        ck_assert_uint_eq(b.size, 0);
        return j;
}

static const char *serialise(json_object *j, size_t *n) {
        const char *s = json_object_to_json_string_length(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, n);

        ck_assert_ptr_nonnull(s);
        ck_assert_uint_eq(strlen(s), *n);
        return s;
}

START_TEST(test_text_alone) {
        const char *text = "{\"a\":[1,2,{\"b\":\"x\\\"y\"}],\"c\":null}";
        _cleanup_json_ json_object *j = text_value(text);
        size_t n;

        ck_assert_str_eq(serialise(j, &n), text);
        ck_assert_uint_eq(n, strlen(text));
        /* Again, with other flags: still the text. */
        ck_assert_str_eq(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY), text);
}
END_TEST

START_TEST(test_text_empty_buffer) {
        Buffer b = {};
        _cleanup_json_ json_object *j = json_text_new(&b);
        size_t n;

        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(serialise(j, &n), "null");
}
END_TEST

START_TEST(test_text_embedded) {
        const char *text = "{\"id\":\"x\",\"n\":[1,2]}";
        _cleanup_json_ json_object *arr = json_object_new_array(), *obj = json_object_new_object();
        _cleanup_json_ json_object *parsed = NULL;
        json_object *j = text_value(text), *v;
        size_t n;

        ck_assert_int_eq(json_object_array_add(arr, j), 0);
        ck_assert_int_eq(json_object_array_add(arr, json_object_new_int(3)), 0);
        ck_assert_int_eq(json_object_array_add(arr, text_value("\"s\"")), 0);
        ck_assert_str_eq(serialise(arr, &n), "[{\"id\":\"x\",\"n\":[1,2]},3,\"s\"]");

        /* The same value in a second container (shared, freed once by the last put). */
        ck_assert_int_eq(json_object_object_add(obj, "first", json_object_new_boolean(1)), 0);
        ck_assert_int_eq(json_object_object_add(obj, "op", json_object_get(j)), 0);
        ck_assert_int_eq(json_object_object_add(obj, "last", text_value("[]")), 0);
        ck_assert_str_eq(serialise(obj, &n), "{\"first\":true,\"op\":{\"id\":\"x\",\"n\":[1,2]},\"last\":[]}");

        /* What it serialises to is JSON a client reads. */
        parsed = json_tokener_parse(serialise(obj, &n));
        ck_assert_ptr_nonnull(parsed);
        ck_assert(json_object_object_get_ex(parsed, "op", &v));
        ck_assert(json_object_object_get_ex(v, "id", &v));
        ck_assert_str_eq(json_object_get_string(v), "x");
}
END_TEST

/* ---- record_write / record_parse ---- */

START_TEST(test_record_full_round_trip) {
        _cleanup_json_ json_object *j = NULL;
        Buffer b = {};
        OperationRecord rec;
        Operation op;
        json_object *v;

        op_init(&op, OP_ID);
        op.status = OPERATION_COMPLETED;
        op.all = 1;
        op.uid = 4294967294u;
        op_set(&op.graph_operation_id, GRAPH_ID);
        op.has_result_info = true;
        op.result_code = 200;
        op.result_subcode = -5;
        op_set(&op.result_message, "Action completed, operation cancelled.");
        op_set(&op.completion_reason, "cancelled");

        write_record(&op, true, &b);
        ck_assert_msg(strncmp(b.data, "{\"op\":{\"id\":\"" OP_ID "\",\"callId\":\"" CALL_ID "\"", 65) == 0, "%s",
                      b.data);
        ck_assert(b.data[b.size - 1] == '}' && b.data[b.size - 2] == '}');
        ck_assert_ptr_null(strchr(b.data, '\n'));

        /* json-c reads what was written. */
        j = jsonc_op(b.data);
        ck_assert(json_object_object_get_ex(j, "uid", &v));
        ck_assert_int_eq(json_object_get_int64(v), 4294967294);
        ck_assert(json_object_object_get_ex(j, "all", &v) && json_object_is_type(v, json_type_boolean));
        ck_assert(json_object_object_get_ex(j, "createdUsec", &v));
        ck_assert_int_eq(json_object_get_int64(v), 1795744424281835);

        ck_assert_int_eq(record_parse(b.data, b.size, &rec), 0);
        ck_assert_str_eq(rec.id, OP_ID);
        ck_assert_str_eq(rec.call_id, CALL_ID);
        ck_assert_str_eq(rec.client_context, "ctx-1");
        ck_assert(rec.has_uid);
        ck_assert_uint_eq(rec.uid, 4294967294u);
        ck_assert_int_eq(rec.all, 1);
        ck_assert_int_eq(rec.created_usec, 1795744424281835);
        ck_assert_str_eq(rec.status, "completed");
        ck_assert_str_eq(rec.graph_operation_id, GRAPH_ID);
        ck_assert(rec.has_result_info);
        ck_assert_int_eq(rec.result_code, 200);
        ck_assert_int_eq(rec.result_subcode, -5);
        ck_assert_str_eq(rec.result_message, "Action completed, operation cancelled.");
        ck_assert_str_eq(rec.completion_reason, "cancelled");
        ck_assert_ptr_null(rec.error_json);
        ck_assert_int_eq(rec.updated_usec, 1795744424282438);

        buffer_done(&b);
        op_done(&op);
}
END_TEST

START_TEST(test_record_minimal_full) {
        Buffer b = {};
        OperationRecord rec;
        Operation op;

        /* No clientContext, all, graph id, resultInfo, reason or error; uid and times 0. */
        op_init(&op, OP_ID);
        op_set(&op.client_context, NULL);
        op.status = OPERATION_QUEUED;
        op.uid = 0;
        op.created_usec = op.updated_usec = 0;

        write_record(&op, true, &b);
        ck_assert_str_eq(b.data, "{\"op\":{\"id\":\"" OP_ID "\",\"callId\":\"" CALL_ID
                                 "\",\"uid\":0,\"createdUsec\":0,\"status\":\"queued\",\"updatedUsec\":0}}");
        ck_assert_int_eq(record_parse(b.data, b.size, &rec), 0);
        ck_assert_str_eq(rec.call_id, CALL_ID);
        ck_assert_ptr_null(rec.client_context);
        ck_assert(rec.has_uid);
        ck_assert_uint_eq(rec.uid, 0);
        ck_assert_int_eq(rec.all, -1);
        ck_assert_int_eq(rec.created_usec, 0);
        ck_assert_str_eq(rec.status, "queued");
        ck_assert_ptr_null(rec.graph_operation_id);
        ck_assert(!rec.has_result_info);
        ck_assert_ptr_null(rec.result_message);
        ck_assert_ptr_null(rec.completion_reason);
        ck_assert_ptr_null(rec.error_json);
        ck_assert_int_eq(rec.updated_usec, 0);

        buffer_done(&b);
        op_done(&op);
}
END_TEST

START_TEST(test_record_change) {
        _cleanup_json_ json_object *j = NULL;
        Buffer b = {};
        OperationRecord rec;
        Operation op;

        op_init(&op, OP_ID);
        op.status = OPERATION_FAILED;
        op.all = 0;
        op_set(&op.graph_operation_id, GRAPH_ID);
        op.has_result_info = true;
        op.result_code = 500;
        op.result_subcode = 7;
        op.updated_usec = UINT64_C(1795744430000001);

        write_record(&op, false, &b);
        /* Only the id and the state. */
        j = jsonc_op(b.data);
        ck_assert(!json_object_object_get_ex(j, "callId", NULL));
        ck_assert(!json_object_object_get_ex(j, "clientContext", NULL));
        ck_assert(!json_object_object_get_ex(j, "uid", NULL));
        ck_assert(!json_object_object_get_ex(j, "all", NULL));
        ck_assert(!json_object_object_get_ex(j, "createdUsec", NULL));
        ck_assert(json_object_object_get_ex(j, "id", NULL));
        ck_assert(json_object_object_get_ex(j, "status", NULL));
        ck_assert(json_object_object_get_ex(j, "updatedUsec", NULL));

        ck_assert_int_eq(record_parse(b.data, b.size, &rec), 0);
        ck_assert_str_eq(rec.id, OP_ID);
        ck_assert_ptr_null(rec.call_id);
        ck_assert_ptr_null(rec.client_context);
        ck_assert(!rec.has_uid);
        ck_assert_int_eq(rec.all, -1);
        ck_assert_int_eq(rec.created_usec, -1);
        ck_assert_str_eq(rec.status, "failed");
        ck_assert_str_eq(rec.graph_operation_id, GRAPH_ID);
        ck_assert(rec.has_result_info);
        ck_assert_int_eq(rec.result_code, 500);
        ck_assert_int_eq(rec.result_subcode, 7);
        /* resultInfo without a message. */
        ck_assert_ptr_null(rec.result_message);
        ck_assert_ptr_null(rec.completion_reason);
        ck_assert_int_eq(rec.updated_usec, 1795744430000001);

        buffer_done(&b);
        op_done(&op);
}
END_TEST

START_TEST(test_record_all_and_status) {
        Buffer b = {};
        OperationRecord rec;
        Operation op;

        op_init(&op, OP_ID);
        for (int all = -1; all <= 1; all++)
                for (OperationStatus s = 0; s < _OPERATION_STATUS_MAX; s++) {
                        op.all = all;
                        op.status = s;
                        write_record(&op, true, &b);
                        ck_assert_int_eq(record_parse(b.data, b.size, &rec), 0);
                        ck_assert_int_eq(rec.all, all);
                        ck_assert_str_eq(rec.status, operation_status_to_string(s));
                        ck_assert_int_eq(operation_status_from_string(rec.status), s);
                }
        buffer_done(&b);
        op_done(&op);
}
END_TEST

START_TEST(test_record_int_limits) {
        Buffer b = {};
        OperationRecord rec;
        Operation op;

        op_init(&op, OP_ID);
        op.has_result_info = true;
        op.result_code = INT_MIN;
        op.result_subcode = INT_MAX;
        op.created_usec = (uint64_t) INT64_MAX;
        op.updated_usec = (uint64_t) INT64_MAX - 1;
        write_record(&op, true, &b);
        ck_assert_int_eq(record_parse(b.data, b.size, &rec), 0);
        ck_assert_int_eq(rec.result_code, INT_MIN);
        ck_assert_int_eq(rec.result_subcode, INT_MAX);
        ck_assert_int_eq(rec.created_usec, INT64_MAX);
        ck_assert_int_eq(rec.updated_usec, INT64_MAX - 1);
        buffer_done(&b);
        op_done(&op);
}
END_TEST

START_TEST(test_record_strings_survive) {
        Buffer b = {};
        OperationRecord rec;
        Operation op;

        op_init(&op, OP_ID);
        op_set(&op.call_id, "call " NASTY);
        op_set(&op.client_context, "ctx " NASTY);
        op_set(&op.graph_operation_id, "graph " NASTY);
        op.has_result_info = true;
        op_set(&op.result_message, "msg " NASTY);
        op_set(&op.completion_reason, "reason " NASTY);

        write_record(&op, true, &b);
        /* Raw controls never reach the journal line. */
        for (size_t i = 0; i < b.size; i++)
                ck_assert_msg((unsigned char) b.data[i] >= 0x20, "raw control 0x%02x at %zu", b.data[i], i);
        json_object_put(jsonc_op(b.data));

        ck_assert_int_eq(record_parse(b.data, b.size, &rec), 0);
        ck_assert_str_eq(rec.call_id, "call " NASTY);
        ck_assert_str_eq(rec.client_context, "ctx " NASTY);
        ck_assert_str_eq(rec.graph_operation_id, "graph " NASTY);
        ck_assert_str_eq(rec.result_message, "msg " NASTY);
        ck_assert_str_eq(rec.completion_reason, "reason " NASTY);
        /* Decoded in place: every string lies inside the text. */
        ck_assert(rec.client_context > b.data && rec.client_context < b.data + b.size);
        ck_assert(rec.completion_reason > b.data && rec.completion_reason < b.data + b.size);

        buffer_done(&b);
        op_done(&op);
}
END_TEST

START_TEST(test_record_error) {
        _cleanup_json_ json_object *ej = NULL;
        _cleanup_free_ char *etext = NULL;
        _cleanup_(error_freep) Error *back = NULL;
        json_object *data = json_object_new_object(), *nested = json_object_new_array(), *v;
        Buffer b = {};
        OperationRecord rec;
        Operation op;

        json_object_object_add(data, "httpStatus", json_object_new_int(503));
        json_object_object_add(data, "requestId", json_object_new_string("req \"1\" é"));
        json_object_array_add(nested, json_object_new_int(1));
        json_object_array_add(nested, json_object_new_string("x}"));
        json_object_object_add(data, "nested", nested);

        op_init(&op, OP_ID);
        op.status = OPERATION_FAILED;
        op.error = error_new(ERROR_GRAPH, data, "Graph said \"no\": %s", "é\n😀");
        ck_assert_ptr_nonnull(op.error);

        write_record(&op, true, &b);
        ck_assert_int_eq(record_parse(b.data, b.size, &rec), 0);
        ck_assert_ptr_nonnull(rec.error_json);
        /* Exactly the object: from its '{' to its '}', followed by the next member. */
        ck_assert(rec.error_json > b.data && rec.error_json + rec.error_json_len < b.data + b.size);
        ck_assert(rec.error_json[0] == '{');
        ck_assert(rec.error_json[rec.error_json_len - 1] == '}');
        ck_assert(rec.error_json[rec.error_json_len] == ',');

        etext = strndup(rec.error_json, rec.error_json_len);
        ck_assert_ptr_nonnull(etext);
        ej = json_tokener_parse(etext);
        ck_assert_msg(ej != NULL, "json-c does not parse %s", etext);
        ck_assert(json_object_object_get_ex(ej, "class", &v));
        ck_assert_str_eq(json_object_get_string(v), error_class_name(ERROR_GRAPH));
        ck_assert(json_object_object_get_ex(ej, "message", &v));
        ck_assert_str_eq(json_object_get_string(v), "Graph said \"no\": é\n😀");

        back = error_from_operation_json(ej);
        ck_assert_ptr_nonnull(back);
        ck_assert_int_eq(back->class, ERROR_GRAPH);
        ck_assert_str_eq(back->message, "Graph said \"no\": é\n😀");
        ck_assert_ptr_nonnull(back->data);
        ck_assert(json_object_object_get_ex(back->data, "httpStatus", &v));
        ck_assert_int_eq(json_object_get_int(v), 503);
        ck_assert(json_object_object_get_ex(back->data, "requestId", &v));
        ck_assert_str_eq(json_object_get_string(v), "req \"1\" é");

        /* In a change record too. */
        write_record(&op, false, &b);
        ck_assert_int_eq(record_parse(b.data, b.size, &rec), 0);
        ck_assert_ptr_nonnull(rec.error_json);
        ck_assert(rec.error_json[0] == '{' && rec.error_json[rec.error_json_len - 1] == '}');

        buffer_done(&b);
        op_done(&op);
}
END_TEST

/* ---- records of earlier versions, member order, unknown members ---- */

#define OLD_RECORD                                                                                        \
        "{\"op\":{\"id\":\"" OP_ID "\",\"callId\":\"" CALL_ID "\",\"clientContext\":\"bench-1\","               \
        "\"status\":\"completed\",\"graphOperationId\":\"" GRAPH_ID "\",\"resultInfo\":{\"code\":200,"        \
        "\"subcode\":0,\"message\":\"Action completed, operation cancelled.\"},\"createdAt\":"                 \
        "\"2026-11-27T01:53:44.281Z\",\"updatedAt\":\"2026-11-27T01:53:44.282Z\",\"uid\":0,"                   \
        "\"createdUsec\":1795744424281835,\"updatedUsec\":1795744424282438}}"

static void assert_old_record(const OperationRecord *rec) {
        ck_assert_str_eq(rec->id, OP_ID);
        ck_assert_str_eq(rec->call_id, CALL_ID);
        ck_assert_str_eq(rec->client_context, "bench-1");
        ck_assert_str_eq(rec->status, "completed");
        ck_assert_str_eq(rec->graph_operation_id, GRAPH_ID);
        ck_assert(rec->has_result_info);
        ck_assert_int_eq(rec->result_code, 200);
        ck_assert_int_eq(rec->result_subcode, 0);
        ck_assert_str_eq(rec->result_message, "Action completed, operation cancelled.");
        ck_assert(rec->has_uid);
        ck_assert_uint_eq(rec->uid, 0);
        ck_assert_int_eq(rec->all, -1);
        ck_assert_int_eq(rec->created_usec, 1795744424281835);
        ck_assert_int_eq(rec->updated_usec, 1795744424282438);
        ck_assert_ptr_null(rec->completion_reason);
        ck_assert_ptr_null(rec->error_json);
}

START_TEST(test_old_format) {
        _cleanup_free_ char *copy = NULL;
        OperationRecord rec;

        ck_assert_int_eq(parse_copy(OLD_RECORD, &copy, &rec), 0);
        assert_old_record(&rec);
}
END_TEST

START_TEST(test_other_order_and_unknown_members) {
        static const char text[] =
                " \t\r\n{ \"version\" : 2 , \"op\" : {\n"
                "  \"updatedUsec\" : 1795744424282438 ,\n"
                "  \"unknownNull\": null, \"unknownTrue\": true, \"unknownFalse\": false,\n"
                "  \"unknownInt\": -12, \"unknownZero\": 0, \"unknownMinusZero\": -0,\n"
                "  \"unknownFloat\": -1.5e+10, \"unknownExp\": 2E-3, \"unknownFrac\": 0.25,\n"
                "  \"unknownString\": \"s \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\ud83d\\ude00 é\",\n"
                "  \"unknownObject\": {\"a\": {\"b\": [1, {\"c\": []}, {}], \"id\": \"not this one\"}},\n"
                "  \"unknownArray\": [[], {}, \"x\", 0, -0.0, 1E5, true, false, null, [[[\"deep\"]]]],\n"
                "  \"createdAt\": \"2026-11-27T01:53:44.281Z\", \"\": \"empty key\",\n"
                "  \"resultInfo\": {\"extra\": [1, {\"code\": \"no\"}], \"message\": \"Action completed, operation cancelled.\",\n"
                "                 \"subcode\": 0, \"code\": 200},\n"
                "  \"uid\": 0, \"createdUsec\": 1795744424281835, \"updatedAt\": \"x\",\n"
                "  \"graphOperationId\": \"" GRAPH_ID "\", \"status\": \"completed\",\n"
                "  \"clientContext\": \"bench-1\", \"callId\": \"" CALL_ID "\", \"id\": \"" OP_ID "\"\n"
                " }, \"after\": [{\"deep\": {\"op\": 1}}], \"status\": 5 } \n";
        _cleanup_free_ char *copy = NULL;
        OperationRecord rec;

        ck_assert_int_eq(parse_copy(text, &copy, &rec), 0);
        assert_old_record(&rec);
}
END_TEST

START_TEST(test_null_members) {
        _cleanup_free_ char *copy = NULL;
        OperationRecord rec;

        /* null stands for absent wherever the state allows it. */
        ck_assert_int_eq(parse_copy(REC(",\"clientContext\":null,\"graphOperationId\":null,\"resultInfo\":null,"
                                        "\"completionReason\":null,\"error\":null,\"all\":null"),
                                    &copy, &rec),
                         0);
        ck_assert_ptr_null(rec.client_context);
        ck_assert_ptr_null(rec.graph_operation_id);
        ck_assert(!rec.has_result_info);
        ck_assert_ptr_null(rec.completion_reason);
        ck_assert_ptr_null(rec.error_json);
        ck_assert_int_eq(rec.all, -1);
        ck_assert_ptr_null(rec.call_id);
        ck_assert(!rec.has_uid);
        ck_assert_int_eq(rec.created_usec, -1);
        ck_assert_int_eq(rec.updated_usec, -1);
}
END_TEST

START_TEST(test_escapes_decoded) {
        _cleanup_free_ char *copy = NULL;
        OperationRecord rec;

        ck_assert_int_eq(parse_copy(REC(",\"clientContext\":\"\\u00e9\\u20AC\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\\"\\\\\","
                                        "\"completionReason\":\"\\uD834\\uDD1E raw \xf0\x9d\x84\x9e\""),
                                    &copy, &rec),
                         0);
        ck_assert_str_eq(rec.client_context, "é€😀/\b\f\n\r\t\"\\");
        ck_assert_str_eq(rec.completion_reason, "\xf0\x9d\x84\x9e raw \xf0\x9d\x84\x9e");
        free(copy);

        /* Hex digits in either case. */
        copy = NULL;
        ck_assert_int_eq(parse_copy(REC(",\"clientContext\":\"\\u00FF\\u00ff\\uABCD\\uabcd\\u0F0f\""), &copy, &rec), 0);
        ck_assert_str_eq(rec.client_context, "\xc3\xbf\xc3\xbf\xea\xaf\x8d\xea\xaf\x8d\xe0\xbc\x8f");
}
END_TEST

START_TEST(test_error_kept_as_text) {
        /* Strings are decoded in place, but the error object is handed over as text: its bytes
         * must be left exactly as they were, escapes and all, for json-c to read later. */
        const char *text = REC(",\"error\":{\"message\":\"a\\\"b\\u00e9\",\"k\\n\":[\"\\ud83d\\ude00\"]}");
        _cleanup_free_ char *copy = NULL;
        _cleanup_json_ json_object *ej = NULL;
        _cleanup_free_ char *etext = NULL;
        OperationRecord rec;
        json_object *v;

        ck_assert_int_eq(parse_copy(text, &copy, &rec), 0);
        etext = strndup(rec.error_json, rec.error_json_len);
        ck_assert_str_eq(etext, "{\"message\":\"a\\\"b\\u00e9\",\"k\\n\":[\"\\ud83d\\ude00\"]}");
        ej = json_tokener_parse(etext);
        ck_assert_ptr_nonnull(ej);
        ck_assert(json_object_object_get_ex(ej, "message", &v));
        ck_assert_str_eq(json_object_get_string(v), "a\"bé");
}
END_TEST

/* depth values nested in each other: objects {"k":…} and arrays […] taking turns. */
static char *nested(unsigned depth) {
        char *s = malloc(6 * (size_t) depth + 2), *p = s;

        ck_assert_ptr_nonnull(s);
        for (unsigned i = 0; i < depth; i++)
                p = stpcpy(p, i % 2 ? "[" : "{\"k\":");
        if (depth % 2)
                p = stpcpy(p, "0"); /* the innermost is an object: its member needs a value */
        for (unsigned i = depth; i > 0; i--)
                *p++ = (i - 1) % 2 ? ']' : '}';
        *p = '\0';
        return s;
}

/* A record with an unknown member "x" in "op" that nests depth values: arrays only, or
 * objects and arrays taking turns. */
static char *deep_record(unsigned depth, bool objects) {
        char *s, *p;

        if (objects) {
                _cleanup_free_ char *inner = nested(depth);
                ck_assert_int_ge(asprintf(&s, REC(",\"x\":%s"), inner), 0);
                return s;
        }
        s = malloc(2 * (size_t) depth + sizeof(REC(",\"x\":")));
        ck_assert_ptr_nonnull(s);
        p = stpcpy(s, REC(",\"x\":"));
        p -= 2; /* before the closing "}}" */
        for (unsigned i = 0; i < depth; i++)
                *p++ = '[';
        for (unsigned i = 0; i < depth; i++)
                *p++ = ']';
        strcpy(p, "}}");
        return s;
}

START_TEST(test_nesting) {
        for (unsigned d = 1; d <= 31; d++) {
                _cleanup_free_ char *a = deep_record(d, false), *o = deep_record(d, true);
                assert_accepted(a);
                assert_accepted(o);
        }
        for (unsigned d = 33; d <= 40; d++) {
                _cleanup_free_ char *a = deep_record(d, false), *o = deep_record(d, true);
                assert_refused(a);
                assert_refused(o);
        }
        {
                _cleanup_free_ char *a = deep_record(1000, false);
                assert_refused(a);
        }
        /* Under an unknown member at the top too. */
        {
                _cleanup_free_ char *ok = NULL, *bad = NULL;
                _cleanup_free_ char *in31 = nested(31), *in33 = nested(33);
                ck_assert_int_ge(asprintf(&ok, "{\"y\":%s,\"op\":{" ID "," ST "}}", in31), 0);
                ck_assert_int_ge(asprintf(&bad, "{\"y\":%s,\"op\":{" ID "," ST "}}", in33), 0);
                assert_accepted(ok);
                assert_refused(bad);
        }
}
END_TEST

/* ---- refusals ---- */

START_TEST(test_refuse_not_object) {
        assert_accepted(REC(""));
        assert_refused("");
        assert_refused(" \n\t");
        assert_refused("null");
        assert_refused("true");
        assert_refused("1");
        assert_refused("\"op\"");
        assert_refused("[" REC("") "]");
        assert_refused("{");
        assert_refused("{\"op\":{" ID "," ST "}");
        assert_refused("{\"op\":[" ID "," ST "]}");
        assert_refused("{\"op\":\"x\"}");
        assert_refused("{\"op\":null}");
        assert_refused("{}");
        assert_refused("{\"op\":{}}");
        /* Syntax. */
        assert_refused("{\"op\":{" ID "," ST ",}}");
        assert_refused("{\"op\":{," ID "," ST "}}");
        assert_refused("{\"op\":{" ID " " ST "}}");
        assert_refused("{\"op\":{\"id\" \"" OP_ID "\"," ST "}}");
        assert_refused("{\"op\":{" ID "," ST "},}");
        assert_refused("{op:{" ID "," ST "}}");
        assert_refused("{'op':{" ID "," ST "}}");
        assert_refused(REC(",\"x\":[1,]"));
        assert_refused(REC(",\"x\":[,1]"));
        assert_refused(REC(",\"x\":{\"a\":1,}"));
        assert_refused(REC(",\"x\":{\"a\"}"));
        assert_refused(REC(",\"x\":{1:2}"));
        assert_refused(REC(",\"x\":tru"));
        assert_refused(REC(",\"x\":nul"));
        assert_refused(REC(",\"x\":True"));
        assert_refused(REC(",\"x\":undefined"));
        assert_refused(REC(",\"x\":"));
        assert_refused(REC(",\"x\""));
        /* Numbers JSON does not have, in skipped members too. */
        assert_refused(REC(",\"x\":01"));
        assert_refused(REC(",\"x\":+1"));
        assert_refused(REC(",\"x\":.5"));
        assert_refused(REC(",\"x\":1."));
        assert_refused(REC(",\"x\":1e"));
        assert_refused(REC(",\"x\":1e+"));
        assert_refused(REC(",\"x\":-"));
        assert_refused(REC(",\"x\":NaN"));
        assert_refused(REC(",\"x\":Infinity"));
        assert_refused(REC(",\"x\":0x10"));
        /* Cut short anywhere. */
        {
                const char *full = REC(",\"x\":[1,{\"a\":\"b\"}],\"all\":true");
                for (size_t n = 0; n < strlen(full); n++)
                        assert_refused_len(full, n);
        }
}
END_TEST

START_TEST(test_refuse_trailing) {
        assert_accepted(REC("") " \n\t\r");
        assert_refused(REC("") "x");
        assert_refused(REC("") "{}");
        assert_refused(REC("") REC(""));
        assert_refused(REC("") ",");
        assert_refused(REC("") "\n1");
        assert_refused_len(REC("") "\0", sizeof(REC("")));
}
END_TEST

START_TEST(test_refuse_missing) {
        assert_refused("{\"op\":{" ID "}}");
        assert_refused("{\"op\":{" ST "}}");
        assert_refused("{\"op\":{" ID ",\"status\":null}}");
        assert_refused("{\"op\":{\"id\":null," ST "}}");
        /* Only the ones inside "op" count. */
        assert_refused("{" ID ",\"op\":{" ST "}}");
        assert_refused("{" ST ",\"op\":{" ID "}}");
        assert_refused("{\"op\":{\"x\":{" ID "}," ST "}}");
        assert_refused("{\"op\":{" ID ",\"resultInfo\":{" ST "}}}");
}
END_TEST

START_TEST(test_refuse_types) {
        /* Each known member with a value of the wrong type; the first line of each group is
         * accepted, so the rest fail for their type. */
        assert_refused("{\"op\":{\"id\":1," ST "}}");
        assert_refused("{\"op\":{\"id\":[\"" OP_ID "\"]," ST "}}");
        assert_refused("{\"op\":{" ID ",\"status\":1}}");
        assert_refused("{\"op\":{" ID ",\"status\":true}}");
        assert_refused("{\"op\":{" ID ",\"status\":{}}}");

        assert_accepted(REC(",\"callId\":\"c\""));
        assert_refused(REC(",\"callId\":null"));
        assert_refused(REC(",\"callId\":1"));
        assert_refused(REC(",\"callId\":[]"));

        assert_accepted(REC(",\"clientContext\":\"c\""));
        assert_refused(REC(",\"clientContext\":1"));
        assert_refused(REC(",\"clientContext\":false"));

        assert_accepted(REC(",\"graphOperationId\":\"g\""));
        assert_refused(REC(",\"graphOperationId\":{}"));
        assert_refused(REC(",\"graphOperationId\":2"));

        assert_accepted(REC(",\"completionReason\":\"r\""));
        assert_refused(REC(",\"completionReason\":true"));
        assert_refused(REC(",\"completionReason\":[\"r\"]"));

        assert_accepted(REC(",\"all\":true"));
        assert_accepted(REC(",\"all\":false"));
        assert_refused(REC(",\"all\":1"));
        assert_refused(REC(",\"all\":\"true\""));
        assert_refused(REC(",\"all\":tru"));
        assert_refused(REC(",\"all\":[]"));

        assert_accepted(REC(",\"uid\":1000"));
        assert_refused(REC(",\"uid\":\"1000\""));
        assert_refused(REC(",\"uid\":null"));
        assert_refused(REC(",\"uid\":true"));

        assert_accepted(REC(",\"createdUsec\":1"));
        assert_refused(REC(",\"createdUsec\":\"1\""));
        assert_refused(REC(",\"createdUsec\":null"));
        assert_accepted(REC(",\"updatedUsec\":1"));
        assert_refused(REC(",\"updatedUsec\":\"1\""));
        assert_refused(REC(",\"updatedUsec\":[]"));

        assert_accepted(REC(",\"resultInfo\":{}"));
        assert_accepted(REC(",\"resultInfo\":{\"code\":1,\"subcode\":2,\"message\":\"m\"}"));
        assert_accepted(REC(",\"resultInfo\":{\"message\":null}"));
        assert_refused(REC(",\"resultInfo\":[]"));
        assert_refused(REC(",\"resultInfo\":\"x\""));
        assert_refused(REC(",\"resultInfo\":1"));
        assert_refused(REC(",\"resultInfo\":{\"code\":\"200\"}"));
        assert_refused(REC(",\"resultInfo\":{\"code\":null}"));
        assert_refused(REC(",\"resultInfo\":{\"subcode\":true}"));
        assert_refused(REC(",\"resultInfo\":{\"message\":1}"));
        assert_refused(REC(",\"resultInfo\":{\"message\":{}}"));

        assert_accepted(REC(",\"error\":{}"));
        assert_accepted(REC(",\"error\":{\"class\":\"GraphError\",\"message\":\"m\",\"x\":[1,{}]}"));
        assert_refused(REC(",\"error\":\"Graph\""));
        assert_refused(REC(",\"error\":[]"));
        assert_refused(REC(",\"error\":1"));
        assert_refused(REC(",\"error\":true"));
        assert_refused(REC(",\"error\":{\"class\":}"));
}
END_TEST

START_TEST(test_refuse_control_chars) {
        assert_accepted(REC(",\"clientContext\":\"a\\nb\""));
        assert_refused(REC(",\"clientContext\":\"a\nb\""));
        assert_refused(REC(",\"clientContext\":\"a\tb\""));
        assert_refused(REC(",\"clientContext\":\"a\x01" "b\""));
        assert_refused(REC(",\"clientContext\":\"a\x1f" "b\""));
        assert_refused_len(REC(",\"clientContext\":\"a\0b\""), sizeof(REC(",\"clientContext\":\"a\0b\"")) - 1);
        /* In keys and in skipped strings too. */
        assert_refused(REC(",\"x\ny\":1"));
        assert_refused(REC(",\"x\":\"a\rb\""));
        assert_refused(REC(",\"x\":[\"a\x02\"]"));
        assert_refused(REC(",\"x\":{\"k\x03\":1}"));
        assert_refused(REC(",\"error\":{\"message\":\"a\nb\"}"));
}
END_TEST

START_TEST(test_refuse_bad_escapes) {
        assert_accepted(REC(",\"clientContext\":\"\\u0041\\u00e9\""));
        assert_refused(REC(",\"clientContext\":\"\\x41\""));
        assert_refused(REC(",\"clientContext\":\"\\a\""));
        assert_refused(REC(",\"clientContext\":\"\\U0041\""));
        assert_refused(REC(",\"clientContext\":\"\\'\""));
        assert_refused(REC(",\"clientContext\":\"\\0\""));
        assert_refused(REC(",\"clientContext\":\"\\u41\""));
        assert_refused(REC(",\"clientContext\":\"\\u004\""));
        assert_refused(REC(",\"clientContext\":\"\\u00g1\""));
        assert_refused(REC(",\"clientContext\":\"\\u-041\""));
        assert_refused(REC(",\"clientContext\":\"\\\""));
        assert_refused("{\"op\":{" ID "," ST ",\"clientContext\":\"\\");
        assert_refused("{\"op\":{" ID "," ST ",\"clientContext\":\"\\u00");
        /* In keys and skipped strings too. */
        assert_refused(REC(",\"\\q\":1"));
        assert_refused(REC(",\"x\":\"\\q\""));
        assert_refused(REC(",\"x\":[\"\\u12\"]"));
        assert_refused(REC(",\"error\":{\"message\":\"\\x\"}"));
}
END_TEST

START_TEST(test_refuse_nul_escape) {
        assert_accepted(REC(",\"clientContext\":\"\\u0001\""));
        assert_refused(REC(",\"clientContext\":\"\\u0000\""));
        assert_refused(REC(",\"clientContext\":\"a\\u0000b\""));
        assert_refused(REC(",\"x\":\"\\u0000\""));
        assert_refused(REC(",\"\\u0000\":1"));
        assert_refused("{\"op\":{\"id\":\"" OP_ID "\\u0000\"," ST "}}");
        assert_refused(REC(",\"error\":{\"message\":\"\\u0000\"}"));
}
END_TEST

START_TEST(test_refuse_surrogates) {
        assert_accepted(REC(",\"clientContext\":\"\\ud83d\\ude00\""));
        assert_accepted(REC(",\"clientContext\":\"\\udbff\\udfff\""));
        assert_accepted(REC(",\"clientContext\":\"\\ud7ff\\ue000\""));
        /* A high surrogate alone, at the end, or followed by anything but a low one. */
        assert_refused(REC(",\"clientContext\":\"\\ud83d\""));
        assert_refused(REC(",\"clientContext\":\"\\ud83dx\""));
        assert_refused(REC(",\"clientContext\":\"\\ud83d\\n\""));
        assert_refused(REC(",\"clientContext\":\"\\ud83d\\u0041\""));
        assert_refused(REC(",\"clientContext\":\"\\ud83d\\ud83d\""));
        assert_refused(REC(",\"clientContext\":\"\\ud800\\ue000\""));
        assert_refused(REC(",\"clientContext\":\"\\ud800\\udc0\""));
        /* A low surrogate alone or first. */
        assert_refused(REC(",\"clientContext\":\"\\ude00\""));
        assert_refused(REC(",\"clientContext\":\"\\udfff\\ud83d\""));
        assert_refused(REC(",\"clientContext\":\"\\udc00\\udc00\""));
        /* In skipped strings too. */
        assert_refused(REC(",\"x\":\"\\ud800\""));
        assert_refused(REC(",\"x\":[\"\\udc00\"]"));
        assert_refused(REC(",\"error\":{\"message\":\"\\ud800\"}"));
}
END_TEST

START_TEST(test_refuse_invalid_utf8) {
        assert_accepted(REC(",\"clientContext\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\""));
        assert_refused(REC(",\"clientContext\":\"\xff\""));
        assert_refused(REC(",\"clientContext\":\"\xfe\""));
        assert_refused(REC(",\"clientContext\":\"\x80\""));
        assert_refused(REC(",\"clientContext\":\"a\xc3\""));
        assert_refused(REC(",\"clientContext\":\"\xc3(\""));
        assert_refused(REC(",\"clientContext\":\"\xe2\x82\""));
        assert_refused(REC(",\"clientContext\":\"\xf0\x9f\x98\""));
        /* Overlong forms, encoded surrogates, past U+10FFFF. */
        assert_refused(REC(",\"clientContext\":\"\xc0\x80\""));
        assert_refused(REC(",\"clientContext\":\"\xc1\xbf\""));
        assert_refused(REC(",\"clientContext\":\"\xe0\x80\xaf\""));
        assert_refused(REC(",\"clientContext\":\"\xf0\x80\x80\xaf\""));
        assert_refused(REC(",\"clientContext\":\"\xed\xa0\x80\""));
        assert_refused(REC(",\"clientContext\":\"\xed\xbf\xbf\""));
        assert_refused(REC(",\"clientContext\":\"\xf4\x90\x80\x80\""));
        assert_refused(REC(",\"clientContext\":\"\xf8\x88\x80\x80\x80\""));
        /* Next to escapes. */
        assert_refused(REC(",\"clientContext\":\"\\n\xff\\t\""));
        /* In every decoded string. */
        assert_refused("{\"op\":{\"id\":\"" OP_ID "\xff\"," ST "}}");
        assert_refused("{\"op\":{" ID ",\"status\":\"queued\xc3\"}}");
        assert_refused(REC(",\"callId\":\"\xe2\x82\""));
        assert_refused(REC(",\"completionReason\":\"\xed\xa0\x80\""));
        assert_refused(REC(",\"resultInfo\":{\"message\":\"\xc0\x80\"}"));
        assert_refused(REC(",\"x\xff\":1"));
}
END_TEST

START_TEST(test_refuse_numbers) {
        /* Fractions and exponents in integer members. */
        assert_refused(REC(",\"uid\":1.0"));
        assert_refused(REC(",\"uid\":1e3"));
        assert_refused(REC(",\"uid\":1E3"));
        assert_refused(REC(",\"uid\":0.5"));
        assert_refused(REC(",\"createdUsec\":1795744424281835.0"));
        assert_refused(REC(",\"updatedUsec\":1.795744424282438e15"));
        assert_refused(REC(",\"resultInfo\":{\"code\":200.0}"));
        assert_refused(REC(",\"resultInfo\":{\"subcode\":0e0}"));
        /* Forms JSON does not have. */
        assert_refused(REC(",\"uid\":01"));
        assert_refused(REC(",\"uid\":00"));
        assert_refused(REC(",\"uid\":+1"));
        assert_refused(REC(",\"uid\":-"));
        assert_refused(REC(",\"uid\":"));
        assert_refused(REC(",\"uid\":0x1"));
        assert_refused(REC(",\"resultInfo\":{\"code\":-}"));
        /* uid: 0 .. 4294967294 ((uid_t) -1 is no user). */
        assert_accepted(REC(",\"uid\":0"));
        assert_accepted(REC(",\"uid\":4294967294"));
        assert_refused(REC(",\"uid\":-1"));
        assert_refused(REC(",\"uid\":4294967295"));
        assert_refused(REC(",\"uid\":4294967296"));
        assert_refused(REC(",\"uid\":-4294967296"));
        /* code and subcode: int. */
        assert_accepted(REC(",\"resultInfo\":{\"code\":-2147483648,\"subcode\":2147483647}"));
        assert_refused(REC(",\"resultInfo\":{\"code\":2147483648}"));
        assert_refused(REC(",\"resultInfo\":{\"code\":-2147483649}"));
        assert_refused(REC(",\"resultInfo\":{\"subcode\":4294967296}"));
        /* Times: 0 .. INT64_MAX. */
        assert_accepted(REC(",\"createdUsec\":9223372036854775807,\"updatedUsec\":0"));
        assert_refused(REC(",\"createdUsec\":-1"));
        assert_refused(REC(",\"updatedUsec\":-1"));
        assert_refused(REC(",\"createdUsec\":9223372036854775808"));
        assert_refused(REC(",\"updatedUsec\":18446744073709551615"));
        assert_refused(REC(",\"updatedUsec\":18446744073709551616"));
        assert_refused(REC(",\"updatedUsec\":99999999999999999999999"));
        assert_refused(REC(",\"createdUsec\":-9223372036854775809"));
}
END_TEST

/* ---- operation_table_restore ---- */

#define RETENTION (UINT64_C(100) * 365 * 24 * 3600 * 1000000)

/* Parses text (a copy) and restores it into t. */
static int restore_text(OperationTable *t, const char *text, Operation **ret) {
        _cleanup_free_ char *copy = NULL;
        OperationRecord rec;
        int r;

        r = parse_copy(text, &copy, &rec);
        ck_assert_msg(r == 0, "record_parse() gave %d for: %s", r, text);
        return operation_table_restore(t, &rec, ret);
}

/* cancelledOperations: written after the outcome, read back, restored (a later record replaces
 * the list), refused without an id or a time, capped at RECORD_CANCELLED_MAX on reading. */
START_TEST(test_cancelled_operations) {
        _cleanup_(operation_table_freep) OperationTable *t = NULL;
        _cleanup_free_ char *copy = NULL;
        Operation *op = NULL;
        OperationRecord rec;
        Buffer b = {};

        ck_assert_int_eq(operation_table_new(1000, RETENTION, &t), 0);
        ck_assert_int_eq(restore_text(t,
                                      "{\"op\":{" ID ",\"callId\":\"" CALL_ID "\",\"uid\":1000,\"createdUsec\":1,"
                                      "\"status\":\"completed\",\"cancelledOperations\":[{\"graphOperationId\":\"p-1\","
                                      "\"type\":\"playPromptOperation\",\"atUsec\":1795744424281900},"
                                      "{\"graphOperationId\":\"p-2\",\"type\":null,\"atUsec\":5,\"later\":[1]}],"
                                      "\"updatedUsec\":2}}",
                                      &op),
                         0);
        ck_assert_uint_eq(op->n_cancelled, 2);
        ck_assert_str_eq(op->cancelled[0].graph_operation_id, "p-1");
        ck_assert_str_eq(op->cancelled[0].type, "playPromptOperation");
        ck_assert_uint_eq(op->cancelled[0].at_usec, 1795744424281900);
        ck_assert_ptr_null(op->cancelled[1].type);

        /* Written as it was read, in both record sizes, and as clients see it. */
        write_record(op, false, &b);
        ck_assert_ptr_nonnull(strstr(b.data, ",\"cancelledOperations\":[{\"graphOperationId\":\"p-1\",\"type\":"
                                             "\"playPromptOperation\",\"atUsec\":1795744424281900},{\"graphOperationId\":"
                                             "\"p-2\",\"type\":null,\"atUsec\":5}],\"updatedUsec\":2}}"));
        ck_assert_int_eq(parse_copy(b.data, &copy, &rec), 0);
        ck_assert_uint_eq(rec.n_cancelled, 2);
        ck_assert_str_eq(rec.cancelled[1].graph_operation_id, "p-2");
        buffer_done(&b);
        ck_assert_int_eq(operation_write_json(op, &b), 0);
        ck_assert_ptr_nonnull(strstr(b.data, "\"cancelledOperations\":[{\"graphOperationId\":\"p-1\",\"type\":"
                                             "\"playPromptOperation\",\"at\":\"2026-11-27T01:53:44.281Z\"}"));
        buffer_done(&b);

        /* Adding: once per id (case and dashes do not matter), at most max. */
        ck_assert_int_eq(operation_add_cancelled(op, "P-1", NULL, 9, 64), 0);
        ck_assert_int_eq(operation_add_cancelled(op, "p-3", "recordOperation", 9, 3), 1);
        ck_assert_int_eq(operation_add_cancelled(op, "p-4", NULL, 9, 3), 0);
        ck_assert_uint_eq(op->n_cancelled, 3);

        /* A change record without the member: the list is gone (every record has the whole state). */
        ck_assert_int_eq(restore_text(t, "{\"op\":{" ID ",\"status\":\"completed\",\"updatedUsec\":3}}", NULL), 0);
        ck_assert_uint_eq(op->n_cancelled, 0);
        ck_assert_ptr_null(op->cancelled);

        /* Refused: no id, no time, not an array, not objects. */
        static const char *const bad[] = {
                "{\"op\":{" ID ",\"status\":\"completed\",\"cancelledOperations\":[{\"atUsec\":1}]}}",
                "{\"op\":{" ID ",\"status\":\"completed\",\"cancelledOperations\":[{\"graphOperationId\":\"x\"}]}}",
                "{\"op\":{" ID ",\"status\":\"completed\",\"cancelledOperations\":{}}}",
                "{\"op\":{" ID ",\"status\":\"completed\",\"cancelledOperations\":[1]}}",
                "{\"op\":{" ID ",\"status\":\"completed\",\"cancelledOperations\":[{\"graphOperationId\":\"x\",\"atUsec\":-1}]}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                copy = mfree(copy);
                ck_assert_msg(parse_copy(bad[i], &copy, &rec) == -EBADMSG, "accepted: %s", bad[i]);
        }

        /* More than RECORD_CANCELLED_MAX: the first ones are kept, the rest checked and skipped. */
        size_t size = 0;
        char *big = NULL;
        FILE *f = open_memstream(&big, &size);
        fputs("{\"op\":{" ID ",\"status\":\"completed\",\"cancelledOperations\":[", f);
        for (int i = 0; i < RECORD_CANCELLED_MAX + 5; i++)
                fprintf(f, "%s{\"graphOperationId\":\"g-%d\",\"atUsec\":%d}", i ? "," : "", i, i);
        fputs("]}}", f);
        fclose(f);
        copy = mfree(copy);
        ck_assert_int_eq(parse_copy(big, &copy, &rec), 0);
        ck_assert_uint_eq(rec.n_cancelled, RECORD_CANCELLED_MAX);
        ck_assert_str_eq(rec.cancelled[RECORD_CANCELLED_MAX - 1].graph_operation_id, "g-255");
        free(big);
}
END_TEST

START_TEST(test_restore_full_then_change) {
        _cleanup_(operation_table_freep) OperationTable *t = NULL;
        Operation *op = NULL, *again = NULL;

        ck_assert_int_eq(operation_table_new(1000, RETENTION, &t), 0);
        ck_assert_int_eq(restore_text(t,
                                      "{\"op\":{" ID ",\"callId\":\"" CALL_ID "\",\"clientContext\":\"ctx é\","
                                      "\"uid\":1000,\"all\":true,\"createdUsec\":1795744424281835,"
                                      "\"status\":\"running\",\"graphOperationId\":\"" GRAPH_ID "\","
                                      "\"updatedUsec\":1795744424281900}}",
                                      &op),
                         0);
        ck_assert_ptr_nonnull(op);
        ck_assert_str_eq(op->id, OP_ID);
        ck_assert_str_eq(op->call_id, CALL_ID);
        ck_assert_str_eq(op->client_context, "ctx é");
        ck_assert_uint_eq(op->uid, 1000);
        ck_assert_int_eq(op->all, 1);
        ck_assert_uint_eq(op->created_usec, UINT64_C(1795744424281835));
        ck_assert_uint_eq(op->updated_usec, UINT64_C(1795744424281900));
        ck_assert_int_eq(op->status, OPERATION_RUNNING);
        ck_assert(!op->has_result_info);
        ck_assert_uint_eq(operation_table_total(t), 1);
        ck_assert_uint_eq(operation_table_count(t, OPERATION_RUNNING), 1);
        ck_assert_uint_eq(operation_table_pending_of(t, 1000), 1);
        ck_assert_ptr_eq(operation_table_get(t, OP_ID), op);
        ck_assert_ptr_eq(operation_table_get_by_graph_id(t, GRAPH_ID), op);
        ck_assert_ptr_eq(operation_table_find_pending(t, 1000, NULL, CALL_ID, "ctx é"), op);

        ck_assert_int_eq(restore_text(t,
                                      "{\"op\":{" ID ",\"status\":\"completed\",\"graphOperationId\":\"" GRAPH_ID
                                      "\",\"resultInfo\":{\"code\":200,\"subcode\":3,\"message\":\"done\"},"
                                      "\"completionReason\":\"cancelled\",\"updatedUsec\":1795744424999000}}",
                                      &again),
                         0);
        ck_assert_ptr_eq(again, op);
        ck_assert_int_eq(op->status, OPERATION_COMPLETED);
        ck_assert(op->has_result_info);
        ck_assert_int_eq(op->result_code, 200);
        ck_assert_int_eq(op->result_subcode, 3);
        ck_assert_str_eq(op->result_message, "done");
        ck_assert_str_eq(op->completion_reason, "cancelled");
        ck_assert_uint_eq(op->updated_usec, UINT64_C(1795744424999000));
        /* What the change record leaves out stays as the full record had it. */
        ck_assert_str_eq(op->call_id, CALL_ID);
        ck_assert_str_eq(op->client_context, "ctx é");
        ck_assert_uint_eq(op->uid, 1000);
        ck_assert_int_eq(op->all, 1);
        ck_assert_uint_eq(op->created_usec, UINT64_C(1795744424281835));
        ck_assert_uint_eq(operation_table_total(t), 1);
        ck_assert_uint_eq(operation_table_count(t, OPERATION_RUNNING), 0);
        ck_assert_uint_eq(operation_table_count(t, OPERATION_COMPLETED), 1);
        ck_assert_uint_eq(operation_table_pending_of(t, 1000), 0);
        ck_assert_ptr_null(operation_table_find_pending(t, 1000, NULL, CALL_ID, "ctx é"));
}
END_TEST

/* The tenant: written in full records, read back, part of the dedupe key; a record of an
 * earlier version, without one, is TenantId='s (the table's default tenant); one that could
 * not have been a tenantId is refused, since it would go into the token URL. */
START_TEST(test_restore_tenant) {
        _cleanup_(operation_table_freep) OperationTable *t = NULL;
        Operation *op = NULL, *old = NULL;
        Buffer b = {};
        OperationRecord rec;

        ck_assert_int_eq(operation_table_new(1000, RETENTION, &t), 0);
        ck_assert_int_eq(operation_table_set_default_tenant(t, "home.example"), 0);
        ck_assert_int_eq(restore_text(t,
                                      "{\"op\":{" ID ",\"callId\":\"" CALL_ID "\",\"tenantId\":\"fabrikam.example\","
                                      "\"clientContext\":\"c\",\"uid\":7,\"createdUsec\":1,\"status\":\"running\","
                                      "\"updatedUsec\":2}}",
                                      &op),
                         0);
        ck_assert_str_eq(op->tenant_id, "fabrikam.example");
        ck_assert_ptr_eq(operation_table_find_pending(t, 7, "fabrikam.example", CALL_ID, "c"), op);
        ck_assert_ptr_null(operation_table_find_pending(t, 7, "home.example", CALL_ID, "c"));
        write_record(op, true, &b);
        ck_assert_ptr_nonnull(strstr(b.data, ",\"tenantId\":\"fabrikam.example\","));
        buffer_done(&b);
        ck_assert_int_eq(operation_write_json(op, &b), 0);
        ck_assert_ptr_nonnull(strstr(b.data, "\"callId\":\"" CALL_ID "\",\"tenantId\":\"fabrikam.example\","));
        buffer_done(&b);

        ck_assert_int_eq(restore_text(t,
                                      "{\"op\":{\"id\":\"00000000-0000-4000-8000-000000000002\",\"callId\":\"" CALL_ID
                                      "\",\"clientContext\":\"c\",\"uid\":7,\"createdUsec\":1,\"status\":\"running\","
                                      "\"updatedUsec\":2}}",
                                      &old),
                         0);
        ck_assert_str_eq(old->tenant_id, "home.example");
        ck_assert_ptr_eq(operation_table_find_pending(t, 7, "home.example", CALL_ID, "c"), old);

        _cleanup_free_ char *copy = NULL;
        ck_assert_int_eq(parse_copy("{\"op\":{\"id\":\"00000000-0000-4000-8000-000000000003\",\"callId\":\"x\","
                                    "\"tenantId\":\"a/../b\",\"status\":\"running\"}}",
                                    &copy, &rec),
                         0);
        ck_assert_int_eq(operation_table_restore(t, &rec, NULL), -EBADMSG);
}
END_TEST

START_TEST(test_restore_written_records) {
        _cleanup_(operation_table_freep) OperationTable *t = NULL;
        json_object *data = json_object_new_object(), *v;
        _cleanup_free_ char *expected = NULL;
        Operation src, *op = NULL;
        Buffer b = {};
        OperationRecord rec;

        /* What operation_write_record() makes of an operation restores to the same operation. */
        ck_assert_int_eq(operation_table_new(1000, RETENTION, &t), 0);
        op_init(&src, OP_ID);
        op_set(&src.client_context, "ctx " NASTY);
        src.status = OPERATION_SUBMITTING;
        src.all = 0;
        write_record(&src, true, &b);
        ck_assert_int_eq(record_parse(b.data, b.size, &rec), 0);
        ck_assert_int_eq(operation_table_restore(t, &rec, &op), 0);
        ck_assert_str_eq(op->client_context, "ctx " NASTY);
        ck_assert_int_eq(op->all, 0);
        ck_assert_int_eq(op->status, OPERATION_SUBMITTING);

        json_object_object_add(data, "httpStatus", json_object_new_int(404));
        src.status = OPERATION_FAILED;
        src.error = error_new(ERROR_GRAPH, data, "not found: %s", NASTY);
        op_set(&src.completion_reason, "graphError");
        src.updated_usec++;
        write_record(&src, false, &b);
        expected = xstrdup(b.data);
        ck_assert_int_eq(record_parse(b.data, b.size, &rec), 0);
        ck_assert_int_eq(operation_table_restore(t, &rec, NULL), 0);
        ck_assert_int_eq(op->status, OPERATION_FAILED);
        ck_assert_ptr_nonnull(op->error);
        ck_assert_int_eq(op->error->class, ERROR_GRAPH);
        ck_assert_str_eq(op->error->message, "not found: " NASTY);
        ck_assert(json_object_object_get_ex(op->error->data, "httpStatus", &v));
        ck_assert_int_eq(json_object_get_int(v), 404);
        ck_assert_str_eq(op->completion_reason, "graphError");
        ck_assert_uint_eq(op->updated_usec, src.updated_usec);

        /* And the restored operation writes the same record again. */
        {
                Buffer again = {};
                write_record(op, false, &again);
                ck_assert_str_eq(again.data, expected);
                buffer_done(&again);
        }

        buffer_done(&b);
        op_done(&src);
}
END_TEST

START_TEST(test_restore_change_unknown) {
        _cleanup_(operation_table_freep) OperationTable *t = NULL;
        Operation *op = NULL;

        ck_assert_int_eq(operation_table_new(1000, RETENTION, &t), 0);
        ck_assert_int_eq(restore_text(t, REC(",\"resultInfo\":{\"code\":1}"), &op), -ENOENT);
        ck_assert_ptr_null(op);
        ck_assert_uint_eq(operation_table_total(t), 0);
        ck_assert_ptr_null(operation_table_get(t, OP_ID));

        /* With another operation in the table, still not found. */
        ck_assert_int_eq(restore_text(t, "{\"op\":{\"id\":\"" OP_ID2 "\",\"callId\":\"c\"," ST "}}", &op), 0);
        ck_assert_int_eq(restore_text(t, REC(""), NULL), -ENOENT);
        ck_assert_uint_eq(operation_table_total(t), 1);
        ck_assert_ptr_null(operation_table_get(t, OP_ID));
        ck_assert_int_eq(op->status, OPERATION_QUEUED);
        /* What that full record left out: no clientContext, all and uid as not sent. */
        ck_assert_ptr_null(op->client_context);
        ck_assert_int_eq(op->all, -1);
        ck_assert_uint_eq(op->uid, 0);
}
END_TEST

START_TEST(test_restore_bad_status_and_id) {
        _cleanup_(operation_table_freep) OperationTable *t = NULL;
        Operation *op = NULL;

        ck_assert_int_eq(operation_table_new(1000, RETENTION, &t), 0);
        ck_assert_int_eq(restore_text(t, "{\"op\":{" ID ",\"callId\":\"c\",\"status\":\"bogus\"}}", &op), -EBADMSG);
        ck_assert_int_eq(restore_text(t, "{\"op\":{" ID ",\"callId\":\"c\",\"status\":\"\"}}", &op), -EBADMSG);
        ck_assert_int_eq(restore_text(t, "{\"op\":{" ID ",\"callId\":\"c\",\"status\":\"Completed\"}}", &op),
                         -EBADMSG);
        ck_assert_ptr_null(op);
        ck_assert_uint_eq(operation_table_total(t), 0);

        /* Ids are 36 characters. */
        ck_assert_int_eq(restore_text(t, "{\"op\":{\"id\":\"short\",\"callId\":\"c\"," ST "}}", &op), -EBADMSG);
        ck_assert_int_eq(restore_text(t, "{\"op\":{\"id\":\"" OP_ID "0\",\"callId\":\"c\"," ST "}}", &op), -EBADMSG);
        ck_assert_uint_eq(operation_table_total(t), 0);

        /* A change record with a bogus status leaves the operation alone. */
        ck_assert_int_eq(restore_text(t, "{\"op\":{" ID ",\"callId\":\"c\",\"status\":\"running\"}}", &op), 0);
        ck_assert_int_eq(restore_text(t, "{\"op\":{" ID ",\"status\":\"bogus\"}}", NULL), -EBADMSG);
        ck_assert_int_eq(op->status, OPERATION_RUNNING);
        ck_assert_uint_eq(operation_table_total(t), 1);
        ck_assert_uint_eq(operation_table_count(t, OPERATION_RUNNING), 1);
}
END_TEST

START_TEST(test_restore_whole_state) {
        _cleanup_(operation_table_freep) OperationTable *t = NULL;
        Operation *op = NULL;

        ck_assert_int_eq(operation_table_new(1000, RETENTION, &t), 0);
        ck_assert_int_eq(restore_text(t,
                                      "{\"op\":{" ID ",\"callId\":\"c\",\"status\":\"failed\","
                                      "\"resultInfo\":{\"code\":400,\"subcode\":9,\"message\":\"bad\"},"
                                      "\"completionReason\":\"graphError\","
                                      "\"error\":{\"class\":\"GraphError\",\"message\":\"boom\"}}}",
                                      &op),
                         0);
        ck_assert(op->has_result_info);
        ck_assert_str_eq(op->result_message, "bad");
        ck_assert_ptr_nonnull(op->error);
        ck_assert_str_eq(op->error->message, "boom");
        ck_assert_str_eq(op->completion_reason, "graphError");

        /* The next record leaves them out: they are gone. */
        ck_assert_int_eq(restore_text(t, "{\"op\":{" ID ",\"status\":\"unknown\"}}", NULL), 0);
        ck_assert_int_eq(op->status, OPERATION_UNKNOWN);
        ck_assert(!op->has_result_info);
        ck_assert_ptr_null(op->result_message);
        ck_assert_ptr_null(op->completion_reason);
        ck_assert_ptr_null(op->error);
        ck_assert_str_eq(op->call_id, "c");

        /* A resultInfo without a message drops the earlier message. */
        ck_assert_int_eq(restore_text(t, "{\"op\":{" ID ",\"status\":\"completed\","
                                         "\"resultInfo\":{\"code\":200,\"message\":\"first\"}}}", NULL), 0);
        ck_assert_str_eq(op->result_message, "first");
        ck_assert_int_eq(restore_text(t, "{\"op\":{" ID ",\"status\":\"completed\","
                                         "\"resultInfo\":{\"code\":201}}}", NULL), 0);
        ck_assert(op->has_result_info);
        ck_assert_int_eq(op->result_code, 201);
        ck_assert_int_eq(op->result_subcode, 0);
        ck_assert_ptr_null(op->result_message);
}
END_TEST

/* ---- store_frame, store_crc32 ---- */

static uint32_t crc32_reference(const uint8_t *p, size_t n) {
        uint32_t c = 0xffffffffu;

        for (size_t i = 0; i < n; i++) {
                c ^= p[i];
                for (int k = 0; k < 8; k++)
                        c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
        }
        return c ^ 0xffffffffu;
}

START_TEST(test_crc32) {
        uint8_t data[64];
        uint32_t x = 0x12345678;

        ck_assert_uint_eq(store_crc32("123456789", 9), 0xcbf43926u);
        ck_assert_uint_eq(store_crc32("", 0), 0);
        ck_assert_uint_eq(store_crc32("a", 1), 0xe8b7be43u);
        ck_assert_uint_eq(store_crc32("The quick brown fox jumps over the lazy dog", 43), 0x414fa339u);

        for (size_t i = 0; i < sizeof data; i++) {
                x = x * 1103515245u + 12345u;
                data[i] = (uint8_t) (x >> 16);
        }
        /* Every length around the 8-byte steps, at every alignment. */
        for (size_t off = 0; off < 8; off++)
                for (size_t n = 0; n <= 40; n++)
                        ck_assert_msg(store_crc32(data + off, n) == crc32_reference(data + off, n),
                                      "offset %zu length %zu", off, n);
        /* All bytes set and all clear. */
        memset(data, 0xff, sizeof data);
        for (size_t n = 0; n <= 40; n++)
                ck_assert_uint_eq(store_crc32(data, n), crc32_reference(data, n));
        memset(data, 0, sizeof data);
        for (size_t n = 0; n <= 40; n++)
                ck_assert_uint_eq(store_crc32(data, n), crc32_reference(data, n));
}
END_TEST

START_TEST(test_frame) {
        const char *json = REC(",\"clientContext\":\"é\"");
        size_t n = strlen(json);
        char head[16];
        Buffer b = {};

        ck_assert_int_eq(store_frame(&b, json, n), (int) n + 10);
        ck_assert_uint_eq(b.size, n + 10);
        snprintf(head, sizeof head, "%08x ", store_crc32(json, n));
        ck_assert_int_eq(memcmp(b.data, head, 9), 0);
        for (int i = 0; i < 8; i++)
                ck_assert_msg((b.data[i] >= '0' && b.data[i] <= '9') || (b.data[i] >= 'a' && b.data[i] <= 'f'),
                              "not lower-case hex: %.8s", b.data);
        ck_assert_int_eq(memcmp(b.data + 9, json, n), 0);
        ck_assert(b.data[n + 9] == '\n');

        /* Appended after what is there. */
        {
                static const char known[] = "123456789";
                size_t at = b.size;
                ck_assert_int_eq(store_frame(&b, known, 9), 19);
                ck_assert_int_eq(memcmp(b.data + at, "cbf43926 123456789\n", 19), 0);
                ck_assert_uint_eq(b.size, at + 19);
        }
        {
                /* Find a short text whose CRC has a zero high nibble. */
                char text[8];
                unsigned i = 0;
                for (;; i++) {
                        snprintf(text, sizeof text, "%u", i);
                        if (store_crc32(text, strlen(text)) < 0x10000000u)
                                break;
                }
                size_t at = b.size, len = strlen(text);
                snprintf(head, sizeof head, "%08x ", store_crc32(text, len));
                ck_assert(head[0] == '0');
                ck_assert_int_eq(store_frame(&b, text, len), (int) len + 10);
                ck_assert_int_eq(memcmp(b.data + at, head, 9), 0);
                ck_assert_int_eq(memcmp(b.data + at + 9, text, len), 0);
                ck_assert(b.data[at + 9 + len] == '\n');
        }
        /* An empty record. */
        {
                size_t at = b.size;
                ck_assert_int_eq(store_frame(&b, "", 0), 10);
                ck_assert_int_eq(memcmp(b.data + at, "00000000 \n", 10), 0);
        }
        buffer_done(&b);
}
END_TEST

static Suite *record_suite(void) {
        Suite *s = suite_create("record");
        TCase *tc;

        tc = tcase_create("json-text");
        tcase_add_test(tc, test_string_plain);
        tcase_add_test(tc, test_string_escapes);
        tcase_add_test(tc, test_string_utf8);
        tcase_add_test(tc, test_string_appends);
        tcase_add_test(tc, test_string_round_trip);
        tcase_add_test(tc, test_int);
        tcase_add_test(tc, test_rfc3339_known);
        tcase_add_test(tc, test_rfc3339_cache);
        tcase_add_test(tc, test_text_alone);
        tcase_add_test(tc, test_text_empty_buffer);
        tcase_add_test(tc, test_text_embedded);
        suite_add_tcase(s, tc);

        tc = tcase_create("write-parse");
        tcase_add_test(tc, test_record_full_round_trip);
        tcase_add_test(tc, test_record_minimal_full);
        tcase_add_test(tc, test_record_change);
        tcase_add_test(tc, test_cancelled_operations);
        tcase_add_test(tc, test_record_all_and_status);
        tcase_add_test(tc, test_record_int_limits);
        tcase_add_test(tc, test_record_strings_survive);
        tcase_add_test(tc, test_record_error);
        tcase_add_test(tc, test_old_format);
        tcase_add_test(tc, test_other_order_and_unknown_members);
        tcase_add_test(tc, test_null_members);
        tcase_add_test(tc, test_escapes_decoded);
        tcase_add_test(tc, test_error_kept_as_text);
        tcase_add_test(tc, test_nesting);
        suite_add_tcase(s, tc);

        tc = tcase_create("refusals");
        tcase_add_test(tc, test_refuse_not_object);
        tcase_add_test(tc, test_refuse_trailing);
        tcase_add_test(tc, test_refuse_missing);
        tcase_add_test(tc, test_refuse_types);
        tcase_add_test(tc, test_refuse_control_chars);
        tcase_add_test(tc, test_refuse_bad_escapes);
        tcase_add_test(tc, test_refuse_nul_escape);
        tcase_add_test(tc, test_refuse_surrogates);
        tcase_add_test(tc, test_refuse_invalid_utf8);
        tcase_add_test(tc, test_refuse_numbers);
        suite_add_tcase(s, tc);

        tc = tcase_create("restore");
        tcase_add_test(tc, test_restore_full_then_change);
        tcase_add_test(tc, test_restore_written_records);
        tcase_add_test(tc, test_restore_tenant);
        tcase_add_test(tc, test_restore_change_unknown);
        tcase_add_test(tc, test_restore_bad_status_and_id);
        tcase_add_test(tc, test_restore_whole_state);
        suite_add_tcase(s, tc);

        tc = tcase_create("journal-line");
        tcase_add_test(tc, test_crc32);
        tcase_add_test(tc, test_frame);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(record_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
