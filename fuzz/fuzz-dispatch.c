/* SPDX-License-Identifier: MIT */
/*
 * fuzz-dispatch.c — libFuzzer harness for the daemon's request path end to end: the input is
 * what one client writes to the socket (any number of lines, the last one possibly unfinished).
 *
 * Nothing is mocked on the way in. The Manager is the daemon's own (manager_new(): event loop,
 * curl glue, token manager, Graph client, operation table with its journal listener, server
 * with methods_dispatch()), the journal is a real store_open() in a private temporary
 * directory (on /dev/shm when there is one, where fdatasync is cheap), the server listens on a
 * socket there (server_listen()), and each input is written by a fresh client connection while
 * the real event loop runs: accept, SO_PEERCRED, line framing and MaxRequestBytes,
 * rpc_message_parse(), batches, MaxInFlightPerConnection, methods_dispatch(), every method's
 * param validation, the operation table and the Graph client's admission (MaxQueued,
 * MaxOperations), journaling, replies deferred until the journal is synced, watches, and the
 * output buffer.
 *
 * The one difference from production: the Config has MaxInFlight=0 (below the file's minimum,
 * so it is set in code). Cancels are validated, recorded, journaled and queued as usual but
 * never leave the queue, so no token is fetched and no HTTP request is made. At the end of each
 * input every queued cancel is failed the way shutdown does it (graph_client_fail_all()), which
 * answers the waiting calls and completes their batches, then the client disconnects. The Graph
 * client and the operation table are rebuilt for the next input so inputs do not depend on
 * each other (the journal file keeps growing until the prune timer compacts it, as it would).
 *
 * The input's length picks one of four set-ups (len % 4): v1.0 /communications/calls, beta
 * /app/calls and beta /applications/{appId}/calls (where "all" is accepted), and v1.0 while
 * shutting down (cancel refused); and (len / 4 % 2) whether the client disconnects before or
 * after the operations are dropped. The limits are small so that fuzzing reaches them.
 *
 * Invariants checked beyond "no sanitizer report":
 *   - every line the daemon writes is one strict JSON value, valid UTF-8, and each reply has
 *     jsonrpc, id and exactly one of result/error (a watch's operation.changed event: no id);
 *   - the daemon never stops reading a connection it has not closed, and closes it once the
 *     client has gone; no Call outlives its connection's input.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fuzz-util.h"
#include "log.h"
#include "manager.h"
#include "methods.h"

#define PUMP_ROUNDS_MAX 100000

static Manager *manager;
static Config *configs[3];
static char tmp_dir[64];
static char socket_path[sizeof(tmp_dir) + 16];
static char state_dir[sizeof(tmp_dir) + 16];

static void cleanup_tmp(void) {
        char journal[sizeof(state_dir) + 32];

        snprintf(journal, sizeof journal, "%s/%s", state_dir, STORE_JOURNAL_NAME);
        (void) unlink(journal);
        (void) rmdir(state_dir);
        (void) unlink(socket_path);
        (void) rmdir(tmp_dir);
}

static Config *make_config(const char *api_version, const char *calls_path, unsigned max_queued,
                           unsigned max_operations, const char *authentication) {
        Config *c = NULL;

        fuzz_assert(config_new(&c) == 0);
        c->tenant_id = strdup("contoso.onmicrosoft.com");
        c->client_id = strdup("7d2f3c1e-5a4b-4c3d-9e8f-0a1b2c3d4e5f");
        free(c->api_version);
        c->api_version = strdup(api_version);
        free(c->calls_path);
        c->calls_path = strdup(calls_path);
        c->state_directory = strdup(state_dir); /* config_finalize() would set it, and these */
        c->login_endpoint = strdup(c->cloud_info->login_endpoint);
        c->graph_endpoint = strdup(c->cloud_info->graph_root);
        c->scope = strdup("https://graph.microsoft.com/.default");
        fuzz_assert(c->tenant_id && c->client_id && c->api_version && c->calls_path && c->state_directory &&
                    c->login_endpoint && c->graph_endpoint && c->scope);

        c->max_in_flight = 0; /* nothing leaves the queue: no token fetch, no HTTP */
        c->max_queued = max_queued;
        c->max_operations = max_operations;
        c->max_in_flight_per_connection = 8;
        c->max_request_bytes = 2048;
        c->max_batch_items = 6; /* small enough that mutated batches cross it */
        c->max_values_per_line = 96;
        c->max_output_bytes = 64 * 1024;
        /* Deliveries are believed as the peer says (Authentication=peer), except under the
         * third configuration: there they need a token, no key set is ever fetched and none
         * is waited for, so each is refused as keysUnavailable with nothing applied. */
        free(c->notification_authentication);
        c->notification_authentication = strdup(authentication);
        fuzz_assert(c->notification_authentication);
        c->keys_wait_usec = 0;
        return c;
}

