/* SPDX-License-Identifier: MIT */
/*
 * manager.c — builds and tears down the daemon's object graph (manager.h), reloads the
 * configuration and runs the graceful shutdown.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "config-files.h"
#include "log.h"
#include "manager.h"
#include "record.h"
#include "util.h"
#include "validate.h"

#define PRUNE_INTERVAL_USEC (10 * USEC_PER_SEC)

static void maybe_compact(Manager *m) {
        Buffer snapshot = {};
        size_t n = 0;
        int r = 0;

        if (!store_wants_compaction(m->store, operation_table_total(m->operations)))
                return;
        for (Operation *op = operation_table_first(m->operations); op && r >= 0; op = op->next, n++) {
                m->record.size = 0;
                r = operation_write_record(op, true, &m->record);
                if (r >= 0)
                        r = store_frame(&snapshot, m->record.data, m->record.size);
        }
        if (r >= 0)
                r = store_compact(m->store, &snapshot, n);
        buffer_done(&snapshot);
        if (r < 0)
                log_warning_errno(r, "Journal compaction failed, will try again later: %m");
}

static int on_prune(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        operation_table_prune(m->operations, now_usec(CLOCK_REALTIME));
        maybe_compact(m);
        (void) sd_event_source_set_time(s, usec + PRUNE_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

int manager_new(Config *config, const char *config_path, const ManagerHooks *hooks, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return log_oom();
        /* m->config is set last, once nothing can fail: until then the caller owns config, and
         * a failure here must not free it (the caller does). */
        m->self_uid = geteuid();
        m->hooks = hooks;
        if (config_path) {
                m->config_path = strdup(config_path);
                if (!m->config_path)
                        return log_oom();
        }

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m");
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &m->started_usec);

        r = curl_glue_new(m->event, &m->glue);
        if (r < 0)
                return log_error_errno(r, "Cannot set up libcurl: %m");
        r = tenant_tokens_new(m->event, m->glue, config, &m->tokens);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the tenants' tokens: %m");
        r = graph_client_new(m->event, m->glue, m->tokens, config, &m->graph);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the Graph client: %m");
        r = notification_keys_new(m->event, m->glue, config, &m->notification_keys);
        if (r < 0)
                return log_oom();
        r = operation_table_new(config->max_operations, config->retention_usec, &m->operations);
        if (r < 0)
                return log_oom();
        _cleanup_free_ char *home = tenant_name_normalize(config->tenant_id);
        if (!home || operation_table_set_default_tenant(m->operations, home) < 0)
                return log_oom();
        operation_table_set_listener(m->operations, hooks->on_change, m);
        operation_table_set_destructor(m->operations, hooks->tracking_free);
        r = server_new(m->event, config, hooks->dispatch, m, &m->server);
        if (r < 0)
                return log_oom();
        r = sd_event_add_time_relative(m->event, &m->prune_timer, CLOCK_MONOTONIC, PRUNE_INTERVAL_USEC,
                                       USEC_PER_SEC, on_prune, m);
        if (r < 0)
                return log_error_errno(r, "Cannot arm the retention timer: %m");
        (void) sd_event_source_set_enabled(m->prune_timer, SD_EVENT_ON);

        m->config = config;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        if (m->hooks && m->hooks->shutdown)
                m->hooks->shutdown(m);
        server_free(m->server);
        store_free(m->store); /* flushes what was appended */
        /* Before the Graph client: an operation's destructor (the tracking_free hook) abandons
         * its poll request, which the client holds. The client frees its requests without
         * calling back, so it never touches the operations freed here. */
        operation_table_free(m->operations);
        graph_client_free(m->graph);
        notification_keys_free(m->notification_keys);
        tenant_tokens_free(m->tokens);
        curl_glue_free(m->glue);
        sd_event_source_disable_unref(m->prune_timer);
        sd_event_source_disable_unref(m->shutdown_timer);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m->config_path);
        buffer_done(&m->record);
        free(m);
        return NULL;
}

static int restore_record(char *json, size_t len, void *userdata) {
        Manager *m = userdata;
        OperationRecord rec;
        int r;

        r = record_parse(json, len, &rec);
        if (r < 0)
                return r;
        r = operation_table_restore(m->operations, &rec, NULL);
        if (r == -ENOENT) {
                /* Its operation's full record is gone (dropped by retention before a
                 * compaction, say): nothing to rebuild it from. */
                m->orphan_records++;
                return 0;
        }
        return r;
}

/* Reloads the journal and picks up where the last run stopped: cancels that may not have
 * reached Graph go again (repeating cancelMediaProcessing is harmless), pending ones keep
 * their original completion deadline. */
static int recover(Manager *m) {
        _cleanup_free_ char *error = NULL;
        unsigned resent = 0, pending = 0;
        int r;

        r = store_open(m->event, m->config->state_directory, &m->store);
        if (r < 0)
                return r;
        store_set_sync_delay(m->store, m->config->journal_sync_delay_usec);
        m->restoring = true;
        r = store_load(m->store, restore_record, m, &error);
        m->restoring = false;
        if (r < 0) {
                if (error)
                        log_error("%s", error);
                return r;
        }
        if (m->orphan_records > 0)
                log_notice("Skipped %u journal records of operations the journal no longer holds.", m->orphan_records);
        operation_table_prune(m->operations, now_usec(CLOCK_REALTIME));

        for (Operation *op = operation_table_first(m->operations); op; op = op->next) {
                if (op->status == OPERATION_QUEUED || op->status == OPERATION_SUBMITTING) {
                        operation_set_status(op, OPERATION_QUEUED);
                        r = m->hooks->resubmit(m, op);
                        if (r < 0)
                                log_warning_errno(r, "Cannot resend the cancel of operation %s: %m", op->id);
                        else if (r == 0)
                                resent++;
                } else if (!operation_status_is_settled(op->status)) {
                        m->hooks->track_restored(m, op);
                        pending++;
                }
        }
        if (operation_table_total(m->operations) > 0)
                log_info("Restored %u operations from the journal: %u cancels sent again, %u waiting for an outcome.",
                         operation_table_total(m->operations), resent, pending);
        maybe_compact(m);
        return 0;
}

