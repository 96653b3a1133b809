/* SPDX-License-Identifier: MIT */
/*
 * graph-notification.h — reading Graph's commsNotifications as the bot received them on its callback and
 * forwarded them (method notifications.deliver). Pure: a JSON body in, a list of typed entries
 * out, or the first bad entry named. Nothing is applied here, so a malformed body changes
 * nothing.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "errors.h"
#include "graph.h"

/* The most notifications one body may hold (notifications.deliver). */
#define NOTIFY_MAX_ENTRIES 1000

typedef struct NotifyEntry {
        const char *change_type; /* "created", "updated", "deleted" (borrowed) */
        const char *resource;    /* resourceUrl, or the older resource (borrowed) */
        char *call_id;           /* from …/calls/{callId}/operations/{opId}; NULL otherwise */
        char *op_id;
        GraphOpStatus status;        /* resourceData.status */
        const char *data_id;         /* resourceData.id */
        const char *data_type;       /* resourceData's @odata.type without "#microsoft.graph." */
        const char *client_context;  /* resourceData.clientContext */
        const char *completion_reason;
        bool has_result_info;
        int result_code;
        int result_subcode;
        const char *result_message;
} NotifyEntry;

typedef struct NotifyBatch {
        json_object *root; /* keeps the borrowed strings alive */
        size_t n_entries;
        NotifyEntry *entries;
} NotifyBatch;

/* params is the forwarded body: {"value":[…]} with or without "@odata.type" (and the
 * "authorization" member of notifications.deliver, which is deliver.c's). On a malformed
 * body returns -EINVAL and an InvalidParams error naming the first bad entry ("value[3]"). */
int notify_parse(json_object *params, NotifyBatch **ret, Error **ret_error);
NotifyBatch *notify_batch_free(NotifyBatch *b);
DEFINE_CLEANUP_FUNC(NotifyBatch *, notify_batch_free);

/* Splits "…/calls/{callId}/operations/{opId}" (absolute URL or path, any case). */
bool notify_split_operation_url(const char *url, char **ret_call_id, char **ret_op_id);