static void setup(void) {
        signal(SIGPIPE, SIG_IGN);
        log_set_max_level(LOG_EMERG);
        fuzz_assert(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);

        snprintf(tmp_dir, sizeof tmp_dir, "%s/mediacancel-fuzz-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        fuzz_assert(mkdtemp(tmp_dir));
        snprintf(socket_path, sizeof socket_path, "%s/sock", tmp_dir);
        snprintf(state_dir, sizeof state_dir, "%s/state", tmp_dir);
        atexit(cleanup_tmp);

        /* MaxQueued below MaxOperations in one set-up and above it in another, so both limits
         * are reachable within one input. */
        configs[0] = make_config("v1.0", "/communications/calls", 3, 16, "peer");
        configs[1] = make_config("beta", "/app/calls", 16, 4, "peer");
        configs[2] = make_config("beta", "/applications/{appId}/calls", 4, 16, "jwt");

        fuzz_assert(manager_new(configs[0], NULL, &methods_hooks, &manager) == 0);

        /* What manager_start() does, minus recovery (an empty journal) and the token. */
        fuzz_assert(store_open(manager->event, state_dir, &manager->store) == 0);
        fuzz_assert(server_listen(manager->server, socket_path) == 0);
}

static void use_config(Config *c) {
        /* What manager_reload() does with a new configuration, minus the secret. */
        manager->config = c;
        graph_client_set_config(manager->graph, c);
        server_set_config(manager->server, c);
        notification_keys_set_config(manager->notification_keys, c);
        operation_table_set_limits(manager->operations, c->max_operations, c->retention_usec);
}

static void reset_operations(void) {
        operation_table_free(manager->operations);
        fuzz_assert(operation_table_new(manager->config->max_operations, manager->config->retention_usec,
                                        &manager->operations) == 0);
        /* As manager_new() sets it up. */
        operation_table_set_listener(manager->operations, methods_hooks.on_change, manager);
        operation_table_set_destructor(manager->operations, methods_hooks.tracking_free);
}

static void mark_synced(void *userdata) {
        *(bool *) userdata = true;
}

/* Runs the loop until neither it, the journal writer nor the socket has anything more to do.
 * Deferred work runs in order, so once a marker deferred now has run, every reply waiting for
 * the journal has gone out. */
static void pump(int fd, Buffer *out, bool *eof) {
        bool synced = true;

        for (unsigned i = 0; i < PUMP_ROUNDS_MAX; i++) {
                bool progress = false;
                char buf[16384];
                int r;

                r = sd_event_run(manager->event, synced ? 0 : 100 * USEC_PER_MSEC);
                fuzz_assert(r >= 0);
                progress = r > 0;

                while (fd >= 0 && !*eof) {
                        ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                        if (k > 0) {
                                fuzz_assert(buffer_append(out, buf, (size_t) k) == 0);
                                progress = true;
                                continue;
                        }
                        if (k == 0 || (errno != EAGAIN && errno != EINTR))
                                *eof = true; /* the daemon closed the connection */
                        break;
                }
                if (progress)
                        continue;
                if (synced) {
                        /* Idle: make sure the journal writer is, too. */
                        synced = false;
                        fuzz_assert(store_defer(manager->store, mark_synced, &synced) == 0);
                        if (synced)
                                return;
                }
        }
        fuzz_assert(!"the event loop never settles");
}

/* What a watch sends: a JSON-RPC notification (no id) carrying the operation. */
static void check_event(json_object *j) {
        json_object *v;

        fuzz_assert(json_object_object_get_ex(j, "jsonrpc", &v) && strcmp(json_object_get_string(v), "2.0") == 0);
        fuzz_assert(!json_object_object_get_ex(j, "id", NULL));
        fuzz_assert(json_object_object_get_ex(j, "method", &v) && json_object_is_type(v, json_type_string));
        fuzz_assert(strcmp(json_object_get_string(v), "operation.changed") == 0);
        fuzz_assert(json_object_object_get_ex(j, "params", &v) && json_object_object_get_ex(v, "operation", NULL));
}

static void check_output(const Buffer *out) {
        const char *p, *end;

        if (out->size == 0)
                return;
        p = out->data;
        end = out->data + out->size;
        /* Replies are whole lines: the daemon never leaves one half written. */
        fuzz_assert(end[-1] == '\n');
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                json_object *j;

                fuzz_assert(nl);
                j = fuzz_parse_reply_line(p, (size_t) (nl - p));
                if (json_object_is_type(j, json_type_array)) {
                        fuzz_assert(json_object_array_length(j) > 0); /* no "[]" for a batch of notifications */
                        for (size_t i = 0; i < json_object_array_length(j); i++)
                                fuzz_check_reply_object(json_object_array_get_idx(j, i));
                } else if (json_object_object_get_ex(j, "method", NULL))
                        check_event(j);
                else
                        fuzz_check_reply_object(j);
                json_object_put(j);
                p = nl + 1;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_(buffer_done) Buffer out = {};
        bool eof = false, disconnect_first = (size / 4) % 2;
        unsigned stalls = 0;
        size_t off = 0;
        int fd;

        if (!manager)
                setup();

        use_config(configs[size % 4 == 3 ? 0 : size % 4]);
        manager->shutting_down = size % 4 == 3;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        fuzz_assert(fd >= 0);
        strcpy(sa.sun_path, socket_path);
        fuzz_assert(connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0);

        pump(fd, &out, &eof); /* accept */
        fuzz_assert(server_connections(manager->server) == 1);

        while (off < size && !eof) {
                ssize_t k = send(fd, data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (k > 0) {
                        off += (size_t) k;
                        stalls = 0;
                } else if (k < 0 && errno != EAGAIN && errno != EINTR)
                        break; /* the daemon closed the connection (e.g. MaxRequestBytes) */
                else
                        /* A daemon that neither reads nor closes would hang this client forever. */
                        fuzz_assert(++stalls < 1000);
                pump(fd, &out, &eof);
        }

        /* Answer every cancel still queued, as shutdown does, then let the client go. */
        {
                _cleanup_(error_freep) Error *e =
                        error_new(ERROR_INTERNAL, NULL, "The daemon stopped before Graph answered this cancel.");
                fuzz_assert(e);
                graph_client_fail_all(manager->graph, e);
        }
        pump(fd, &out, &eof);

        /* Then either the client leaves first (its watches are dropped by the server, its
         * waiting calls lose their connection) or the operations go first (a clean table for
         * the next input: dropping them answers whoever still waits and ends their watches). */
        if (disconnect_first) {
                fuzz_assert(close(fd) == 0);
                fd = -EBADF;
                pump(fd, &out, &eof);
        }
        reset_operations();
        pump(fd, &out, &eof);
        if (fd >= 0) {
                fuzz_assert(close(fd) == 0);
                pump(-1, &out, &eof);
        }
        fuzz_assert(server_connections(manager->server) == 0);
        fuzz_assert(server_pending_calls(manager->server) == 0);

        check_output(&out);

        /* A clean Graph client: fail_all() leaves it refusing work. */
        graph_client_free(manager->graph);
        fuzz_assert(graph_client_new(manager->event, manager->glue, manager->tokens, manager->config,
                                     &manager->graph) == 0);
        return 0;
}
