/* SPDX-License-Identifier: MIT */
/*
 * server.c — see server.h. This file owns the server as a whole: accepting connections (and
 * refusing those over MaxConnections= or MaxConnectionsPerUser=, with one LimitExceeded
 * line), the listening socket (listen-socket.h), freeing closed connections from the loop, the
 * flusher that sends what one loop iteration wrote, reload and shutdown. A connection's bytes
 * are connection.c's, what its lines ask is call.c's.
 *
 * Limits and what happens at each (all from [Socket]): a line longer than MaxRequestBytes gets
 * LimitExceeded and the connection is closed, since the rest of that line cannot be framed;
 * more than MaxInFlightPerConnection unanswered requests get LimitExceeded one by one, the
 * connection stays; beyond MaxConnections or MaxConnectionsPerUser a new connection gets one
 * LimitExceeded line and is closed; a half line that stalls IdleTimeoutSec closes the
 * connection; more than MaxOutputBytes of unread replies disconnects the client. The log lines
 * about all of these are rate-limited (client_complaint_allowed()); the answers are not.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "json-util.h"
#include "listen-socket.h"
#include "log.h"
#include "rpc.h"
#include "server-internal.h"
#include "server.h"
#include "util.h"

/* Lines about a misbehaving client (refused connections, over-long or stalled lines, unread
 * replies) cost it nothing to provoke again and again: log at most 10 per 10 s, so that a
 * local user cannot flood the journal and make journald drop the daemon's other lines. The
 * first line of a new window says how many were left out. The client is answered regardless. */
bool client_complaint_allowed(Server *s) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (now - s->complaints_since > 10 * USEC_PER_SEC) {
                if (s->complaints_dropped > 0)
                        log_warning("%u more lines about misbehaving clients were not logged.", s->complaints_dropped);
                s->complaints_since = now;
                s->complaints = s->complaints_dropped = 0;
        }
        if (s->complaints < 10) {
                s->complaints++;
                return true;
        }
        s->complaints_dropped++;
        return false;
}

static void reap_dead(Server *s) {
        while (s->dead) {
                Connection *c = s->dead;
                s->dead = c->next;
                peer_done(&c->peer);
                free(c);
        }
}

static int on_reap(sd_event_source *es, void *userdata) {
        (void) es;
        reap_dead(userdata);
        return 0;
}

static unsigned connections_of_uid(Server *s, uid_t uid) {
        unsigned n = 0;
        for (Connection *c = s->connections; c; c = c->next)
                if (c->peer.uid == uid)
                        n++;
        return n;
}

/* One error line (id null: nothing was read) to a connection that is closed right after. */
static void refuse_connection_error(int fd, const Error *e) {
        _cleanup_json_ json_object *j = rpc_reply_error(NULL, e);
        _cleanup_free_ char *s = NULL;
        size_t n;

        if (j && rpc_serialize(j, &s, &n) >= 0)
                (void) !send(fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void) close(fd);
}

static void refuse_connection(int fd, const char *limit, const char *msg) {
        _cleanup_(error_freep) Error *e = error_limit(limit, "%s", msg);

        refuse_connection_error(fd, e);
}

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Server *s = userdata;

        (void) es;
        (void) revents;
        for (int i = 0; i < 64; i++) {
                Peer cred = {};
                Connection *c;
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno != EAGAIN)
                                log_warning_errno(errno, "accept() failed: %m");
                        return 0;
                }
                int k = peer_from_socket(cfd, &cred);
                if (k == -ENOMEM) {
                        /* Not a peer we refuse, a daemon short of memory: say so, as to every
                         * request that meets it. The line tells nothing about the daemon. */
                        log_oom();
                        refuse_connection_error(cfd, error_oom());
                        continue;
                }
                if (k < 0) {
                        /* Fail closed: a peer we cannot identify gets nothing. */
                        if (client_complaint_allowed(s))
                                log_warning_errno(k, "Cannot identify the peer (SO_PEERCRED): %m");
                        (void) close(cfd);
                        continue;
                }
                if (s->n_connections >= s->config->max_connections) {
                        if (client_complaint_allowed(s))
                                log_warning("Refusing a connection from pid=%d uid=%u: MaxConnections=%u reached.",
                                            (int) cred.pid, (unsigned) cred.uid, s->config->max_connections);
                        refuse_connection(cfd, "MaxConnections", "Too many connections to the daemon.");
                        peer_done(&cred);
                        continue;
                }
                if (connections_of_uid(s, cred.uid) >= s->config->max_connections_per_user) {
                        if (client_complaint_allowed(s))
                                log_warning("Refusing a connection from pid=%d uid=%u: MaxConnectionsPerUser=%u reached.",
                                            (int) cred.pid, (unsigned) cred.uid, s->config->max_connections_per_user);
                        refuse_connection(cfd, "MaxConnectionsPerUser", "Too many connections from this user.");
                        peer_done(&cred);
                        continue;
                }

                c = calloc(1, sizeof *c);
                if (!c) {
                        refuse_connection_error(cfd, error_oom());
                        peer_done(&cred);
                        return log_oom(), 0;
                }
                c->server = s;
                c->fd = cfd;
                c->peer = cred; /* takes the groups */
                k = sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, on_connection_io, c);
                if (k < 0) {
                        if (k == -ENOMEM)
                                refuse_connection_error(cfd, error_oom());
                        else
                                (void) close(cfd);
                        peer_done(&c->peer);
                        free(c);
                        continue;
                }
                (void) sd_event_source_set_description(c->io, "client");
                /* A peer without a role could otherwise hold a connection (and a share of
                 * MaxConnections=) for ever without sending a byte. */
                c->no_role = access_roles(s->config, &c->peer, geteuid()) == 0;
                if (c->no_role)
                        arm_idle_timer(c);
                c->next = s->connections;
                if (s->connections)
                        s->connections->prev = c;
                s->connections = c;
                s->n_connections++;
                log_debug("Client connected: pid=%d uid=%u gid=%u.", (int) cred.pid, (unsigned) cred.uid,
                          (unsigned) cred.gid);
        }
        return 0;
}

