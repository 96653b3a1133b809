/* SPDX-License-Identifier: MIT */
/*
 * reply.c — see reply.h.
 */
#include "json-text.h"
#include "log.h"
#include "reply.h"
#include "store.h"

/* ---- deferred output ---------------------------------------------------------------- */

typedef struct DeferredReply {
        Call *call;
        json_object *result;
        Error *error;
} DeferredReply;

static void deferred_reply_run(void *userdata) {
        DeferredReply *d = userdata;

        if (d->error)
                call_reply_error(d->call, d->error);
        else
                call_reply(d->call, TAKE_PTR(d->result));
        error_free(d->error);
        json_object_put(d->result);
        free(d);
}

/* Replies once the journal holds the record with sequence number seq. Takes result or error;
 * neither (the result could not be built) answers "Out of memory.", never an empty result. */
void reply_durable_at(Manager *m, Call *call, json_object *result, Error *error, uint64_t seq) {
        DeferredReply *d = malloc(sizeof *d);

        if (!result && !error)
                error = error_oom();
        if (d)
                *d = (DeferredReply) { .call = call, .result = result, .error = error };
        /* store_defer_until() may run it at once, when nothing is waiting for the disk. */
        if (!d || store_defer_until(m->store, seq, deferred_reply_run, d) < 0) {
                free(d);
                log_oom();
                if (error)
                        call_reply_error(call, error);
                else
                        call_reply(call, TAKE_PTR(result));
                error_free(error);
                json_object_put(result);
                return;
        }
}

/* Replies once the journal holds every change made so far. */
void reply_durable(Manager *m, Call *call, json_object *result, Error *error) {
        reply_durable_at(m, call, result, error, UINT64_MAX);
}

/* The answer to a cancel waits only for the record that created the operation: that record
 * is what makes an acknowledged cancel survive a crash (recovery sends it again, and Graph
 * repeats its answer), and it was written while the request was on the wire — so the sync
 * costs the caller nothing whenever Graph is slower than the disk. The record of Graph's
 * answer is synced with the next record somebody waits for, or within 100 ms (store.h). */
void reply_cancel(Manager *m, Call *call, Operation *op, json_object *result, Error *error) {
        reply_durable_at(m, call, result, error, op->journal_seq);
}

/* Answers with e and frees it. e is never NULL: the constructors return error_oom() when
 * they cannot allocate (errors.h). */
void reply_error(Call *call, Error *e) {
        call_reply_error(call, e);
        error_free(e);
}

/* {"operation": {...}}: a cancel's answer, operation.get's and an event's params. Written as
 * text, now: the reply may leave later, and must say what the operation was at this moment. */
json_object *operation_result(const Operation *op) {
        Buffer b = {};

        if (json_write_literal(&b, "{\"operation\":") < 0 || operation_write_json(op, &b) < 0 ||
            json_write_literal(&b, "}") < 0) {
                buffer_done(&b);
                return NULL;
        }
        return json_text_new(&b);
}
