/* SPDX-License-Identifier: MIT */
/*
 * operation.c — see operation.h. Operations live on one list in creation order (so listing
 * newest first and pruning oldest first are walks, not sorts) and in two hash indexes.
 */
#include <errno.h>
#include <json-c/linkhash.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "json-text.h"
#include "operation.h"
#include "util.h"
#include "validate.h"
#include "json-util.h"

struct OperationTable {
        struct lh_table *by_id;
        struct lh_table *by_graph_id;
        Operation *head, *tail; /* oldest … newest */
        unsigned counts[_OPERATION_STATUS_MAX];
        unsigned total;
        unsigned max_operations;
        uint64_t retention_usec;
        operation_changed_t listener;
        void *listener_userdata;
        operation_destroy_t destroy;
        struct lh_table *by_context; /* context_key (uid + call + clientContext) → newest operation with it */
        struct lh_table *unnamed;    /* call_context_key → newest of its operations without a Graph id */
        struct lh_table *pending_by_uid; /* uid+1 → number of operations not settled */
        char *default_tenant;
};

static void pending_adjust(OperationTable *t, uid_t uid, int delta) {
        const void *key = (const void *) ((uintptr_t) uid + 1);
        void *v = NULL;
        intptr_t n = 0;

        if (lh_table_lookup_ex(t->pending_by_uid, key, &v))
                n = (intptr_t) v;
        n += delta;
        if (n <= 0)
                (void) lh_table_delete(t->pending_by_uid, key);
        else if (v)
                lh_table_lookup_entry(t->pending_by_uid, key)->v = (const void *) n;
        else
                (void) lh_table_insert(t->pending_by_uid, key, (const void *) n);
}

unsigned operation_table_pending_of(OperationTable *t, uid_t uid) {
        void *v = NULL;

        if (lh_table_lookup_ex(t->pending_by_uid, (const void *) ((uintptr_t) uid + 1), &v))
                return (unsigned) (intptr_t) v;
        return 0;
}

#define STATUS_NAME_ENTRY(id, name) [id] = name,
static const char *const status_names[_OPERATION_STATUS_MAX] = { OPERATION_STATUSES(STATUS_NAME_ENTRY, ) };

const char *operation_status_to_string(OperationStatus s) {
        return s >= 0 && s < _OPERATION_STATUS_MAX ? status_names[s] : "unknown";
}

OperationStatus operation_status_from_string(const char *s) {
        for (int i = 0; s && i < _OPERATION_STATUS_MAX; i++)
                if (streq(s, status_names[i]))
                        return (OperationStatus) i;
        return _OPERATION_STATUS_INVALID;
}

int operation_table_new(unsigned max_operations, uint64_t retention_usec, OperationTable **ret) {
        OperationTable *t = calloc(1, sizeof *t);

        if (!t)
                return -ENOMEM;
        t->by_id = lh_kchar_table_new(1024, NULL);
        t->by_graph_id = lh_kchar_table_new(1024, NULL);
        t->by_context = lh_kchar_table_new(1024, NULL);
        t->unnamed = lh_kchar_table_new(1024, NULL);
        t->pending_by_uid = lh_kptr_table_new(64, NULL);
        if (!t->by_id || !t->by_graph_id || !t->by_context || !t->unnamed || !t->pending_by_uid) {
                operation_table_free(t);
                return -ENOMEM;
        }
        t->max_operations = max_operations;
        t->retention_usec = retention_usec;
        *ret = t;
        return 0;
}

static void cancelled_clear(Operation *op) {
        for (unsigned i = 0; i < op->n_cancelled; i++) {
                free(op->cancelled[i].graph_operation_id);
                free(op->cancelled[i].type);
        }
        op->cancelled = mfree(op->cancelled);
        op->n_cancelled = 0;
}

