/* SPDX-License-Identifier: MIT */
/*
 * fuzz-record.c — libFuzzer harness for the journal's record format (src/record.c) and what
 * start-up does with a record (operation_table_restore() in src/operation.c): the input is one
 * record's JSON text, as store_load() hands it over once the line's CRC matched, parsed in
 * place by record_parse() from a buffer of exactly its size (so ASan sees any read past it).
 * An accepted record is restored into a fresh operation table; an operation that results is
 * written back as a full and as a change record with operation_write_record(), read again, restored
 * again (the update path), and serialised as clients see it.
 *
 * Invariants checked beyond "no sanitizer report":
 *   - record_parse() returns 0 or -EBADMSG; an accepted text is valid UTF-8 (RFC 8259), has
 *     an id and a status, every string it yields is NUL-terminated inside the text and valid
 *     UTF-8, the error member is an object's text inside the text, and integers are in range;
 *   - operation_table_restore() returns 0, -ENOENT (a change record, nothing added) or
 *     -EBADMSG (nothing added); a restored operation carries what the record said;
 *   - the records written back are strict JSON on one line, valid UTF-8, and parse again to the
 *     same id, status, callId and the rest of the state; restoring them changes nothing;
 *   - the operation as clients see it is strict JSON and valid UTF-8.
 */
#include <errno.h>
#include <stdint.h>

#include "fuzz-util.h"
#include "log.h"
#include "operation.h"
#include "record.h"

#define RETENTION_USEC (UINT64_C(100) * 365 * 24 * 3600 * 1000000)

