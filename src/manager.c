/* SPDX-License-Identifier: MIT */
/*
 * manager.c — builds and tears down the daemon's object graph (manager.h), reloads the
 * configuration and runs the graceful shutdown.
 */
#include <errno.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "manager.h"
#include "util.h"

#define PRUNE_INTERVAL_USEC (10 * USEC_PER_SEC)

static int on_prune(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        operation_table_prune(m->operations, now_usec(CLOCK_REALTIME));
        (void) sd_event_source_set_time(s, usec + PRUNE_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

int manager_new(Config *config, const char *config_path, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return log_oom();
        m->config = config;
        m->config_path = config_path ? strdup(config_path) : NULL;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m");
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &m->started_usec);

        r = curl_glue_new(m->event, &m->glue);
        if (r < 0)
                return log_error_errno(r, "Cannot set up libcurl: %m");
        r = token_manager_new(m->event, m->glue, m->config, &m->token);
        if (r < 0)
                return log_oom();
        r = graph_client_new(m->event, m->glue, m->token, m->config, &m->graph);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the Graph client: %m");
        r = operation_table_new(config->max_operations, config->retention_usec, &m->operations);
        if (r < 0)
                return log_oom();
        r = server_new(m->event, m->config, manager_dispatch, m, &m->server);
        if (r < 0)
                return log_oom();
        r = sd_event_add_time_relative(m->event, &m->prune_timer, CLOCK_MONOTONIC, PRUNE_INTERVAL_USEC,
                                       USEC_PER_SEC, on_prune, m);
        if (r < 0)
                return log_error_errno(r, "Cannot arm the retention timer: %m");
        (void) sd_event_source_set_enabled(m->prune_timer, SD_EVENT_ON);

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        server_free(m->server);
        graph_client_free(m->graph);
        operation_table_free(m->operations);
        token_manager_free(m->token);
        curl_glue_free(m->glue);
        sd_event_source_disable_unref(m->prune_timer);
        sd_event_source_disable_unref(m->shutdown_timer);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m->config_path);
        free(m);
        return NULL;
}

int manager_start(Manager *m, const char *socket_override) {
        int r;

        r = server_listen(m->server, socket_override);
        if (r < 0)
                return r;
        r = token_manager_start(m->token);
        if (r < 0)
                return r;
        log_info("mediacanceld %s listening on %s; Graph %s/%s%s.", PACKAGE_VERSION, server_socket_path(m->server),
                 m->config->graph_endpoint, m->config->api_version, m->config->calls_path);
        return 0;
}

static bool shutdown_done(Manager *m) {
        return graph_client_in_flight(m->graph) == 0 && graph_client_queued(m->graph) == 0;
}

static void shutdown_finish(Manager *m) {
        _cleanup_(error_freep) Error *e =
                error_new(ERROR_INTERNAL, NULL, "The daemon stopped before Graph answered this cancel.");

        if (e)
                graph_client_fail_all(m->graph, e);
        server_close_all(m->server);
        (void) sd_event_exit(m->event, 0);
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

        r = token_manager_set_config(m->token, c);
        if (r < 0) {
                config_free(c);
                log_error("Reload refused, keeping the running configuration.");
                return r;
        }
        old = m->config;
        m->config = c;
        graph_client_set_config(m->graph, c);
        server_set_config(m->server, c);
        operation_table_set_limits(m->operations, c->max_operations, c->retention_usec);
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
                     token_state_to_string(token_manager_state(m->token)), pending,
                     operation_table_total(m->operations), server_connections(m->server)) < 0)
                return NULL;
        return s;
}
