/* SPDX-License-Identifier: MIT */
/*
 * operation.h — the operation table: one record per cancel, its state machine, lookups by the
 * daemon's id and by Graph's operation id, listing newest first, and retention of final
 * operations (RetentionSec=, MaxOperations=; pending ones are never dropped). Every change goes
 * through operation_update(), which stamps updatedAt and tells the table's listener once.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errors.h"
#include "graph.h"
#include "record.h"

/* The statuses of an operation, each once: X(enum name, its name in the protocol), in the
 * order of OperationStatus, SEP between two. The enum, the names (operation.c) and the status
 * lists of the rpc.discover schemas (method-specs.c) are made from this list. */
#define OPERATION_STATUSES(X, SEP) \
        X(OPERATION_QUEUED, "queued") SEP \
        X(OPERATION_SUBMITTING, "submitting") SEP \
        X(OPERATION_NOT_STARTED, "notStarted") SEP \
        X(OPERATION_RUNNING, "running") SEP \
        X(OPERATION_COMPLETED, "completed") SEP \
        X(OPERATION_FAILED, "failed") SEP \
        X(OPERATION_UNKNOWN, "unknown")

#define OPERATION_STATUS_ENUM_ENTRY_(id, name) id,

typedef enum OperationStatus {
        OPERATION_STATUSES(OPERATION_STATUS_ENUM_ENTRY_, )
        _OPERATION_STATUS_MAX,
        _OPERATION_STATUS_INVALID = -EINVAL,
} OperationStatus;

const char *operation_status_to_string(OperationStatus s);
OperationStatus operation_status_from_string(const char *s);

/* completed and failed are final; unknown is not (a late notification may still settle it),
 * but nobody waits for it any more. */
static inline bool operation_status_is_final(OperationStatus s) {
        return s == OPERATION_COMPLETED || s == OPERATION_FAILED;
}
static inline bool operation_status_is_settled(OperationStatus s) {
        return operation_status_is_final(s) || s == OPERATION_UNKNOWN;
}

typedef struct OperationTable OperationTable;

/* A prompt or recording that Graph reported cancelled after a cancel on its call was sent
 * (status failed with subcode 8508, or completionReason operationCanceled): the evidence of
 * what the cancel did. type is the resourceData's @odata.type without "#microsoft.graph.". */
typedef struct CancelledOperation {
        char *graph_operation_id;
        char *type; /* NULL when Graph gave none */
        uint64_t at_usec; /* CLOCK_REALTIME, when the daemon learnt it */
} CancelledOperation;

typedef struct Operation {
        char id[37];
        char *call_id;
        char *tenant_id; /* the tenant whose token it is sent with (normalised); NULL: unknown */
        char *client_context;
        char *graph_operation_id;
        char *graph_id_key; /* normalised graph_operation_id, key of the second index */
        char *context_key;  /* caller's uid + "/" + tenant + "/" + normalised callId + "/" + clientContext, key of the third */
        char *call_context_key; /* normalised callId + "/" + clientContext: notifications carry no uid */
        struct Operation *unnamed_prev, *unnamed_next; /* by call_context_key, while Graph has not named it */
        OperationStatus status;
        int all; /* -1 when not sent */
        bool has_result_info;
        int result_code;
        int result_subcode;
        char *result_message;
        char *completion_reason;
        Error *error;
        CancelledOperation *cancelled; /* oldest first, at most MaxCancelledOperations= */
        unsigned n_cancelled;
        uint64_t created_usec; /* CLOCK_REALTIME */
        uint64_t updated_usec;
        uid_t uid;

        OperationTable *table;
        struct Operation *prev, *next; /* creation order */
        uint64_t journal_seq; /* the journal record that created it; 0: restored, already durable */
        void *submission;     /* the Graph request under way, if any (methods.c) */
        void *tracking;   /* timers and listeners (methods.c), freed by the table's destructor */
} Operation;

/* Called after every change of a stored operation. */
typedef void (*operation_changed_t)(Operation *op, void *userdata);
/* Frees op->tracking when an operation leaves the table. */
typedef void (*operation_destroy_t)(Operation *op);

int operation_table_new(unsigned max_operations, uint64_t retention_usec, OperationTable **ret);
OperationTable *operation_table_free(OperationTable *t);
DEFINE_CLEANUP_FUNC(OperationTable *, operation_table_free);
void operation_table_set_limits(OperationTable *t, unsigned max_operations, uint64_t retention_usec);
void operation_table_set_listener(OperationTable *t, operation_changed_t cb, void *userdata);
void operation_table_set_destructor(OperationTable *t, operation_destroy_t destroy);