static bool streq_or_null(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

/* A string record_parse() yields: inside the text, NUL-terminated there, valid UTF-8. */
static void check_string(const char *text, size_t size, const char *s) {
        if (!s)
                return;
        fuzz_assert(s >= text && s < text + size);
        const char *nul = memchr(s, '\0', (size_t) (text + size - s));
        fuzz_assert(nul);
        fuzz_assert(utf8_is_valid(s, (size_t) (nul - s), NULL));
}

/* Strict JSON, whole text, valid UTF-8; raw newlines allowed (they are whitespace). */
static void check_strict_json(const char *s, size_t len) {
        json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH * 4);
        json_object *j;

        fuzz_assert(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        j = json_tokener_parse_ex(tok, s, (int) len);
        fuzz_assert(json_tokener_get_error(tok) == json_tokener_success);
        fuzz_assert(json_tokener_get_parse_end(tok) == len);
        fuzz_assert(json_object_is_type(j, json_type_object));
        json_object_put(j);
        json_tokener_free(tok);
}

static void check_record(const char *text, size_t size, const OperationRecord *rec) {
        fuzz_assert(rec->id && rec->status);
        check_string(text, size, rec->id);
        check_string(text, size, rec->call_id);
        check_string(text, size, rec->client_context);
        check_string(text, size, rec->status);
        check_string(text, size, rec->graph_operation_id);
        check_string(text, size, rec->result_message);
        check_string(text, size, rec->completion_reason);
        if (rec->error_json) {
                fuzz_assert(rec->error_json >= text && rec->error_json_len >= 2 &&
                            rec->error_json_len <= (size_t) (text + size - rec->error_json));
                fuzz_assert(rec->error_json[0] == '{' && rec->error_json[rec->error_json_len - 1] == '}');
                check_strict_json(rec->error_json, rec->error_json_len);
        }
        fuzz_assert(rec->all >= -1 && rec->all <= 1);
        fuzz_assert(!rec->has_uid || rec->uid != (uid_t) -1);
        fuzz_assert(rec->created_usec >= -1 && rec->updated_usec >= -1);
        fuzz_assert(rec->n_cancelled <= RECORD_CANCELLED_MAX);
        for (unsigned i = 0; i < rec->n_cancelled; i++) {
                fuzz_assert(rec->cancelled[i].graph_operation_id && rec->cancelled[i].at_usec >= 0);
                check_string(text, size, rec->cancelled[i].graph_operation_id);
                check_string(text, size, rec->cancelled[i].type);
        }
}

/* The same cancelledOperations in an operation and a record. */
static void check_cancelled(const Operation *op, const OperationRecord *rec) {
        fuzz_assert(op->n_cancelled == rec->n_cancelled);
        for (unsigned i = 0; i < rec->n_cancelled; i++) {
                fuzz_assert(strcmp(op->cancelled[i].graph_operation_id, rec->cancelled[i].graph_operation_id) == 0);
                fuzz_assert(streq_or_null(op->cancelled[i].type, rec->cancelled[i].type));
                fuzz_assert(op->cancelled[i].at_usec == (uint64_t) rec->cancelled[i].at_usec);
        }
}

/* What a restored operation must carry of the record it came from. */
static void check_restored(const Operation *op, const OperationRecord *rec) {
        fuzz_assert(strcmp(op->id, rec->id) == 0);
        fuzz_assert(strcmp(operation_status_to_string(op->status), rec->status) == 0);
        if (rec->call_id) {
                fuzz_assert(strcmp(op->call_id, rec->call_id) == 0);
                fuzz_assert(op->all == rec->all);
                fuzz_assert(op->uid == (rec->has_uid ? rec->uid : 0));
        }
        if (rec->updated_usec >= 0)
                fuzz_assert(op->updated_usec == (uint64_t) rec->updated_usec);
        fuzz_assert(op->has_result_info == rec->has_result_info);
        if (rec->has_result_info) {
                fuzz_assert(op->result_code == rec->result_code && op->result_subcode == rec->result_subcode);
                fuzz_assert(streq_or_null(op->result_message, rec->result_message));
        } else
                fuzz_assert(!op->result_message);
        fuzz_assert(streq_or_null(op->completion_reason, rec->completion_reason));
        if (!rec->error_json)
                fuzz_assert(!op->error);
        if (rec->graph_operation_id)
                fuzz_assert(streq_or_null(op->graph_operation_id, rec->graph_operation_id));
        check_cancelled(op, rec);
}

/* Writes op as a record, checks the text, parses it again from an exact-size copy. */
static void check_written(OperationTable *t, Operation *op, bool full) {
        Buffer b = {};
        OperationRecord rec;
        Operation *again = NULL;
        char *copy;
        int r;

        fuzz_assert(operation_write_record(op, full, &b) == 0);
        json_object_put(fuzz_parse_reply_line(b.data, b.size));

        copy = malloc(b.size);
        fuzz_assert(copy);
        memcpy(copy, b.data, b.size);
        r = record_parse(copy, b.size, &rec);
        fuzz_assert(r == 0);
        check_record(copy, b.size, &rec);
        fuzz_assert(strcmp(rec.id, op->id) == 0);
        fuzz_assert(strcmp(rec.status, operation_status_to_string(op->status)) == 0);
        fuzz_assert(full == !!rec.call_id);
        if (full) {
                fuzz_assert(strcmp(rec.call_id, op->call_id) == 0);
                fuzz_assert(streq_or_null(rec.client_context, op->client_context));
                fuzz_assert(rec.has_uid && rec.uid == op->uid);
                fuzz_assert(rec.all == op->all);
                fuzz_assert(rec.created_usec >= 0 && (uint64_t) rec.created_usec == op->created_usec);
        } else
                fuzz_assert(!rec.client_context && !rec.has_uid && rec.all == -1 && rec.created_usec == -1);
        fuzz_assert(streq_or_null(rec.graph_operation_id, op->graph_operation_id));
        fuzz_assert(rec.has_result_info == op->has_result_info);
        if (rec.has_result_info)
                fuzz_assert(rec.result_code == op->result_code && rec.result_subcode == op->result_subcode &&
                            streq_or_null(rec.result_message, op->result_message));
        fuzz_assert(streq_or_null(rec.completion_reason, op->completion_reason));
        fuzz_assert(!!rec.error_json == !!op->error);
        fuzz_assert(rec.updated_usec >= 0 && (uint64_t) rec.updated_usec == op->updated_usec);
        check_cancelled(op, &rec);

        /* Restoring what the operation itself wrote finds it and leaves it as it was. */
        unsigned total = operation_table_total(t);
        OperationStatus status = op->status;
        r = operation_table_restore(t, &rec, &again);
        fuzz_assert(r == 0);
        fuzz_assert(again == op);
        fuzz_assert(op->status == status && operation_table_total(t) == total);
        fuzz_assert(operation_table_count(t, status) == 1);
        check_restored(op, &rec);

        free(copy);
        buffer_done(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(operation_table_freep) OperationTable *t = NULL;
        OperationRecord rec;
        Operation *op = NULL;
        char *text;
        int r;

        log_set_max_level(LOG_EMERG);

        /* Exactly the input's size (one byte for an empty input, so the pointer is not NULL). */
        text = malloc(size > 0 ? size : 1);
        fuzz_assert(text);
        memcpy(text, data, size);

        r = record_parse(text, size, &rec);
        fuzz_assert(r == 0 || r == -EBADMSG);
        if (r < 0) {
                free(text);
                return 0;
        }
        fuzz_assert(utf8_is_valid((const char *) data, size, NULL));
        check_record(text, size, &rec);

        fuzz_assert(operation_table_new(16, RETENTION_USEC, &t) == 0);
        r = operation_table_restore(t, &rec, &op);
        fuzz_assert(r == 0 || r == -ENOENT || r == -EBADMSG);
        if (r == -ENOENT)
                fuzz_assert(!rec.call_id);
        if (r < 0) {
                fuzz_assert(operation_table_total(t) == 0);
                free(text);
                return 0;
        }
        fuzz_assert(op);
        fuzz_assert(operation_table_total(t) == 1 && operation_table_get(t, rec.id) == op);
        check_restored(op, &rec);

        check_written(t, op, true);
        check_written(t, op, false);

        /* The operation as clients see it. */
        json_object *j = operation_to_json(op);
        size_t n;
        const char *s = json_object_to_json_string_length(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        fuzz_assert(s);
        json_object_put(fuzz_parse_reply_line(s, n));
        json_object_put(j);

        free(text);
        return 0;
}