int manager_start(Manager *m, const char *socket_override) {
        int r;

        r = recover(m);
        if (r < 0)
                return r;
        r = server_listen(m->server, socket_override);
        if (r < 0)
                return r;
        r = tenant_tokens_start(m->tokens);
        if (r < 0)
                return r;
        if (m->config->cloud_info->warning)
                log_warning("%s", m->config->cloud_info->warning);
        if (config_notifications_need_token(m->config)) {
                notification_keys_start(m->notification_keys);
                /* Graph's tokens name the tenant by its GUID (tid); a domain name never
                 * matches, and every notification would be refused. */
                if (!guid_is_valid(m->config->tenant_id))
                        log_warning("TenantId=%s is not a GUID: notification tokens carry the tenant's GUID in tid, "
                                    "so with Authentication=jwt they are refused unless TenantId= is that GUID.",
                                    m->config->tenant_id);
        }
        log_struct(LOG_INFO, &(LogFields) { .message_id = MESSAGE_ID_STARTED },
                   "mediacanceld %s listening on %s; Graph %s/%s%s.", PACKAGE_VERSION, server_socket_path(m->server),
                   m->config->graph_endpoint, m->config->api_version, m->config->calls_path);
        return 0;
}

static bool shutdown_done(Manager *m) {
        return graph_client_in_flight(m->graph) == 0 && graph_client_queued(m->graph) == 0;
}

static void shutdown_close(void *userdata) {
        Manager *m = userdata;

        server_close_all(m->server);
        (void) sd_event_exit(m->event, 0);
}

static void shutdown_finish(Manager *m) {
        _cleanup_(error_freep) Error *e =
                error_new(ERROR_INTERNAL, NULL, "The daemon stopped before Graph answered this cancel.");

        graph_client_fail_all(m->graph, e);
        if (m->hooks->shutdown)
                m->hooks->shutdown(m);
        /* The last replies leave only once the journal holds what they report. */
        if (store_defer(m->store, shutdown_close, m) < 0)
                shutdown_close(m);
}

static int on_shutdown_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        if (shutdown_done(m) || usec >= m->shutdown_deadline) {
                if (!shutdown_done(m))
                        log_warning("%u cancels still waiting for Graph after the grace period; answering them "
                                    "with an error.",
                                    graph_client_in_flight(m->graph) + graph_client_queued(m->graph));
                shutdown_finish(m);
                return 0;
        }
        (void) sd_event_source_set_time(s, usec + 20 * USEC_PER_MSEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

void manager_begin_shutdown(Manager *m) {
        uint64_t now;

        if (m->shutting_down)
                return;
        m->shutting_down = true;
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down.");
        log_info("Shutting down: no new connections; waiting up to %.0fs for cancels in flight.",
                 (double) SHUTDOWN_GRACE_USEC / 1e6);
        server_stop_listening(m->server);

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        m->shutdown_deadline = now + SHUTDOWN_GRACE_USEC;
        if (sd_event_add_time(m->event, &m->shutdown_timer, CLOCK_MONOTONIC, now, 0, on_shutdown_tick, m) < 0)
                shutdown_finish(m);
}

int manager_reload(Manager *m) {
        _cleanup_free_ char *error = NULL;
        Config *c = NULL, *old;
        int r;

        r = config_load(m->config_path, &c, &error);
        if (r < 0) {
                if (error)
                        log_error("Reload refused, keeping the running configuration: %s", error);
                else
                        log_error_errno(r, "Reload refused, keeping the running configuration: %m");
                return r;
        }
        if (!streq(c->socket_path, m->config->socket_path))
                log_warning("Socket Path= changed; it takes effect at the next restart.");

        _cleanup_free_ char *home = tenant_name_normalize(c->tenant_id);
        if (!home || operation_table_set_default_tenant(m->operations, home) < 0) {
                config_free(c);
                return log_oom();
        }
        if (!streq(c->cloud, m->config->cloud) && c->cloud_info->warning)
                log_warning("%s", c->cloud_info->warning);
        r = tenant_tokens_set_config(m->tokens, c);
        if (r < 0) {
                config_free(c);
                log_error("Reload refused, keeping the running configuration.");
                return r;
        }
        old = m->config;
        m->config = c;
        graph_client_set_config(m->graph, c);
        notification_keys_set_config(m->notification_keys, c);
        if (config_notifications_need_token(c))
                notification_keys_start(m->notification_keys);
        server_set_config(m->server, c);
        operation_table_set_limits(m->operations, c->max_operations, c->retention_usec);
        if (m->store)
                store_set_sync_delay(m->store, c->journal_sync_delay_usec);
        config_free(old);
        log_info("Configuration reloaded.");
        return 0;
}

char *manager_status_line(Manager *m) {
        char *s = NULL;
        unsigned pending = operation_table_count(m->operations, OPERATION_QUEUED) +
                           operation_table_count(m->operations, OPERATION_SUBMITTING) +
                           operation_table_count(m->operations, OPERATION_NOT_STARTED) +
                           operation_table_count(m->operations, OPERATION_RUNNING);

        if (asprintf(&s, "Token %s; %u pending, %u tracked operations; %u clients.",
                     token_state_to_string(token_manager_state(tenant_tokens_home(m->tokens))), pending,
                     operation_table_total(m->operations), server_connections(m->server)) < 0)
                return NULL;
        return s;
}