int operation_add_cancelled(Operation *op, const char *graph_id, const char *type, uint64_t at_usec, unsigned max) {
        _cleanup_free_ char *key = id_normalize(graph_id), *id = NULL, *t = NULL;
        CancelledOperation *n;

        if (!key)
                return -ENOMEM;
        /* Graph may send the same notification twice: one entry per operation. */
        for (unsigned i = 0; i < op->n_cancelled; i++) {
                _cleanup_free_ char *k = id_normalize(op->cancelled[i].graph_operation_id);
                if (!k)
                        return -ENOMEM;
                if (streq(k, key))
                        return 0;
        }
        if (op->n_cancelled >= max)
                return 0;
        id = strdup(graph_id);
        t = type ? strdup(type) : NULL;
        if (!id || (type && !t))
                return -ENOMEM;
        n = realloc(op->cancelled, (op->n_cancelled + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        op->cancelled = n;
        n[op->n_cancelled++] = (CancelledOperation) { .graph_operation_id = TAKE_PTR(id), .type = TAKE_PTR(t), .at_usec = at_usec };
        return 1;
}

/* ",\"cancelledOperations\":[…]" when there is any; the journal has atUsec, clients at. */
static int write_cancelled(const Operation *op, bool record, Buffer *b) {
        if (op->n_cancelled == 0)
                return 0;
        TRY(json_write_literal(b, ",\"cancelledOperations\":["));
        for (unsigned i = 0; i < op->n_cancelled; i++) {
                const CancelledOperation *e = &op->cancelled[i];
                if (i > 0)
                        TRY(json_write_literal(b, ","));
                TRY(json_write_literal(b, "{\"graphOperationId\":"));
                TRY(json_write_string(b, e->graph_operation_id));
                TRY(json_write_literal(b, ",\"type\":"));
                TRY(json_write_string(b, e->type));
                if (record) {
                        TRY(json_write_literal(b, ",\"atUsec\":"));
                        TRY(json_write_int(b, (int64_t) e->at_usec));
                } else {
                        TRY(json_write_literal(b, ",\"at\":"));
                        TRY(json_write_rfc3339(b, e->at_usec));
                }
                TRY(json_write_literal(b, "}"));
        }
        return json_write_literal(b, "]");
}

static void operation_free(Operation *op) {
        if (op->tracking && op->table && op->table->destroy)
                op->table->destroy(op);
        free(op->call_id);
        free(op->tenant_id);
        free(op->client_context);
        free(op->context_key);
        free(op->call_context_key);
        free(op->graph_operation_id);
        free(op->graph_id_key);
        free(op->result_message);
        free(op->completion_reason);
        error_free(op->error);
        cancelled_clear(op);
        free(op);
}

/* by_graph_id and by_context map a key to one operation, the newest that has it. json-c's
 * lh_table_insert() does not replace an existing key: it adds a second entry, and lookups and
 * deletes then find whichever comes first. The other entry outlived its operation, and the
 * next lookup probing past it compared against its freed key (use after free, found by
 * fuzz-graph-answer). So: replace explicitly, and delete only an entry that is op's own. An
 * older operation with the same key is no longer found by it. */
static int index_put(struct lh_table *index, const char *key, Operation *op) {
        (void) lh_table_delete(index, key);
        return lh_table_insert(index, key, op);
}

static void index_drop(struct lh_table *index, const char *key, const Operation *op) {
        void *v = NULL;

        if (key && lh_table_lookup_ex(index, key, &v) && v == op)
                (void) lh_table_delete(index, key);
}

static void context_index_drop(OperationTable *t, Operation *op) {
        index_drop(t->by_context, op->context_key, op);
}

/* The unnamed index keeps, per call and context, a list of the operations Graph has not named
 * yet, newest first; the table entry points at the newest and uses its key string, so it is
 * re-keyed when that one leaves. */
static int unnamed_link(OperationTable *t, Operation *op) {
        void *v = NULL;

        if (!op->call_context_key)
                return 0;
        if (lh_table_lookup_ex(t->unnamed, op->call_context_key, &v)) {
                Operation *head = v;
                (void) lh_table_delete(t->unnamed, op->call_context_key);
                op->unnamed_next = head;
                head->unnamed_prev = op;
        }
        if (lh_table_insert(t->unnamed, op->call_context_key, op) < 0) {
                /* Put the old head back (its entry was just freed, so this cannot need memory
                 * beyond what the table has) and leave op out of the index. */
                if (op->unnamed_next) {
                        op->unnamed_next->unnamed_prev = NULL;
                        (void) lh_table_insert(t->unnamed, op->unnamed_next->call_context_key, op->unnamed_next);
                        op->unnamed_next = NULL;
                }
                return -ENOMEM;
        }
        return 0;
}

static void unnamed_unlink(OperationTable *t, Operation *op) {
        void *v = NULL;

        if (!op->call_context_key)
                return;
        if (op->unnamed_prev)
                op->unnamed_prev->unnamed_next = op->unnamed_next;
        else if (lh_table_lookup_ex(t->unnamed, op->call_context_key, &v) && v == op) {
                (void) lh_table_delete(t->unnamed, op->call_context_key);
                /* Re-inserting under the next one's key reuses the slot just freed. */
                if (op->unnamed_next)
                        (void) lh_table_insert(t->unnamed, op->unnamed_next->call_context_key, op->unnamed_next);
        }
        if (op->unnamed_next)
                op->unnamed_next->unnamed_prev = op->unnamed_prev;
        op->unnamed_prev = op->unnamed_next = NULL;
}

static void operation_remove(OperationTable *t, Operation *op) {
        context_index_drop(t, op);
        if (!op->graph_operation_id)
                unnamed_unlink(t, op);
        (void) lh_table_delete(t->by_id, op->id);
        index_drop(t->by_graph_id, op->graph_id_key, op);
        if (op->prev)
                op->prev->next = op->next;
        else
                t->head = op->next;
        if (op->next)
                op->next->prev = op->prev;
        else
                t->tail = op->prev;
        t->counts[op->status]--;
        t->total--;
        if (!operation_status_is_settled(op->status))
                pending_adjust(t, op->uid, -1);
        operation_free(op);
}

void operation_table_remove(OperationTable *t, Operation *op) {
        operation_remove(t, op);
}

OperationTable *operation_table_free(OperationTable *t) {
        if (!t)
                return NULL;
        while (t->head) {
                Operation *op = t->head;
                t->head = op->next;
                operation_free(op);
        }
        if (t->by_id)
                lh_table_free(t->by_id);
        if (t->by_graph_id)
                lh_table_free(t->by_graph_id);
        if (t->by_context)
                lh_table_free(t->by_context);
        if (t->unnamed)
                lh_table_free(t->unnamed);
        if (t->pending_by_uid)
                lh_table_free(t->pending_by_uid);
        free(t->default_tenant);
        free(t);
        return NULL;
}

void operation_table_set_limits(OperationTable *t, unsigned max_operations, uint64_t retention_usec) {
        t->max_operations = max_operations;
        t->retention_usec = retention_usec;
}

void operation_table_set_destructor(OperationTable *t, operation_destroy_t destroy) {
        t->destroy = destroy;
}

Operation *operation_table_first(OperationTable *t) {
        return t->head;
}

Operation *operation_table_last(OperationTable *t) {
        return t->tail;
}

/* The same clientContext may be used on many calls (a tag like "ivr-42"): both keys are per
 * call, or a newer cancel on another call would hide a pending one from dedupe and from
 * notification matching. The dedupe key is also per caller (operation_table_find_pending()). */
static char *call_context_key_new(const char *call_id, const char *client_context) {
        _cleanup_free_ char *call = id_normalize(call_id);
        char *key;

        if (!call || asprintf(&key, "%s/%s", call, client_context) < 0)
                return NULL;
        return key;
}

/* Tenant names hold no "/" (tenant_id_is_valid()), so the key cannot be ambiguous. */
static char *context_key_new(uid_t uid, const char *tenant, const char *call_id, const char *client_context) {
        _cleanup_free_ char *call = id_normalize(call_id);
        char *key;

        if (!call || asprintf(&key, "%u/%s/%s/%s", (unsigned) uid, strempty(tenant), call, client_context) < 0)
                return NULL;
        return key;
}

/* Both context keys, or -ENOMEM with neither. */
static int operation_set_context_keys(Operation *op, const char *call_id, const char *client_context) {
        if (!client_context)
                return 0;
        op->context_key = context_key_new(op->uid, op->tenant_id, call_id, client_context);
        op->call_context_key = call_context_key_new(call_id, client_context);
        if (!op->context_key || !op->call_context_key) {
                op->context_key = mfree(op->context_key);
                op->call_context_key = mfree(op->call_context_key);
                return -ENOMEM;
        }
        return 0;
}

Operation *operation_table_find_by_context(OperationTable *t, const char *client_context) {
        for (Operation *op = client_context ? t->tail : NULL; op; op = op->prev)
                if (streq_ptr(op->client_context, client_context))
                        return op;
        return NULL;
}

Operation *operation_table_find_unnamed(OperationTable *t, const char *call_id, const char *client_context) {
        _cleanup_free_ char *key = NULL;
        Operation *found = NULL;
        void *v = NULL;

        if (!call_id || !client_context || !(key = call_context_key_new(call_id, client_context)) ||
            !lh_table_lookup_ex(t->unnamed, key, &v))
                return NULL;
        for (Operation *op = v; op; op = op->unnamed_next) {
                if (operation_status_is_final(op->status))
                        continue;
                if (found)
                        return NULL; /* ambiguous */
                found = op;
        }
        return found;
}

Operation *operation_table_find_pending(OperationTable *t, uid_t uid, const char *tenant, const char *call_id,
                                        const char *client_context) {
        _cleanup_free_ char *key = NULL;
        void *v = NULL;

        if (!call_id || !client_context || !(key = context_key_new(uid, tenant, call_id, client_context)) ||
            !lh_table_lookup_ex(t->by_context, key, &v))
                return NULL;
        Operation *op = v;
        if (operation_status_is_final(op->status))
                return NULL;
        return op;
}

void operation_table_set_listener(OperationTable *t, operation_changed_t cb, void *userdata) {
        t->listener = cb;
        t->listener_userdata = userdata;
}

/* Drops the oldest settled operation to make room; false when every stored one is pending. */
static bool drop_oldest_settled(OperationTable *t) {
        for (Operation *op = t->head; op; op = op->next)
                if (operation_status_is_settled(op->status) && !op->submission) {
                        operation_remove(t, op);
                        return true;
                }
        return false;
}

void operation_table_prune(OperationTable *t, uint64_t now) {
        Operation *op = t->head;

        while (op) {
                Operation *next = op->next;
                if (operation_status_is_settled(op->status) && !op->submission &&
                    (t->total > t->max_operations || op->updated_usec + t->retention_usec <= now))
                        operation_remove(t, op);
                op = next;
        }
}

static int table_link(OperationTable *t, Operation *op) {
        if (lh_table_insert(t->by_id, op->id, op) < 0)
                return -ENOMEM;
        if (op->context_key && index_put(t->by_context, op->context_key, op) < 0) {
                (void) lh_table_delete(t->by_id, op->id);
                return -ENOMEM;
        }
        if (!op->graph_operation_id && unnamed_link(t, op) < 0) {
                context_index_drop(t, op);
                (void) lh_table_delete(t->by_id, op->id);
                return -ENOMEM;
        }
        op->prev = t->tail;
        if (t->tail)
                t->tail->next = op;
        else
                t->head = op;
        t->tail = op;
        t->counts[op->status]++;
        t->total++;
        if (!operation_status_is_settled(op->status))
                pending_adjust(t, op->uid, +1);
        return 0;
}

int operation_table_set_default_tenant(OperationTable *t, const char *tenant) {
        return free_and_strdup(&t->default_tenant, tenant);
}

int operation_table_add(OperationTable *t, const char *tenant, const char *call_id, const char *client_context,
                        int all, uid_t uid, Operation **ret) {
        Operation *op;
        int r;

        if (t->total >= t->max_operations && !drop_oldest_settled(t))
                return -ENOBUFS;

        op = calloc(1, sizeof *op);
        if (!op)
                return -ENOMEM;
        r = uuid_random(op->id);
        if (r < 0) {
                free(op);
                return r;
        }
        op->uid = uid;
        op->call_id = strdup(call_id);
        op->tenant_id = tenant ? strdup(tenant) : NULL;
        op->client_context = client_context ? strdup(client_context) : NULL;
        if (!op->call_id || (tenant && !op->tenant_id) || (client_context && !op->client_context) ||
            operation_set_context_keys(op, call_id, client_context) < 0) {
                operation_free(op);
                return -ENOMEM;
        }
        op->all = all;
        op->status = OPERATION_QUEUED;
        op->created_usec = op->updated_usec = now_usec(CLOCK_REALTIME);
        op->table = t;

        r = table_link(t, op);
        if (r < 0) {
                operation_free(op);
                return r;
        }
        *ret = op;
        return 0;
}

Operation *operation_table_get(OperationTable *t, const char *id) {
        void *v = NULL;
        _cleanup_free_ char *key = NULL;

        if (lh_table_lookup_ex(t->by_id, id, &v))
                return v;
        key = id_normalize(id);
        if (key && lh_table_lookup_ex(t->by_graph_id, key, &v))
                return v;
        return NULL;
}

Operation *operation_table_get_by_graph_id(OperationTable *t, const char *graph_id) {
        _cleanup_free_ char *key = id_normalize(graph_id);
        void *v = NULL;

        if (key && lh_table_lookup_ex(t->by_graph_id, key, &v))
                return v;
        return NULL;
}

json_object *operation_table_list_json(OperationTable *t, const char *tenant, const char *call_id, int status,
                                      int64_t uid, unsigned limit) {
        _cleanup_json_ json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (Operation *op = t->tail; op && json_object_array_length(a) < limit; op = op->prev) {
                if (uid >= 0 && op->uid != (uid_t) uid)
                        continue;
                if (call_id && !streq(op->call_id, call_id))
                        continue;
                if (tenant && !streq_ptr(op->tenant_id, tenant))
                        continue;
                if (status >= 0 && (int) op->status != status)
                        continue;
                if (json_element_append(a, operation_to_json(op)) < 0)
                        return NULL;
        }
        return TAKE_PTR(a);
}

unsigned operation_table_count(OperationTable *t, OperationStatus s) {
        return t->counts[s];
}

unsigned operation_table_total(OperationTable *t) {
        return t->total;
}

json_object *operation_table_counts_json(OperationTable *t) {
        _cleanup_json_ json_object *j = json_object_new_object();

        if (json_member_add(j, "total", json_object_new_int64(t->total)) < 0)
                return NULL;
        for (int i = 0; i < _OPERATION_STATUS_MAX; i++)
                if (json_member_add(j, status_names[i], json_object_new_int64(t->counts[i])) < 0)
                        return NULL;
        return TAKE_PTR(j);
}

void operation_changed(Operation *op) {
        op->updated_usec = now_usec(CLOCK_REALTIME);
        if (op->table && op->table->listener)
                op->table->listener(op, op->table->listener_userdata);
}

void operation_set_status(Operation *op, OperationStatus s) {
        if (op->status == s)
                return;
        if (operation_status_is_settled(op->status) != operation_status_is_settled(s))
                pending_adjust(op->table, op->uid, operation_status_is_settled(s) ? -1 : +1);
        op->table->counts[op->status]--;
        op->status = s;
        op->table->counts[s]++;
}

static int set_graph_id(Operation *op, const char *id) {
        OperationTable *t = op->table;
        char *copy, *key;

        if (streq_ptr(op->graph_operation_id, id))
                return 0;
        copy = strdup(id);
        key = id_normalize(id);
        if (!copy || !key) {
                free(copy);
                free(key);
                return -ENOMEM;
        }
        index_drop(t->by_graph_id, op->graph_id_key, op);
        if (!op->graph_operation_id)
                unnamed_unlink(t, op); /* named now: notifications find it by this id */
        free(op->graph_operation_id);
        free(op->graph_id_key);
        op->graph_operation_id = copy;
        op->graph_id_key = key;
        /* A daemon id can never look like a Graph id of another operation: both are UUIDs and
         * collisions are not a concern; a repeated Graph id points at the newest operation. */
        if (index_put(t->by_graph_id, op->graph_id_key, op) < 0)
                return -ENOMEM;
        return 0;
}

int operation_apply_answer(Operation *op, const GraphAnswer *a) {
        int r;

        if (a->operation_id && (!op->graph_operation_id || !operation_status_is_final(op->status)) &&
            (r = set_graph_id(op, a->operation_id)) < 0)
                return r;
        /* A final state is final: a late or reordered answer (the cancel's own reply arriving
         * after the completion notification) must not move it back. */
        if (operation_status_is_final(op->status))
                return 0;
        if (a->has_result_info) {
                char *m = a->result_message ? strdup(a->result_message) : NULL;
                if (a->result_message && !m)
                        return -ENOMEM;
                free(op->result_message);
                op->result_message = m;
                op->has_result_info = true;
                op->result_code = a->result_code;
                op->result_subcode = a->result_subcode;
        }
        if (a->completion_reason) {
                char *c = strdup(a->completion_reason);
                if (!c)
                        return -ENOMEM;
                free(op->completion_reason);
                op->completion_reason = c;
        }
        switch (a->status) {
        case GRAPH_OP_NOT_STARTED:
                operation_set_status(op, OPERATION_NOT_STARTED);
                break;
        case GRAPH_OP_RUNNING:
                operation_set_status(op, OPERATION_RUNNING);
                break;
        case GRAPH_OP_COMPLETED:
                operation_set_status(op, OPERATION_COMPLETED);
                break;
        case GRAPH_OP_FAILED:
                operation_set_status(op, OPERATION_FAILED);
                break;
        case GRAPH_OP_NONE:
                /* 202/204 without a body: accepted, outcome to be told later. */
                if (!operation_status_is_settled(op->status))
                        operation_set_status(op, OPERATION_NOT_STARTED);
                break;
        }
        return 0;
}

int operation_fail(Operation *op, const Error *err) {
        Error *e = error_copy(err);

        if (!e)
                return -ENOMEM;
        error_free(op->error);
        op->error = e;
        operation_set_status(op, OPERATION_FAILED);
        return 0;
}

int operation_write_outcome(const Operation *op, Buffer *b) {
        int r = 0;

        if (op->has_result_info) {
                if ((r = json_write_literal(b, ",\"resultInfo\":{\"code\":")) < 0 ||
                    (r = json_write_int(b, op->result_code)) < 0 || (r = json_write_literal(b, ",\"subcode\":")) < 0 ||
                    (r = json_write_int(b, op->result_subcode)) < 0 || (r = json_write_literal(b, ",\"message\":")) < 0 ||
                    (r = json_write_string(b, op->result_message)) < 0 || (r = json_write_literal(b, "}")) < 0)
                        return r;
        }
        if (op->completion_reason &&
            ((r = json_write_literal(b, ",\"completionReason\":")) < 0 || (r = json_write_string(b, op->completion_reason)) < 0))
                return r;
        if (op->error && ((r = json_write_literal(b, ",\"error\":")) < 0 || (r = error_write_operation_json(op->error, b)) < 0))
                return r;
        return 0;
}

int operation_write_json(const Operation *op, Buffer *b) {
        TRY(json_write_literal(b, "{\"id\":"));
        TRY(json_write_string(b, op->id));
        TRY(json_write_literal(b, ",\"callId\":"));
        TRY(json_write_string(b, op->call_id));
        TRY(json_write_literal(b, ",\"tenantId\":"));
        TRY(json_write_string(b, op->tenant_id));
        TRY(json_write_literal(b, ",\"clientContext\":"));
        TRY(json_write_string(b, op->client_context));
        TRY(json_write_literal(b, ",\"status\":"));
        TRY(json_write_string(b, operation_status_to_string(op->status)));
        TRY(json_write_literal(b, ",\"graphOperationId\":"));
        TRY(json_write_string(b, op->graph_operation_id));
        if (op->all >= 0)
                TRY(op->all ? json_write_literal(b, ",\"all\":true") : json_write_literal(b, ",\"all\":false"));
        TRY(operation_write_outcome(op, b));
        TRY(write_cancelled(op, false, b));
        TRY(json_write_literal(b, ",\"createdAt\":"));
        TRY(json_write_rfc3339(b, op->created_usec));
        TRY(json_write_literal(b, ",\"updatedAt\":"));
        TRY(json_write_rfc3339(b, op->updated_usec));
        TRY(json_write_literal(b, "}"));
        return 0;
}

json_object *operation_to_json(const Operation *op) {
        Buffer b = {};

        if (operation_write_json(op, &b) < 0) {
                buffer_done(&b);
                return NULL;
        }
        return json_text_new(&b);
}

int operation_table_restore(OperationTable *t, const OperationRecord *rec, Operation **ret) {
        OperationStatus st;
        Operation *op;
        bool fresh = false;
        int r;

        if (!rec->id || strlen(rec->id) != 36 || !rec->status)
                return -EBADMSG;
        st = operation_status_from_string(rec->status);
        if (st < 0)
                return -EBADMSG;
        /* It goes into the token URL: only what a cancel's tenantId could have been. */
        if (rec->tenant_id && !tenant_id_is_valid(rec->tenant_id))
                return -EBADMSG;

        op = operation_table_get(t, rec->id);
        if (op && !streq(op->id, rec->id))
                op = NULL; /* matched by a Graph id, not ours */
        if (!op) {
                /* A change record needs the full record that created its operation. */
                if (!rec->call_id)
                        return -ENOENT;
                op = calloc(1, sizeof *op);
                if (!op)
                        return -ENOMEM;
                memcpy(op->id, rec->id, 37);
                op->uid = rec->has_uid ? rec->uid : 0;
                op->call_id = strdup(rec->call_id);
                /* Records from before tenants were recorded: TenantId='s. */
                const char *tenant = rec->tenant_id ?: t->default_tenant;
                op->tenant_id = tenant ? strdup(tenant) : NULL;
                op->client_context = rec->client_context ? strdup(rec->client_context) : NULL;
                if (!op->call_id || (tenant && !op->tenant_id) || (rec->client_context && !op->client_context) ||
                    operation_set_context_keys(op, rec->call_id, rec->client_context) < 0) {
                        operation_free(op);
                        return -ENOMEM;
                }
                op->table = t;
                op->status = st;
                op->all = -1;
                fresh = true;
        }
        operation_set_status(op, st);
        /* What is fixed at creation comes with full records only. */
        if (rec->call_id) {
                op->uid = rec->has_uid ? rec->uid : 0;
                op->all = rec->all;
                op->created_usec = rec->created_usec >= 0 ? (uint64_t) rec->created_usec : 0;
        }
        if (rec->updated_usec >= 0)
                op->updated_usec = (uint64_t) rec->updated_usec;

        /* Every record carries the whole state: what it leaves out is null. */
        op->has_result_info = rec->has_result_info;
        op->result_code = rec->result_code;
        op->result_subcode = rec->result_subcode;
        if ((r = free_and_strdup(&op->result_message, rec->has_result_info ? rec->result_message : NULL)) < 0 ||
            (r = free_and_strdup(&op->completion_reason, rec->completion_reason)) < 0)
                goto fail;
        op->error = error_free(op->error);
        if (rec->error_json) {
                json_tokener *tok = json_tokener_new();
                if (!tok) {
                        r = -ENOMEM;
                        goto fail;
                }
                _cleanup_json_ json_object *j = json_tokener_parse_ex(tok, rec->error_json, (int) rec->error_json_len);
                json_tokener_free(tok);
                op->error = j ? error_from_operation_json(j) : NULL;
        }
        cancelled_clear(op);
        if (rec->n_cancelled > 0) {
                op->cancelled = calloc(rec->n_cancelled, sizeof(CancelledOperation));
                if (!op->cancelled) {
                        r = -ENOMEM;
                        goto fail;
                }
                for (unsigned i = 0; i < rec->n_cancelled; i++) {
                        CancelledOperation *e = &op->cancelled[i];
                        e->graph_operation_id = strdup(rec->cancelled[i].graph_operation_id);
                        e->type = rec->cancelled[i].type ? strdup(rec->cancelled[i].type) : NULL;
                        e->at_usec = (uint64_t) rec->cancelled[i].at_usec;
                        op->n_cancelled++;
                        if (!e->graph_operation_id || (rec->cancelled[i].type && !e->type)) {
                                r = -ENOMEM;
                                goto fail;
                        }
                }
        }

        if (fresh) {
                r = table_link(t, op);
                if (r < 0) {
                        operation_free(op);
                        return r;
                }
        }
        if (rec->graph_operation_id && (r = set_graph_id(op, rec->graph_operation_id)) < 0)
                return r;
        if (ret)
                *ret = op;
        return 0;

fail:
        if (fresh)
                operation_free(op);
        return r;
}

/* The journal's record of op (record.h describes the format). */
int operation_write_record(const Operation *op, bool full, Buffer *b) {
        TRY(json_write_literal(b, "{\"op\":{\"id\":"));
        TRY(json_write_string(b, op->id));
        if (full) {
                TRY(json_write_literal(b, ",\"callId\":"));
                TRY(json_write_string(b, op->call_id));
                if (op->tenant_id) {
                        TRY(json_write_literal(b, ",\"tenantId\":"));
                        TRY(json_write_string(b, op->tenant_id));
                }
                if (op->client_context) {
                        TRY(json_write_literal(b, ",\"clientContext\":"));
                        TRY(json_write_string(b, op->client_context));
                }
                TRY(json_write_literal(b, ",\"uid\":"));
                TRY(json_write_int(b, (int64_t) op->uid));
                if (op->all >= 0)
                        TRY(op->all ? json_write_literal(b, ",\"all\":true") : json_write_literal(b, ",\"all\":false"));
                TRY(json_write_literal(b, ",\"createdUsec\":"));
                TRY(json_write_int(b, (int64_t) op->created_usec));
        }
        TRY(json_write_literal(b, ",\"status\":"));
        TRY(json_write_string(b, operation_status_to_string(op->status)));
        if (op->graph_operation_id) {
                TRY(json_write_literal(b, ",\"graphOperationId\":"));
                TRY(json_write_string(b, op->graph_operation_id));
        }
        TRY(operation_write_outcome(op, b));
        TRY(write_cancelled(op, true, b));
        TRY(json_write_literal(b, ",\"updatedUsec\":"));
        TRY(json_write_int(b, (int64_t) op->updated_usec));
        TRY(json_write_literal(b, "}}"));
        return 0;
}
