/* SPDX-License-Identifier: MIT */
/*
 * graph-notification.c — see graph-notification.h. The shape follows Graph's commsNotifications: "value" is an array
 * of commsNotification objects, each with changeType and resourceUrl (2018-2019 beta: resource)
 * and resourceData, one entity or an array of them; only the first entity matters for an
 * operation.
 */
#include <errno.h>
#include <stdio.h>

#include "graph-notification.h"
#include "validate.h"

/* The longest resourceData @odata.type kept (Graph's are ~30 characters). */
#define NOTIFY_TYPE_MAX 128

bool notify_split_operation_url(const char *url, char **ret_call_id, char **ret_op_id) {
        const char *p = url, *calls = NULL;

        /* Find the last "/calls/" so a prefix like /applications/{id}/calls/ works too. */
        for (const char *q = url; (q = strcasestr(q, "/calls/")); q++)
                calls = q;
        if (!calls)
                return false;
        p = calls + strlen("/calls/");
        size_t call_len = strcspn(p, "/?#");
        if (call_len == 0 || strncasecmp(p + call_len, "/operations/", 12) != 0)
                return false;
        const char *op = p + call_len + 12;
        size_t op_len = strcspn(op, "/?#");
        if (op_len == 0 || op[op_len] == '/')
                return false;

        char *c = strndup(p, call_len), *o = strndup(op, op_len);
        if (!c || !o || !call_id_is_valid(c) || op_len > GRAPH_OPERATION_ID_MAX) {
                free(c);
                free(o);
                return false;
        }
        *ret_call_id = c;
        *ret_op_id = o;
        return true;
}

static const char *member_string(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static Error *entry_error(size_t i, const char *what) {
        char param[32];
        snprintf(param, sizeof param, "value[%zu]", i);
        return error_invalid_param(param, "Notification %s: %s", param, what);
}

static Error *parse_entry(json_object *o, size_t i, NotifyEntry *e) {
        json_object *data = NULL, *v;

        if (!json_object_is_type(o, json_type_object))
                return entry_error(i, "is not an object.");
        e->change_type = member_string(o, "changeType");
        if (!e->change_type)
                return entry_error(i, "has no changeType string.");
        e->resource = member_string(o, "resourceUrl") ?: member_string(o, "resource");
        if (!e->resource)
                return entry_error(i, "has neither resourceUrl nor resource.");

        if (json_object_object_get_ex(o, "resourceData", &data) && data) {
                if (json_object_is_type(data, json_type_array))
                        data = json_object_array_length(data) > 0 ? json_object_array_get_idx(data, 0) : NULL;
                if (data && !json_object_is_type(data, json_type_object))
                        return entry_error(i, "resourceData is not an object.");
        }
        if (data) {
                const char *status = member_string(data, "status");
                e->status = graph_op_status_from_string(status);
                e->data_id = member_string(data, "id");
                if (e->data_id && strlen(e->data_id) > GRAPH_OPERATION_ID_MAX)
                        e->data_id = NULL; /* not an id Graph gives: matched by the URL only */
                e->client_context = member_string(data, "clientContext");
                e->data_type = member_string(data, "@odata.type");
                if (e->data_type && strncmp(e->data_type, "#microsoft.graph.", 17) == 0)
                        e->data_type += 17;
                if (e->data_type && (strlen(e->data_type) > NOTIFY_TYPE_MAX || !*e->data_type))
                        e->data_type = NULL; /* not a type Graph names: left out */
                e->completion_reason = member_string(data, "completionReason");
                if (json_object_object_get_ex(data, "resultInfo", &v) && v) {
                        json_object *x;
                        if (!json_object_is_type(v, json_type_object))
                                return entry_error(i, "resultInfo is not an object.");
                        e->has_result_info = true;
                        if (json_object_object_get_ex(v, "code", &x) && x) {
                                if (!json_object_is_type(x, json_type_int))
                                        return entry_error(i, "resultInfo.code is not an integer.");
                                e->result_code = json_object_get_int(x);
                        }
                        if (json_object_object_get_ex(v, "subcode", &x) && x) {
                                if (!json_object_is_type(x, json_type_int))
                                        return entry_error(i, "resultInfo.subcode is not an integer.");
                                e->result_subcode = json_object_get_int(x);
                        }
                        e->result_message = member_string(v, "message");
                        /* Graph's free text, forwarded: kept with its control characters
                         * replaced, in the tree that owns the borrowed strings (left out when
                         * memory is short: never kept as it came). */
                        if (text_has_control(e->result_message)) {
                                _cleanup_free_ char *m = strdup(e->result_message);
                                (void) json_object_object_get_ex(v, "message", &x);
                                e->result_message = m && text_replace_controls(&m) >= 0 && json_object_set_string(x, m)
                                                            ? json_object_get_string(x)
                                                            : NULL;
                        }
                }
        }
        /* The strings an entry is matched and settled by are ids and codes: one with a control
         * character is refused like a clientContext with one in a cancel. */
        const char *ids[] = { e->change_type, e->resource, data ? member_string(data, "status") : NULL, e->data_id,
                              e->client_context, e->completion_reason, e->data_type };
        static const char *const names[] = { "changeType", "resourceUrl", "resourceData.status", "resourceData.id",
                                              "resourceData.clientContext", "resourceData.completionReason",
                                              "resourceData.@odata.type" };
        for (size_t k = 0; k < ELEMENTSOF(ids); k++)
                if (text_has_control(ids[k])) {
                        char what[96];
                        snprintf(what, sizeof what, "%s contains a control character.", names[k]);
                        return entry_error(i, what);
                }
        (void) notify_split_operation_url(e->resource, &e->call_id, &e->op_id);
        return NULL;
}

int notify_parse(json_object *params, NotifyBatch **ret, Error **ret_error) {
        json_object *value;
        NotifyBatch *b;

        if (!params || !json_object_is_type(params, json_type_object) ||
            !json_object_object_get_ex(params, "value", &value) || !json_object_is_type(value, json_type_array)) {
                *ret_error = error_invalid_param("value", "The body must be an object with a \"value\" array.");
                return -EINVAL;
        }
        /* Which members a body may have is the method's rows' business (method-specs.c), checked
         * before this runs. */
        size_t n = json_object_array_length(value);
        if (n > NOTIFY_MAX_ENTRIES) {
                *ret_error = error_invalid_param("value", "More than %d notifications in one body.", NOTIFY_MAX_ENTRIES);
                return -EINVAL;
        }
        b = calloc(1, sizeof *b);
        if (!b || !(b->entries = calloc(MAX(n, (size_t) 1), sizeof(NotifyEntry)))) {
                free(b);
                *ret_error = error_oom(); /* every failure comes with its Error */
                return -ENOMEM;
        }
        b->root = json_object_get(params);
        b->n_entries = n;
        for (size_t i = 0; i < n; i++) {
                Error *e = parse_entry(json_object_array_get_idx(value, i), i, &b->entries[i]);
                if (e) {
                        notify_batch_free(b);
                        *ret_error = e;
                        return -EINVAL;
                }
        }
        *ret = b;
        return 0;
}

NotifyBatch *notify_batch_free(NotifyBatch *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n_entries; i++) {
                free(b->entries[i].call_id);
                free(b->entries[i].op_id);
        }
        free(b->entries);
        json_object_put(b->root);
        free(b);
        return NULL;
}
