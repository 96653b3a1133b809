/* SPDX-License-Identifier: MIT */
/*
 * record.h — the journal's record format: one operation as one JSON object, written straight
 * into a buffer (no json-c tree; operation_write_record()) and read back by a small purpose-built reader that decodes
 * strings in place. Both sit on the hot paths (two records per cancel) and on start-up
 * (every record is read before READY=1), where building json-c trees cost most of the time.
 *
 * A record is {"op":{...}}. A *full* record carries everything: "id", "callId", "tenantId",
 * "clientContext", "uid", "all", "createdUsec" (fixed when the operation is created) and the
 * state. A *change* record carries "id" and the state only. The state is "status",
 * "graphOperationId", "resultInfo", "completionReason", "error", "cancelledOperations"
 * ([{"graphOperationId", "type", "atUsec"}, …]) and "updatedUsec"; a record
 * always carries the whole state, an absent member meaning null. Records written by earlier
 * versions (every record full, plus "createdAt"/"updatedAt" strings) read the same way:
 * members the reader does not know are skipped. A full record without "tenantId" (earlier
 * versions served one tenant) is TenantId='s (operation_table_set_default_tenant()).
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* The most entries of "cancelledOperations" a record keeps (and MaxCancelledOperations= may
 * ask for); more in a record are skipped. */
#define RECORD_CANCELLED_MAX 256

typedef struct CancelledRecord {
        const char *graph_operation_id;
        const char *type; /* NULL: absent */
        int64_t at_usec;
} CancelledRecord;

/* What one record says. Strings point into the text given to record_parse() (decoded in
 * place) and live as long as it does; absent members are NULL / false / -1. */
typedef struct OperationRecord {
        const char *id;
        const char *call_id; /* non-NULL: a full record */
        const char *tenant_id; /* NULL in records written before tenants were recorded */
        const char *client_context;
        bool has_uid;
        uid_t uid;
        int all; /* -1: absent */
        int64_t created_usec; /* -1: absent */
        const char *status;
        const char *graph_operation_id;
        bool has_result_info;
        int result_code;
        int result_subcode;
        const char *result_message;
        const char *completion_reason;
        const char *error_json; /* the "error" object's text, not NUL-terminated */
        size_t error_json_len;
        int64_t updated_usec; /* -1: absent */
        unsigned n_cancelled; /* "cancelledOperations": what Graph reported cancelled by it */
        CancelledRecord cancelled[RECORD_CANCELLED_MAX];
} OperationRecord;

/* Reads one record. text is modified (strings are decoded in place). -EBADMSG when it is
 * not a JSON object of the form above (the members it knows must have their types). */
int record_parse(char *text, size_t len, OperationRecord *ret);
