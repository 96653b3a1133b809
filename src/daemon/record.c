/* SPDX-License-Identifier: MIT */
/*
 * record.c — see record.h. Writing a record is the operation's own job
 * (operation_write_record() in operation.c); this file reads them. The reader accepts any JSON object (RFC 8259) at the top and in
 * the members it skips, so that a record from an earlier version, or one edited by hand with
 * care, still loads; what it refuses is what the journal's CRC would never let through
 * anyway, and fuzz/fuzz-record.c keeps it honest against everything else.
 */
#include <errno.h>
#include <limits.h>

#include "errors.h"
#include "json-read.h"
#include "json-text.h"
#include "record.h"
#include "validate.h"

/* How deep members the reader does not know may nest. */
#define RECORD_DEPTH_MAX 32

/* ---- reading -------------------------------------------------------------------------- */

static int result_info_member(JsonReader *c, const char *key, void *userdata) {
        OperationRecord *rec = userdata;
        int64_t v;
        int r;

        if (streq(key, "code") || streq(key, "subcode")) {
                if ((r = json_read_int(c, INT_MIN, INT_MAX, &v)) < 0)
                        return r;
                *(streq(key, "code") ? &rec->result_code : &rec->result_subcode) = (int) v;
                return 0;
        }
        if (streq(key, "message"))
                return json_read_string_or_null(c, &rec->result_message);
        return json_skip_value(c, 1);
}

static int cancelled_member(JsonReader *c, const char *key, void *userdata) {
        CancelledRecord *e = userdata;

        if (streq(key, "graphOperationId"))
                return json_read_string(c, true, &e->graph_operation_id);
        if (streq(key, "type"))
                return json_read_string_or_null(c, &e->type);
        if (streq(key, "atUsec"))
                return json_read_int(c, 0, INT64_MAX, &e->at_usec);
        return json_skip_value(c, 2);
}

/* [{"graphOperationId": …, "type": …, "atUsec": …}, …]: each entry needs an id and a time;
 * entries past RECORD_CANCELLED_MAX are checked and skipped. */
static int cancelled_array(JsonReader *c, OperationRecord *rec) {
        int r;

        rec->n_cancelled = 0;
        if (json_take_null(c))
                return 0;
        if (!json_take(c, '['))
                return -EBADMSG;
        if (json_take(c, ']'))
                return 0;
        do {
                json_skip_ws(c);
                if (rec->n_cancelled >= RECORD_CANCELLED_MAX) {
                        if ((r = json_skip_value(c, 1)) < 0)
                                return r;
                        continue;
                }
                CancelledRecord *e = &rec->cancelled[rec->n_cancelled];
                *e = (CancelledRecord) { .at_usec = -1 };
                if (c->p >= c->end || *c->p != '{')
                        return -EBADMSG;
                if ((r = json_read_object(c, cancelled_member, e)) < 0)
                        return r;
                if (!e->graph_operation_id || e->at_usec < 0)
                        return -EBADMSG;
                rec->n_cancelled++;
        } while (json_take(c, ','));
        return json_take(c, ']') ? 0 : -EBADMSG;
}

static int op_member(JsonReader *c, const char *key, void *userdata) {
        OperationRecord *rec = userdata;
        int64_t v;
        int r;

        switch (key[0]) {
        case 'a':
                if (streq(key, "all")) {
                        json_skip_ws(c);
                        if (json_take_literal(c, "true", 4))
                                rec->all = 1;
                        else if (json_take_literal(c, "false", 5))
                                rec->all = 0;
                        else if (json_take_literal(c, "null", 4))
                                rec->all = -1;
                        else
                                return -EBADMSG;
                        return 0;
                }
                break;
        case 'c':
                if (streq(key, "callId"))
                        return json_read_string(c, true, &rec->call_id);
                if (streq(key, "clientContext"))
                        return json_read_string_or_null(c, &rec->client_context);
                if (streq(key, "completionReason"))
                        return json_read_string_or_null(c, &rec->completion_reason);
                if (streq(key, "cancelledOperations"))
                        return cancelled_array(c, rec);
                if (streq(key, "createdUsec")) {
                        if ((r = json_read_int(c, 0, INT64_MAX, &rec->created_usec)) < 0)
                                return r;
                        return 0;
                }
                break;
        case 'e':
                if (streq(key, "error")) {
                        if (json_take_null(c)) {
                                rec->error_json = NULL;
                                return 0;
                        }
                        json_skip_ws(c);
                        char *start = c->p;
                        if (c->p >= c->end || *c->p != '{' || (r = json_skip_value(c, 1)) < 0)
                                return -EBADMSG;
                        rec->error_json = start;
                        rec->error_json_len = (size_t) (c->p - start);
                        return 0;
                }
                break;
        case 'g':
                if (streq(key, "graphOperationId"))
                        return json_read_string_or_null(c, &rec->graph_operation_id);
                break;
        case 'i':
                if (streq(key, "id"))
                        return json_read_string(c, true, &rec->id);
                break;
        case 'r':
                if (streq(key, "resultInfo")) {
                        if (json_take_null(c)) {
                                rec->has_result_info = false;
                                return 0;
                        }
                        rec->has_result_info = true;
                        rec->result_code = rec->result_subcode = 0;
                        rec->result_message = NULL;
                        return json_read_object(c, result_info_member, rec);
                }
                break;
        case 's':
                if (streq(key, "status"))
                        return json_read_string(c, true, &rec->status);
                break;
        case 't':
                if (streq(key, "tenantId"))
                        return json_read_string_or_null(c, &rec->tenant_id);
                break;
        case 'u':
                if (streq(key, "uid")) {
                        if ((r = json_read_int(c, 0, UINT32_MAX - 1, &v)) < 0)
                                return r;
                        rec->has_uid = true;
                        rec->uid = (uid_t) v;
                        return 0;
                }
                if (streq(key, "updatedUsec"))
                        return json_read_int(c, 0, INT64_MAX, &rec->updated_usec);
                break;
        }
        return json_skip_value(c, 1);
}

static int top_member(JsonReader *c, const char *key, void *userdata) {
        if (streq(key, "op")) {
                json_skip_ws(c);
                if (c->p >= c->end || *c->p != '{')
                        return -EBADMSG;
                return json_read_object(c, op_member, userdata);
        }
        return json_skip_value(c, 1);
}

int record_parse(char *text, size_t len, OperationRecord *ret) {
        JsonReader c;

        json_reader_init(&c, text, len, RECORD_DEPTH_MAX);
        int r;

        *ret = (OperationRecord) { .all = -1, .created_usec = -1, .updated_usec = -1 };
        json_skip_ws(&c);
        if (c.p >= c.end || *c.p != '{')
                return -EBADMSG;
        r = json_read_object(&c, top_member, ret);
        if (r < 0)
                return r;
        json_skip_ws(&c);
        if (c.p != c.end || !ret->id || !ret->status)
                return -EBADMSG;
        return 0;
}