/* The newest operation of this caller for this tenant, call and clientContext that is not
 * final yet, if any. Per caller: a context such as "ivr-42" is easy to guess, and another
 * uid's cancel with it must neither hide this caller's nor be taken for it. Per tenant: the
 * same cancel with another tenant's token is another request to Graph. */
Operation *operation_table_find_pending(OperationTable *t, uid_t uid, const char *tenant, const char *call_id,
                                        const char *client_context);

/* The newest operation sent with this clientContext, whatever its state and call (a walk). */
Operation *operation_table_find_by_context(OperationTable *t, const char *client_context);

/* The operation a notification about this call and clientContext means when it names a Graph
 * operation id the table does not know: the one operation with this call and context that
 * Graph has not named yet and that is not final. NULL when there is none, or more than one
 * (several callers, or one caller's repeats, used the same context): a guess there could give
 * one caller another's outcome. The call id is compared like Graph's ids (case and dashes do
 * not matter): resourceUrl spells it upper case without dashes. */
Operation *operation_table_find_unnamed(OperationTable *t, const char *call_id, const char *client_context);

/* First and next operation in creation order, for walks over the table. */
Operation *operation_table_first(OperationTable *t);
/* The newest operation (walk back with ->prev). */
Operation *operation_table_last(OperationTable *t);

/* The tenant of restored operations whose records name none (written before tenants were
 * recorded: they were all TenantId='s). Copied; NULL leaves them without one. */
int operation_table_set_default_tenant(OperationTable *t, const char *tenant);

/* Rebuilds (or updates) an operation from a journal record (record.h); no listener is called.
 * -ENOENT for a change record whose operation is not in the table. */
int operation_table_restore(OperationTable *t, const OperationRecord *rec, Operation **ret);

/* Appends op as a full journal record (full=true) or a change record to b, without the
 * journal's CRC framing (record.h). */
int operation_write_record(const Operation *op, bool full, Buffer *b);

/* Creates a queued operation. -ENOBUFS when MaxOperations are stored and none is final. */
int operation_table_add(OperationTable *t, const char *tenant, const char *call_id, const char *client_context,
                        int all, uid_t uid, Operation **ret);

/* By the daemon's id or by Graph's operation id (normalised). */
Operation *operation_table_get(OperationTable *t, const char *id);
/* By Graph's operation id only. */
Operation *operation_table_get_by_graph_id(OperationTable *t, const char *graph_id);

/* Operations newest first, filtered; tenant/call_id/status/uid may be NULL/NULL/-1/-1 (tenant
 * normalised). NULL on OOM. */
json_object *operation_table_list_json(OperationTable *t, const char *tenant, const char *call_id, int status,
                                      int64_t uid, unsigned limit);

/* Operations of this uid that are not settled yet (MaxPendingPerUser=). */
unsigned operation_table_pending_of(OperationTable *t, uid_t uid);

unsigned operation_table_count(OperationTable *t, OperationStatus s);
unsigned operation_table_total(OperationTable *t);
/* NULL when memory ran out. */
json_object *operation_table_counts_json(OperationTable *t);

/* Removes an operation that never reached Graph (refused at admission). */
void operation_table_remove(OperationTable *t, Operation *op);

/* Drops final (and unknown) operations past their retention, oldest first. */
void operation_table_prune(OperationTable *t, uint64_t now_realtime_usec);

void operation_set_status(Operation *op, OperationStatus s);

/* Applies what Graph said (status, ids, resultInfo) to the operation. */
int operation_apply_answer(Operation *op, const GraphAnswer *a);

/* Records that Graph reported graph_id (type may be NULL) cancelled by op. 1 when added, 0
 * when it is recorded already or op has max entries (nothing changed), -ENOMEM. */
int operation_add_cancelled(Operation *op, const char *graph_id, const char *type, uint64_t at_usec, unsigned max);

/* Ends the operation as failed with err (copied). */
int operation_fail(Operation *op, const Error *err);

/* Stamps updatedAt and tells the listener. Call after changing fields directly. */
void operation_changed(Operation *op);

/* The operation as clients see it (docs/protocol.md), as JSON text appended to b, or as a
 * json-c value holding that text (NULL on OOM). */
int operation_write_json(const Operation *op, Buffer *b);
/* The members after "graphOperationId" that say how it ended, each only when set, each with
 * its leading comma: "resultInfo", "completionReason", "error". Shared with the journal. */
int operation_write_outcome(const Operation *op, Buffer *b);
json_object *operation_to_json(const Operation *op);
