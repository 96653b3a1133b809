/* SPDX-License-Identifier: MIT */
/*
 * ctl-connection.c — one JSON-RPC 2.0 round trip over the daemon's Unix socket (one request
 * line out, lines in until the reply with our id, server notifications skipped or handed to
 * watch), everything bounded by --timeout: a blocking connect bounded by SO_SNDTIMEO, then
 * non-blocking I/O with poll() against one deadline. Lines are limited to LINE_MAX_BYTES, and
 * every failure is reported here in words about the conversation.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl-connection.h"
#include "json-util.h"
#include "rpc.h"
#include "util.h"

/* We send exactly one request per connection, so a constant id is enough to match it. */
#define REQUEST_ID 1

static void json_tokener_freep(json_tokener **t) {
        if (*t)
                json_tokener_free(*t);
}

static usec_t deadline_from_timeout(usec_t timeout) {
        if (timeout == USEC_INFINITY)
                return USEC_INFINITY;
        return now_usec(CLOCK_MONOTONIC) + timeout;
}

/* Waits until fd is ready for events or the deadline passes (-ETIMEDOUT). POLLHUP/POLLERR
 * count as ready: the following read or send reports what actually happened. */
static int wait_fd(int fd, short events, usec_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int timeout_ms = -1;
                int r;

                if (deadline != USEC_INFINITY) {
                        usec_t n = now_usec(CLOCK_MONOTONIC);
                        usec_t left;

                        if (n >= deadline)
                                return -ETIMEDOUT;
                        /* Round up, so we never spin with a 0 ms poll just before the deadline. */
                        left = (deadline - n + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
                        timeout_ms = (int) MIN(left, (usec_t) INT_MAX);
                }

                r = poll(&p, 1, timeout_ms);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        continue; /* the deadline check above decides */
                if (p.revents & POLLNVAL)
                        return -EBADF;
                return 0;
        }
}

