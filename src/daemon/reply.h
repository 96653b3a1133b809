/* SPDX-License-Identifier: MIT */
/*
 * reply.h — answers that wait for the journal. What reports a change to a client (a reply, an
 * operation.changed event) goes out through store_defer(), i.e. only once the journal holds
 * that change, in the order the changes happened. The successful answer to a cancel waits only
 * for the record that created its operation (reply_cancel()).
 */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

#include "errors.h"
#include "manager.h"
#include "server.h"

/* Answers call with result (consumed) or error (consumed), once the journal holds record seq
 * (UINT64_MAX: every record appended so far). */
void reply_durable_at(Manager *m, Call *call, json_object *result, Error *error, uint64_t seq);
/* The same once the journal holds every change made so far. */
void reply_durable(Manager *m, Call *call, json_object *result, Error *error);
/* A cancel's answer: once the record that created op is durable. */
void reply_cancel(Manager *m, Call *call, Operation *op, json_object *result, Error *error);
/* Answers with e at once (consumed; error_oom() is never NULL). */
void reply_error(Call *call, Error *e);
/* {"operation": {...}} as text, written now: the reply may leave later and must say what the
 * operation was at this moment. NULL on OOM. */
json_object *operation_result(const Operation *op);