static int on_flush(sd_event_source *es, void *userdata) {
        Server *s = userdata;
        Connection *c, *next;

        (void) es;
        for (c = s->connections; c; c = next) {
                next = c->next; /* flushing may close c, which unlinks it */
                if (c->unflushed)
                        connection_flush(c);
        }
        return 0;
}

int server_new(sd_event *event, const Config *config, server_dispatch_t dispatch, void *userdata, Server **ret) {
        Server *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        *s = (Server) { .event = sd_event_ref(event), .config = config, .dispatch = dispatch,
                        .userdata = userdata, .listen_fd = -EBADF };
        int r = sd_event_add_defer(event, &s->reaper, on_reap, s);
        if (r < 0) {
                server_free(s);
                return r;
        }
        (void) sd_event_source_set_enabled(s->reaper, SD_EVENT_OFF);
        (void) sd_event_source_set_description(s->reaper, "connection-reaper");
        r = sd_event_add_defer(event, &s->flusher, on_flush, s);
        if (r < 0) {
                server_free(s);
                return r;
        }
        (void) sd_event_source_set_enabled(s->flusher, SD_EVENT_OFF);
        (void) sd_event_source_set_description(s->flusher, "connection-flusher");
        *ret = s;
        return 0;
}

int server_listen(Server *s, const char *path_override) {
        const char *path = path_override ?: s->config->socket_path;
        int r;

        r = listen_socket_from_systemd(&s->listen_fd, &s->path);
        if (r < 0)
                return r;
        if (r == 0) {
                r = listen_socket_bind(path, &s->listen_fd);
                if (r < 0)
                        return r;
                s->owns_socket_file = true;
        }
        if (!s->path) {
                s->path = strdup(path);
                if (!s->path)
                        return log_oom();
        }

        r = sd_event_add_io(s->event, &s->listen_io, s->listen_fd, EPOLLIN, on_accept, s);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the listening socket: %m");
        (void) sd_event_source_set_description(s->listen_io, "listen");
        return 0;
}

void server_set_config(Server *s, const Config *config) {
        s->config = config;
        /* [Access] may have changed: who holds no role now is answered once and closed. */
        for (Connection *c = s->connections; c; c = c->next) {
                bool no_role = access_roles(config, &c->peer, geteuid()) == 0;
                if (no_role && !c->no_role)
                        arm_idle_timer(c);
                c->no_role = no_role;
        }
}

void server_stop_listening(Server *s) {
        s->listen_io = sd_event_source_disable_unref(s->listen_io);
        if (s->listen_fd >= 0) {
                (void) close(s->listen_fd);
                s->listen_fd = -EBADF;
        }
        if (s->owns_socket_file && s->path) {
                (void) unlink(s->path);
                s->owns_socket_file = false;
        }
}

void server_close_all(Server *s) {
        while (s->connections) {
                Connection *c = s->connections;
                c->closing = true;
                connection_flush(c); /* best effort: one non-blocking write */
                connection_close(c);
        }
}

Server *server_free(Server *s) {
        if (!s)
                return NULL;
        server_stop_listening(s);
        server_close_all(s);
        reap_dead(s);
        sd_event_source_disable_unref(s->reaper);
        sd_event_source_disable_unref(s->flusher);
        free(s->path);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

unsigned server_connections(Server *s) {
        return s->n_connections;
}

unsigned server_pending_calls(Server *s) {
        return s->n_calls;
}

const char *server_socket_path(Server *s) {
        return s->path;
}