static int connect_socket(const char *path, usec_t deadline, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        size_t l = strlen(path);
        int flags;

        if (l >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, l + 1);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;

        /* A non-blocking AF_UNIX connect() fails with EAGAIN when the listen backlog is full
         * rather than completing later, so we connect blocking; Linux bounds that wait by the
         * send timeout, which is how --timeout covers a daemon too busy to accept. */
        if (deadline != USEC_INFINITY) {
                usec_t n = now_usec(CLOCK_MONOTONIC);
                usec_t left = deadline > n ? deadline - n : 1; /* 0 would mean "no timeout" */
                struct timeval tv = {
                        .tv_sec = (time_t) (left / USEC_PER_SEC),
                        .tv_usec = (suseconds_t) (left % USEC_PER_SEC),
                };

                if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                        return -errno;
        }

        if (connect(fd, (const struct sockaddr *) &sa,
                    (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1)) < 0)
                return errno == EAGAIN && deadline != USEC_INFINITY ? -ETIMEDOUT : -errno;

        /* From here on poll() enforces the deadline, which needs non-blocking I/O. */
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;

        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int send_all(int fd, const char *p, size_t n, usec_t deadline) {
        while (n > 0) {
                ssize_t k;
                int r;

                /* MSG_NOSIGNAL: a daemon that went away must give us EPIPE, not kill us. */
                k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                r = wait_fd(fd, POLLOUT, deadline);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static bool is_blank(const char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!strchr(" \t\r\n", p[i]))
                        return false;
        return true;
}

int parse_json_value(const char *text, size_t len, json_object **ret) {
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        _cleanup_json_ json_object *j = NULL;
        size_t end;

        if (len > INT_MAX)
                return -EMSGSIZE;

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

        j = json_tokener_parse_ex(tok, text, (int) len);
        if (!j || json_tokener_get_error(tok) != json_tokener_success)
                return -EBADMSG;

        /* One value per line: anything but whitespace after it is a framing error. */
        end = json_tokener_get_parse_end(tok);
        if (end > len || !is_blank(text + end, len - end))
                return -EBADMSG;

        *ret = TAKE_PTR(j);
        return 0;
}

/* Returns 1 and the reply if the line answers our request, 0 for anything else (server
 * notifications have no "id"; with ret_event, they are handed back there), negative errno if
 * the line is not JSON. */
static int consider_line(const char *line, size_t len, json_object **ret_reply, json_object **ret_event) {
        _cleanup_json_ json_object *j = NULL;
        json_object *id;
        int r;

        if (is_blank(line, len))
                return 0;

        r = parse_json_value(line, len, &j);
        if (r < 0)
                return r;

        if (ret_event && json_object_is_type(j, json_type_object) && !json_object_object_get_ex(j, "id", NULL) &&
            json_object_object_get_ex(j, "method", NULL)) {
                *ret_event = TAKE_PTR(j);
                return 0;
        }

        if (!json_object_is_type(j, json_type_object))
                return 0;
        if (!json_object_object_get_ex(j, "id", &id))
                return 0; /* a notification */

        /* A null id is the daemon telling us it could not read our request at all (ParseError);
         * with one request per connection it can only be about ours. */
        if (!json_object_is_type(id, json_type_null) &&
            !(json_object_is_type(id, json_type_int) && json_object_get_int64(id) == REQUEST_ID))
                return 0;

        if (!json_object_object_get_ex(j, "error", NULL) && !json_object_object_get_ex(j, "result", NULL))
                return -EBADMSG;

        *ret_reply = TAKE_PTR(j);
        return 1;
}

static void line_reader_done(LineReader *lr) {
        free(lr->buf);
        *lr = (LineReader) {};
}

/* Reads lines until the reply to our request arrives, or — with ret_event — until a server
 * notification arrives (returned there; *ret_reply untouched). -ECONNRESET: the daemon closed
 * the connection first; -ETIMEDOUT; -EMSGSIZE: a line over the protocol limit; -EBADMSG. */
static int read_message(int fd, usec_t deadline, LineReader *lr, json_object **ret_reply, json_object **ret_event) {
        /* One line of up to LINE_MAX_BYTES plus its '\n' is the most we ever need to hold:
         * complete lines are consumed as soon as they are seen. */
        const size_t capacity = LINE_MAX_BYTES + 1;
        char *buf = lr->buf;
        size_t allocated = lr->allocated, start = lr->start, used = lr->used, scanned = lr->scanned;
        int r;

#define SAVE() (*lr = (LineReader) { .buf = buf, .allocated = allocated, .start = start, .used = used, .scanned = scanned })
        for (;;) {
                char *nl = used > scanned ? memchr(buf + scanned, '\n', used - scanned) : NULL;
                ssize_t k;

                if (nl) {
                        size_t end = (size_t) (nl - buf);

                        r = consider_line(buf + start, end - start, ret_reply, ret_event);
                        start = scanned = end + 1;
                        if (r != 0 || (ret_event && *ret_event)) {
                                SAVE();
                                return r < 0 ? r : 0;
                        }
                        continue;
                }

                /* Move the partial line to the front only now, once per read rather than once
                 * per line, so a burst of small notifications costs linear time. */
                if (start > 0) {
                        memmove(buf, buf + start, used - start);
                        used -= start;
                        start = 0;
                }
                scanned = used;

                if (used >= capacity) {
                        SAVE();
                        return -EMSGSIZE;
                }

                if (allocated - used < READ_CHUNK && allocated < capacity) {
                        size_t n = MIN(MAX(allocated * 2, used + READ_CHUNK), capacity);
                        char *p = realloc(buf, n);

                        if (!p) {
                                SAVE();
                                return -ENOMEM;
                        }
                        buf = p;
                        allocated = n;
                }

                k = read(fd, buf + used, allocated - used);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                r = wait_fd(fd, POLLIN, deadline);
                                if (r < 0) {
                                        SAVE();
                                        return r;
                                }
                                continue;
                        }
                        r = -errno;
                        SAVE();
                        return r;
                }
                if (k == 0) {
                        /* Be lenient about a final reply whose '\n' never came. */
                        if (used > 0) {
                                r = consider_line(buf, used, ret_reply, NULL);
                                start = scanned = used = 0;
                                SAVE();
                                if (r != 0)
                                        return r < 0 ? r : 0;
                        }
                        SAVE();
                        return -ECONNRESET;
                }
                used += (size_t) k;
        }
#undef SAVE
}

static void format_timeout(usec_t t, char *buf, size_t size) {
        snprintf(buf, size, "%g s", (double) t / (double) USEC_PER_SEC);
}

/* Says why reading what (the reply, the next event) from the daemon failed. */
static void report_read_error(const Connection *c, int r, const char *what) {
        char t[32];

        format_timeout(c->timeout, t, sizeof(t));
        switch (r) {
        case -ETIMEDOUT:
                fprintf(stderr, PROGRAM_NAME ": timed out after %s waiting for %s from %s\n", t, what, c->socket_path);
                break;
        case -ECONNRESET:
        case -EPIPE:
                fprintf(stderr, PROGRAM_NAME ": connection to %s closed before %s\n", c->socket_path, what);
                break;
        case -EMSGSIZE:
                fprintf(stderr, PROGRAM_NAME ": a line from %s exceeds %zu MiB\n",
                        c->socket_path, LINE_MAX_BYTES >> 20);
                break;
        case -EBADMSG:
                fprintf(stderr, PROGRAM_NAME ": malformed %s from %s\n", streq(what, "the reply") ? "reply" : "event",
                        c->socket_path);
                break;
        case -ENOMEM:
                (void) log_oom();
                break;
        default:
                fprintf(stderr, PROGRAM_NAME ": cannot read %s from %s: %s\n", what, c->socket_path, strerror(-r));
        }
}

/* {"jsonrpc":"2.0","id":REQUEST_ID,"method":…,"params":…} as one line with its '\n'. */
static int build_request(const char *method, json_object *params, char **ret_line, size_t *ret_len) {
        _cleanup_json_ json_object *req = NULL;
        int r;

        req = json_object_new_object();
        if (!req)
                return -ENOMEM;
        r = json_add(req, "jsonrpc", json_object_new_string("2.0"));
        if (r >= 0)
                r = json_add(req, "id", json_object_new_int(REQUEST_ID));
        if (r >= 0)
                r = json_add(req, "method", json_object_new_string(method));
        if (r >= 0 && params)
                r = json_add(req, "params", json_object_get(params));
        if (r < 0)
                return r;

        /* rpc_serialize() writes PLAIN JSON, which never holds a newline that would end our
         * line early. */
        return rpc_serialize(req, ret_line, ret_len);
}

int connection_call(Connection *c, const char *socket_path, usec_t timeout, const char *method,
                    json_object *params, bool keep_open, json_object **ret_reply) {
        _cleanup_free_ char *request = NULL;
        size_t request_len;
        char t[32];
        int r;

        c->socket_path = socket_path;
        c->timeout = timeout;

        r = build_request(method, params, &request, &request_len);
        if (r < 0)
                return log_oom();

        c->deadline = deadline_from_timeout(timeout);
        format_timeout(timeout, t, sizeof(t));

        r = connect_socket(socket_path, c->deadline, &c->fd);
        if (r < 0) {
                fprintf(stderr, PROGRAM_NAME ": cannot connect to %s: %s%s%s\n",
                        socket_path, strerror(-r),
                        r == -ETIMEDOUT ? " after " : "", r == -ETIMEDOUT ? t : "");
                return r;
        }

        r = send_all(c->fd, request, request_len, c->deadline);
        if (r == -ETIMEDOUT) {
                fprintf(stderr, PROGRAM_NAME ": timed out after %s sending the request to %s\n", t, socket_path);
                goto fail;
        }
        /* On EPIPE/ECONNRESET the daemon may still have left a reply (e.g. a limit error)
         * in our receive buffer before closing, so read it before giving up. */
        if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
                fprintf(stderr, PROGRAM_NAME ": cannot send the request to %s: %s\n", socket_path, strerror(-r));
                goto fail;
        }

        r = read_message(c->fd, c->deadline, &c->reader, ret_reply, NULL);
        if (r < 0) {
                report_read_error(c, r, "the reply");
                goto fail;
        }
        if (!keep_open)
                connection_done(c);
        return 0;

fail:
        connection_done(c);
        return r;
}

int connection_read_event(Connection *c, const char *what, json_object **ret_event) {
        _cleanup_json_ json_object *reply = NULL; /* a stray one, dropped */
        int r;

        r = read_message(c->fd, c->deadline, &c->reader, &reply, ret_event);
        if (r < 0)
                report_read_error(c, r, what);
        return r;
}

void connection_done(Connection *c) {
        line_reader_done(&c->reader);
        if (c->fd >= 0)
                (void) close(c->fd);
        c->fd = -EBADF;
}
