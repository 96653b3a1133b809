/* SPDX-License-Identifier: MIT */
/*
 * mediacancelctl.c — the command-line client of mediacanceld. It owns argument parsing, one
 * JSON-RPC 2.0 round trip over the daemon's Unix socket (one request line out, lines in until
 * the reply with our id, server notifications skipped, everything bounded by --timeout) and
 * the rendering of the result: raw JSON with --json, aligned text for people otherwise.
 *
 * It deliberately shares nothing with the daemon but macro.h: it validates no parameter the
 * daemon validates, so the daemon stays the single authority on what a request may contain.
 *
 * `watch` (and `cancel --wait`) keep the connection open past the reply: watch prints each
 * operation.changed event for its operation until the operation is settled.
 *
 * Exit status: 0 success, 1 the daemon answered with an error (or output could not be
 * written; for watch and cancel --wait also: the operation ended failed or unknown), 2 usage
 * error, 3 no usable conversation with the daemon (connect failed, the connection dropped,
 * timeout, reply not understood).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "macro.h"
#include "json-util.h"

#define PROGRAM_NAME "mediacancelctl"
#define PROGRAM_VERSION "0.1.0"
#define DEFAULT_SOCKET_PATH "/run/mediacancel/mediacanceld.sock"
#define SOCKET_ENV "MEDIACANCEL_SOCKET"
#define DEFAULT_TIMEOUT_SEC 60

/* The protocol caps a line at 16 MiB (not counting the '\n'); a longer line means the peer is
 * not the daemon we know, so we stop instead of buffering without bound. */
#define LINE_MAX_BYTES ((size_t) 16 * 1024 * 1024)
#define READ_CHUNK ((size_t) 64 * 1024)

/* We send exactly one request per connection, so a constant id is enough to match it. */
#define REQUEST_ID 1

#define EXIT_DAEMON_ERROR 1
#define EXIT_USAGE 2
#define EXIT_COMMUNICATION 3

typedef uint64_t usec_t;
#define USEC_INFINITY UINT64_MAX
#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

static inline void json_tokener_freep(json_tokener **t) {
        if (*t)
                json_tokener_free(*t);
}

/* Per-command options, as bits so one table says which command accepts which. */
enum {
        OPTION_CONTEXT = 1 << 0,
        OPTION_ALL = 1 << 1,
        OPTION_CALL = 1 << 2,
        OPTION_STATUS = 1 << 3,
        OPTION_LIMIT = 1 << 4,
        OPTION_WAIT = 1 << 5,
};

typedef enum Command {
        COMMAND_CANCEL,
        COMMAND_GET,
        COMMAND_LIST,
        COMMAND_STATUS,
        COMMAND_WATCH,
        COMMAND_DELIVER,
} Command;

typedef struct CommandInfo {
        const char *name;
        const char *method;
        const char *argument; /* name of the one positional argument, NULL if none */
        unsigned options;     /* OPTION_* bits this command accepts */
} CommandInfo;

static const CommandInfo command_table[] = {
        [COMMAND_CANCEL] = { "cancel", "cancel", "CALL_ID", OPTION_CONTEXT | OPTION_ALL | OPTION_WAIT },
        [COMMAND_GET] = { "get", "operation.get", "OPERATION_ID", 0 },
        [COMMAND_LIST] = { "list", "operation.list", NULL, OPTION_CALL | OPTION_STATUS | OPTION_LIMIT },
        [COMMAND_STATUS] = { "status", "status", NULL, 0 },
        [COMMAND_WATCH] = { "watch", "operation.watch", "OPERATION_ID", 0 },
        [COMMAND_DELIVER] = { "deliver", "notifications.deliver", "FILE", 0 },
};

typedef struct Arguments {
        const char *socket_path;
        bool json;
        usec_t timeout; /* USEC_INFINITY: wait forever */
        bool have_timeout;
        Command command;
        const char *argument;
        const char *context;
        bool all;
        const char *call;
        const char *status;
        bool have_limit;
        int64_t limit;
        bool wait;
        json_object *body; /* deliver: the notification body read from FILE */
} Arguments;

static int log_usage(const char *fmt, ...) _printf_(1, 2);
static int log_usage(const char *fmt, ...) {
        va_list ap;

        fputs(PROGRAM_NAME ": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(" (see '" PROGRAM_NAME " --help')\n", stderr);
        return -EINVAL;
}

static void help(void) {
        printf("Usage: %s [OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "Ask mediacanceld to cancel media processing on a call, and follow the result.\n"
               "\n"
               "Commands:\n"
               "  cancel CALL_ID        Cancel queued prompts/recordings on a call\n"
               "      --context TEXT    Client context to attach to the operation\n"
               "      --all             Stop all operations, not only the current one\n"
               "                        (only the old beta Graph API takes this)\n"
               "      --wait            Answer only once the operation is completed,\n"
               "                        failed or unknown (exit 1 unless completed)\n"
               "  get OPERATION_ID      Show one operation\n"
               "  list                  List operations\n"
               "      --call CALL_ID    Only operations for this call\n"
               "      --status STATUS   Only operations in this status\n"
               "      --limit N         At most N operations\n"
               "  status                Show the daemon's state\n"
               "  watch OPERATION_ID    Show the operation, then each change until it is\n"
               "                        settled (exit 0 completed, 1 failed or unknown)\n"
               "  deliver FILE|-        Pass a Graph notification body (JSON) to the daemon\n"
               "\n"
               "Options:\n"
               "  -h --help             Show this help\n"
               "     --version          Show the version\n"
               "     --socket PATH      Daemon socket (default: $%s,\n"
               "                        else %s)\n"
               "     --json             Print the raw JSON result\n"
               "     --timeout SEC      Give up after SEC seconds (default %d, 0: never;\n"
               "                        watch and cancel --wait: never)\n"
               "\n"
               "Exit status: 0 success, 1 the daemon reported an error, 2 usage error,\n"
               "3 could not talk to the daemon (connect, dropped connection, timeout).\n",
               PROGRAM_NAME,
               SOCKET_ENV,
               DEFAULT_SOCKET_PATH,
               DEFAULT_TIMEOUT_SEC);
}

/* Seconds, fractions allowed; 0 or "infinity" waits forever, like systemd's timeouts. */
static int parse_timeout(const char *s, usec_t *ret) {
        char *end;
        double d;

        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || isnan(d) || d < 0)
                return -EINVAL;

        /* Anything beyond a few decades is "forever" in practice; this also keeps the
         * conversion below inside usec_t. */
        if (d == 0 || d > 1e9)
                *ret = USEC_INFINITY;
        else
                *ret = MAX((usec_t) (d * (double) USEC_PER_SEC), (usec_t) 1);
        return 0;
}

static int parse_int64(const char *s, int64_t *ret) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

static int find_command(const char *name, Command *ret) {
        for (size_t i = 0; i < ELEMENTSOF(command_table); i++)
                if (streq(command_table[i].name, name)) {
                        *ret = (Command) i;
                        return 0;
                }
        return -ENOENT;
}

static const char *option_name(unsigned bit) {
        switch (bit) {
        case OPTION_CONTEXT:
                return "--context";
        case OPTION_ALL:
                return "--all";
        case OPTION_CALL:
                return "--call";
        case OPTION_STATUS:
                return "--status";
        case OPTION_LIMIT:
                return "--limit";
        case OPTION_WAIT:
                return "--wait";
        }
        return "?";
}

/* Checks that the positional arguments and per-command options fit the command. */
static int check_command(Arguments *a, char **positional, size_t n_positional, unsigned seen) {
        const CommandInfo *info;
        size_t want;

        if (n_positional == 0)
                return log_usage("missing command");
        if (isempty(positional[0]))
                return log_usage("empty command");
        if (find_command(positional[0], &a->command) < 0)
                return log_usage("unknown command '%s'", positional[0]);

        info = &command_table[a->command];
        want = info->argument ? 1 : 0;
        if (n_positional - 1 < want)
                return log_usage("'%s' needs %s", info->name, info->argument);
        if (n_positional - 1 > want)
                return log_usage("too many arguments for '%s'", info->name);
        if (want > 0) {
                if (isempty(positional[1]))
                        return log_usage("%s must not be empty", info->argument);
                a->argument = positional[1];
        }

        for (unsigned bit = 1; bit <= OPTION_WAIT; bit <<= 1)
                if ((seen & bit) && !(info->options & bit))
                        return log_usage("option %s does not apply to '%s'", option_name(bit), info->name);

        return 0;
}

/* Returns 1 to go on, 0 when --help/--version already did the job, -EINVAL on usage errors
 * (after printing a one-line hint). */
static int parse_argv(int argc, char *argv[], Arguments *a) {
        enum {
                ARG_VERSION = 0x100,
                ARG_SOCKET,
                ARG_JSON,
                ARG_TIMEOUT,
                ARG_CONTEXT,
                ARG_ALL,
                ARG_CALL,
                ARG_STATUS,
                ARG_LIMIT,
                ARG_WAIT,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "json", no_argument, NULL, ARG_JSON },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "context", required_argument, NULL, ARG_CONTEXT },
                { "all", no_argument, NULL, ARG_ALL },
                { "call", required_argument, NULL, ARG_CALL },
                { "status", required_argument, NULL, ARG_STATUS },
                { "limit", required_argument, NULL, ARG_LIMIT },
                { "wait", no_argument, NULL, ARG_WAIT },
                {}
        };
        _cleanup_free_ char **positional = NULL;
        size_t n_positional = 0;
        unsigned seen = 0;
        int c;

        /* Room for every argv entry, so collecting positionals below can never overflow. */
        positional = calloc((size_t) argc + 1, sizeof(char *));
        if (!positional) {
                fputs(PROGRAM_NAME ": out of memory\n", stderr);
                return -ENOMEM;
        }

        /* "-" makes getopt hand us positionals in order (c == 1) whatever POSIXLY_CORRECT says,
         * so options may come before or after the command; ":" lets us word the errors. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "-:h", options, NULL)) >= 0) {
                switch (c) {
                case 1:
                        positional[n_positional++] = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        puts(PROGRAM_NAME " " PROGRAM_VERSION);
                        return 0;
                case ARG_SOCKET:
                        if (isempty(optarg))
                                return log_usage("--socket must not be empty");
                        a->socket_path = optarg;
                        break;
                case ARG_JSON:
                        a->json = true;
                        break;
                case ARG_TIMEOUT:
                        if (parse_timeout(optarg, &a->timeout) < 0)
                                return log_usage("invalid --timeout '%s', expected seconds", optarg);
                        a->have_timeout = true;
                        break;
                case ARG_CONTEXT:
                        if (isempty(optarg))
                                return log_usage("--context must not be empty");
                        a->context = optarg;
                        seen |= OPTION_CONTEXT;
                        break;
                case ARG_ALL:
                        a->all = true;
                        seen |= OPTION_ALL;
                        break;
                case ARG_CALL:
                        if (isempty(optarg))
                                return log_usage("--call must not be empty");
                        a->call = optarg;
                        seen |= OPTION_CALL;
                        break;
                case ARG_STATUS:
                        if (isempty(optarg))
                                return log_usage("--status must not be empty");
                        a->status = optarg;
                        seen |= OPTION_STATUS;
                        break;
                case ARG_LIMIT:
                        if (parse_int64(optarg, &a->limit) < 0)
                                return log_usage("invalid --limit '%s', expected an integer", optarg);
                        a->have_limit = true;
                        seen |= OPTION_LIMIT;
                        break;
                case ARG_WAIT:
                        a->wait = true;
                        seen |= OPTION_WAIT;
                        break;
                case ':':
                        return log_usage("option '%s' needs an argument", argv[optind - 1]);
                case '?':
                        /* getopt sets optopt to the character for short options, to the
                         * option's value for "--flag=arg" on a flag, and to 0 otherwise. */
                        if (optopt > 0 && optopt < 0x100)
                                return log_usage("unknown option '-%c'", optopt);
                        if (optopt >= 0x100)
                                return log_usage("option '%s' takes no argument", argv[optind - 1]);
                        return log_usage("unknown or ambiguous option '%s'", argv[optind - 1]);
                default:
                        return log_usage("unexpected option");
                }
        }

        /* Whatever follows "--" is positional, e.g. an id that starts with a dash. */
        for (; optind < argc; optind++)
                positional[n_positional++] = argv[optind];

        if (check_command(a, positional, n_positional, seen) < 0)
                return -EINVAL;

        return 1;
}

static usec_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

static usec_t deadline_from_timeout(usec_t timeout) {
        if (timeout == USEC_INFINITY)
                return USEC_INFINITY;
        return now_usec() + timeout;
}

/* Waits until fd is ready for events or the deadline passes (-ETIMEDOUT). POLLHUP/POLLERR
 * count as ready: the following read or send reports what actually happened. */
static int wait_fd(int fd, short events, usec_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int timeout_ms = -1;
                int r;

                if (deadline != USEC_INFINITY) {
                        usec_t n = now_usec();
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
                usec_t n = now_usec();
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

static int parse_json_line(const char *line, size_t len, json_object **ret) {
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        _cleanup_json_ json_object *j = NULL;
        size_t end;

        if (len > INT_MAX)
                return -EMSGSIZE;

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

        j = json_tokener_parse_ex(tok, line, (int) len);
        if (!j || json_tokener_get_error(tok) != json_tokener_success)
                return -EBADMSG;

        /* One value per line: anything but whitespace after it is a framing error. */
        end = json_tokener_get_parse_end(tok);
        if (end > len || !is_blank(line + end, len - end))
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

        r = parse_json_line(line, len, &j);
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

/* What has been read from the daemon but not consumed yet; it outlives one reply, so that
 * watch can go on reading events after it. */
typedef struct LineReader {
        char *buf;
        /* buf[start..used) is unconsumed input, of which buf[start..scanned) has no '\n'. */
        size_t allocated, start, used, scanned;
} LineReader;

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

static int json_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int build_params(const Arguments *a, json_object **ret) {
        _cleanup_json_ json_object *p = NULL;
        int r = 0;

        if (a->command == COMMAND_STATUS) {
                *ret = NULL; /* "status" takes no params, so we send none */
                return 0;
        }

        p = json_object_new_object();
        if (!p)
                return -ENOMEM;

        /* Only what the user gave: the daemon owns the defaults. */
        switch (a->command) {
        case COMMAND_CANCEL:
                r = json_add(p, "callId", json_object_new_string(a->argument));
                if (r >= 0 && a->context)
                        r = json_add(p, "clientContext", json_object_new_string(a->context));
                if (r >= 0 && a->all)
                        r = json_add(p, "all", json_object_new_boolean(1));
                if (r >= 0 && a->wait)
                        r = json_add(p, "wait", json_object_new_string("completed"));
                break;
        case COMMAND_GET:
        case COMMAND_WATCH:
                r = json_add(p, "operationId", json_object_new_string(a->argument));
                break;
        case COMMAND_DELIVER:
                /* The body as Graph sent it is the params, unchanged. */
                json_object_put(TAKE_PTR(p));
                *ret = json_object_get(a->body);
                return 0;
        case COMMAND_LIST:
                if (a->call)
                        r = json_add(p, "callId", json_object_new_string(a->call));
                if (r >= 0 && a->status)
                        r = json_add(p, "status", json_object_new_string(a->status));
                if (r >= 0 && a->have_limit)
                        r = json_add(p, "limit", json_object_new_int64(a->limit));
                break;
        case COMMAND_STATUS:
                break;
        }
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

static int build_request(const Arguments *a, char **ret_line) {
        _cleanup_json_ json_object *req = NULL, *params = NULL;
        const char *s;
        char *line;
        int r;

        r = build_params(a, &params);
        if (r < 0)
                return r;

        req = json_object_new_object();
        if (!req)
                return -ENOMEM;
        r = json_add(req, "jsonrpc", json_object_new_string("2.0"));
        if (r >= 0)
                r = json_add(req, "id", json_object_new_int(REQUEST_ID));
        if (r >= 0)
                r = json_add(req, "method", json_object_new_string(command_table[a->command].method));
        if (r >= 0 && params)
                r = json_add(req, "params", TAKE_PTR(params));
        if (r < 0)
                return r;

        /* PLAIN never emits a newline, which would end our line early. */
        s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s || asprintf(&line, "%s\n", s) < 0)
                return -ENOMEM;

        *ret_line = line;
        return 0;
}

static void format_timeout(usec_t t, char *buf, size_t size) {
        snprintf(buf, size, "%g s", (double) t / (double) USEC_PER_SEC);
}

/* Says why reading what (the reply, the next event) from the daemon failed. */
static void report_read_error(const Arguments *a, int r, const char *what) {
        char t[32];

        format_timeout(a->timeout, t, sizeof(t));
        switch (r) {
        case -ETIMEDOUT:
                fprintf(stderr, PROGRAM_NAME ": timed out after %s waiting for %s from %s\n", t, what, a->socket_path);
                break;
        case -ECONNRESET:
        case -EPIPE:
                fprintf(stderr, PROGRAM_NAME ": connection to %s closed before %s\n", a->socket_path, what);
                break;
        case -EMSGSIZE:
                fprintf(stderr, PROGRAM_NAME ": a line from %s exceeds %zu MiB\n",
                        a->socket_path, LINE_MAX_BYTES >> 20);
                break;
        case -EBADMSG:
                fprintf(stderr, PROGRAM_NAME ": malformed %s from %s\n", streq(what, "the reply") ? "reply" : "event",
                        a->socket_path);
                break;
        case -ENOMEM:
                fputs(PROGRAM_NAME ": out of memory\n", stderr);
                break;
        default:
                fprintf(stderr, PROGRAM_NAME ": cannot read %s from %s: %s\n", what, a->socket_path, strerror(-r));
        }
}

/* One request, one reply. Prints the reason for a failure (it is always about the
 * conversation, never about the request) and returns negative errno. With ret_fd, the
 * connection, what was read past the reply and the deadline are handed back, for reading
 * events. */
static int call_daemon(const Arguments *a, json_object **ret_reply, int *ret_fd, LineReader *ret_lr,
                       usec_t *ret_deadline) {
        _cleanup_free_ char *request = NULL;
        _cleanup_close_ int fd = -EBADF;
        LineReader lr = {};
        usec_t deadline;
        char t[32];
        int r;

        r = build_request(a, &request);
        if (r < 0) {
                fputs(PROGRAM_NAME ": out of memory\n", stderr);
                return r;
        }

        deadline = deadline_from_timeout(a->timeout);
        format_timeout(a->timeout, t, sizeof(t));

        r = connect_socket(a->socket_path, deadline, &fd);
        if (r < 0) {
                fprintf(stderr, PROGRAM_NAME ": cannot connect to %s: %s%s%s\n",
                        a->socket_path, strerror(-r),
                        r == -ETIMEDOUT ? " after " : "", r == -ETIMEDOUT ? t : "");
                return r;
        }

        r = send_all(fd, request, strlen(request), deadline);
        if (r == -ETIMEDOUT) {
                fprintf(stderr, PROGRAM_NAME ": timed out after %s sending the request to %s\n", t, a->socket_path);
                return r;
        }
        /* On EPIPE/ECONNRESET the daemon may still have left a reply (e.g. a limit error)
         * in our receive buffer before closing, so read it before giving up. */
        if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
                fprintf(stderr, PROGRAM_NAME ": cannot send the request to %s: %s\n", a->socket_path, strerror(-r));
                return r;
        }

        r = read_message(fd, deadline, &lr, ret_reply, NULL);
        if (r == 0 && ret_fd) {
                *ret_fd = TAKE_FD(fd);
                *ret_lr = lr;
                *ret_deadline = deadline;
                return 0;
        }
        line_reader_done(&lr);
        if (r < 0)
                report_read_error(a, r, "the reply");
        return r;
}

/* Writes text from the daemon, which may come from other local services or from Graph, so
 * that it cannot drive the terminal: C0/C1 controls become '?' (whitespace becomes a space,
 * which keeps every message on one line). */
static void put(FILE *f, const char *s) {
        const unsigned char *p = (const unsigned char *) strempty(s);

        for (; *p; p++) {
                if (*p == '\t' || *p == '\n' || *p == '\r')
                        fputc(' ', f);
                else if (*p < 0x20 || *p == 0x7f)
                        fputc('?', f);
                else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
                        fputc('?', f); /* U+0080..U+009F, e.g. the one-byte CSI */
                        p++;
                } else
                        fputc(*p, f);
        }
}

/* Writes JSON text and a newline, like puts(), with DEL and the C1 controls (U+0080..U+009F)
 * escaped as \u007f..\u009f: json-c escapes only C0, and --json output is read by people too,
 * on terminals that take U+009B for CSI. The text stays the same JSON value: outside strings
 * JSON text is ASCII, so these bytes can only be inside one. */
static void put_json_line(FILE *f, const char *s) {
        const unsigned char *p = (const unsigned char *) strempty(s);

        for (; *p; p++) {
                if (*p == 0x7f)
                        fputs("\\u007f", f);
                else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
                        fprintf(f, "\\u%04x", (unsigned) p[1]);
                        p++;
                } else
                        fputc(*p, f);
        }
        fputc('\n', f);
}

/* Terminal columns that put() will use, counting each UTF-8 sequence as one. */
static size_t columns(const char *s) {
        size_t n = 0;

        for (const unsigned char *p = (const unsigned char *) strempty(s); *p; p++)
                if ((*p & 0xc0) != 0x80)
                        n++;
        return n;
}

/* The text of a member, or NULL if it is absent or null. Non-strings come back as their JSON
 * text, so a daemon that sends a number where we expect a string still shows up readably. */
static const char *member(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            json_object_is_type(v, json_type_null))
                return NULL;
        return json_object_get_string(v);
}

static json_object *member_object(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_object))
                return NULL;
        return v;
}

/* "2026-11-26T21:00:00.123Z" (or with a ±hh:mm offset) → local time, e.g.
 * "2026-11-26 22:00:00.123 CET". -EINVAL if it is not RFC 3339; callers then show it as is. */
static int format_timestamp(const char *s, char *buf, size_t size) {
        struct tm tm = {};
        int year, mon, day, hour, min, sec, n = 0;
        char frac[4] = "";
        long offset = 0;
        size_t l, k;
        time_t t;
        const char *p;

        if (!s || sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n",
                         &year, &mon, &day, &hour, &min, &sec, &n) != 6 || n == 0)
                return -EINVAL;
        if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
                return -EINVAL;

        p = s + n;
        if (*p == '.') {
                size_t i = 0;

                for (p++; *p >= '0' && *p <= '9'; p++)
                        if (i < 3)
                                frac[i++] = *p;
                if (i == 0)
                        return -EINVAL;
                while (i < 3)
                        frac[i++] = '0';
        }

        if (*p == 'Z' || *p == 'z')
                p++;
        else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
                int oh, om;

                if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
                        return -EINVAL;
                offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
                p += 6;
        } else
                return -EINVAL;
        if (*p != '\0')
                return -EINVAL;

        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        t = timegm(&tm) - offset;
        if (!localtime_r(&t, &tm))
                return -EINVAL;

        l = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
        if (l == 0)
                return -EINVAL;
        if (frac[0]) {
                if (l + 4 >= size)
                        return -EINVAL;
                buf[l++] = '.';
                memcpy(buf + l, frac, 4);
                l += 3;
        }
        k = strftime(buf + l, size - l, " %Z", &tm);
        if (k == 0)
                buf[l] = '\0'; /* no zone name: the time alone is still right */
        return 0;
}

static void put_timestamp(FILE *f, const char *s) {
        char buf[128];

        put(f, format_timestamp(s, buf, sizeof(buf)) >= 0 ? buf : s);
}

static void put_key(int width, const char *key) {
        printf("%*s: ", width, key);
}

static void print_field(int width, const char *key, const char *value) {
        if (!value)
                return;
        put_key(width, key);
        put(stdout, value);
        putchar('\n');
}

static void print_time_field(int width, const char *key, const char *value) {
        if (!value)
                return;
        put_key(width, key);
        put_timestamp(stdout, value);
        putchar('\n');
}

/* "200/0 message" */
static void put_result_info(json_object *ri) {
        const char *msg = member(ri, "message");

        put(stdout, member(ri, "code") ?: "-");
        putchar('/');
        put(stdout, member(ri, "subcode") ?: "-");
        if (msg) {
                putchar(' ');
                put(stdout, msg);
        }
}

/* The members of an error's data worth showing after its message, in this order. The
 * first ERROR_DETAILS_HEAD of them also lead an operation's error line. */
#define ERROR_DETAILS_HEAD 2
static const struct {
        const char *key;
        const char *prefix;
        const char *suffix;
} error_details[] = {
        { "httpStatus", "HTTP ", "" },
        { "graphCode", "", "" },
        { "reason", "", "" },
        { "aadsts", "", "" },
        { "param", "param ", "" },
        { "limit", "limit ", "" },
        { "retryAfterMs", "retry after ", " ms" },
        { "requestId", "request-id ", "" },
};

/* " (HTTP 404, itemNotFound, request-id …)", or nothing when data has none of them. */
static void put_error_details(FILE *f, json_object *data, size_t first_detail) {
        bool first = true;

        for (size_t i = first_detail; i < ELEMENTSOF(error_details); i++) {
                const char *v = member(data, error_details[i].key);

                if (!v)
                        continue;
                fputs(first ? " (" : ", ", f);
                fputs(error_details[i].prefix, f);
                put(f, v);
                fputs(error_details[i].suffix, f);
                first = false;
        }
        if (!first)
                fputc(')', f);
}

/* "GraphError 404 itemNotFound: message (request-id …)"; an operation's error carries the
 * data members inline, next to class and message. */
static void put_operation_error(json_object *e) {
        const char *msg = member(e, "message"), *class = member(e, "class");
        bool any = false;

        if (class) {
                put(stdout, class);
                any = true;
        }
        for (size_t i = 0; i < ERROR_DETAILS_HEAD; i++) {
                const char *v = member(e, error_details[i].key);

                if (!v)
                        continue;
                fputs(any ? " " : "", stdout);
                put(stdout, v);
                any = true;
        }
        if (msg) {
                fputs(any ? ": " : "", stdout);
                put(stdout, msg);
                any = true;
        }
        put_error_details(stdout, e, ERROR_DETAILS_HEAD);
}

static int print_operation(json_object *result) {
        const int w = (int) strlen("Graph operation");
        json_object *op = member_object(result, "operation"), *ri, *e;

        if (!op)
                return -EBADMSG;

        print_field(w, "ID", member(op, "id"));
        print_field(w, "Call", member(op, "callId"));
        print_field(w, "Context", member(op, "clientContext"));
        print_field(w, "Status", member(op, "status"));
        print_field(w, "Graph operation", member(op, "graphOperationId"));

        ri = member_object(op, "resultInfo");
        if (ri) {
                put_key(w, "Result");
                put_result_info(ri);
                putchar('\n');
        }

        e = member_object(op, "error");
        if (e) {
                put_key(w, "Error");
                put_operation_error(e);
                putchar('\n');
        }

        print_time_field(w, "Created", member(op, "createdAt"));
        print_time_field(w, "Updated", member(op, "updatedAt"));
        return 0;
}

enum { COLUMN_ID, COLUMN_CALL, COLUMN_STATUS, COLUMN_CREATED, _COLUMN_MAX };

/* The text of one table cell; CREATED is rendered in local time into buf. */
static const char *list_cell(json_object *op, unsigned column, char *buf, size_t size) {
        static const char *const keys[_COLUMN_MAX] = { "id", "callId", "status", "createdAt" };
        const char *v = member(op, keys[column]);

        if (!v)
                return "-";
        if (column == COLUMN_CREATED && format_timestamp(v, buf, size) >= 0)
                return buf;
        return v;
}

static int print_list(json_object *result) {
        static const char *const headers[_COLUMN_MAX] = { "ID", "CALL", "STATUS", "CREATED" };
        size_t width[_COLUMN_MAX];
        json_object *ops;
        size_t n;
        char buf[128];

        if (!json_object_is_type(result, json_type_object) || !json_object_object_get_ex(result, "operations", &ops) ||
            !json_object_is_type(ops, json_type_array))
                return -EBADMSG;

        n = json_object_array_length(ops);
        if (n == 0) {
                puts("No operations.");
                return 0;
        }

        /* Two passes, so the columns line up without keeping every cell around. */
        for (unsigned c = 0; c < _COLUMN_MAX; c++)
                width[c] = strlen(headers[c]);
        for (size_t i = 0; i < n; i++)
                for (unsigned c = 0; c < _COLUMN_MAX; c++) {
                        const char *cell = list_cell(json_object_array_get_idx(ops, i), c, buf, sizeof(buf));

                        width[c] = MAX(width[c], columns(cell));
                }

        for (unsigned c = 0; c < _COLUMN_MAX; c++)
                if (c + 1 < _COLUMN_MAX)
                        printf("%-*s  ", (int) width[c], headers[c]);
                else
                        printf("%s\n", headers[c]);

        for (size_t i = 0; i < n; i++)
                for (unsigned c = 0; c < _COLUMN_MAX; c++) {
                        const char *cell = list_cell(json_object_array_get_idx(ops, i), c, buf, sizeof(buf));

                        put(stdout, cell);
                        if (c + 1 < _COLUMN_MAX)
                                printf("%*s", (int) (width[c] - columns(cell) + 2), "");
                        else
                                putchar('\n');
                }

        return 0;
}

/* "12.5s", "3min 4s", "2d 5h 1min 0s": enough precision for a glance at the daemon. */
static void put_uptime(json_object *v) {
        double d;
        uint64_t s;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
                put(stdout, json_object_get_string(v));
                return;
        }
        d = json_object_get_double(v);
        if (!(d >= 0) || d > 1e15) {
                put(stdout, json_object_get_string(v));
                return;
        }
        if (d < 60) {
                printf("%.1fs", d);
                return;
        }

        s = (uint64_t) d;
        if (s >= 86400)
                printf("%" PRIu64 "d ", s / 86400);
        if (s >= 3600)
                printf("%" PRIu64 "h ", s / 3600 % 24);
        printf("%" PRIu64 "min %" PRIu64 "s", s / 60 % 60, s % 60);
}

static void print_status_token(int w, json_object *token) {
        const char *state = member(token, "state"), *expires = member(token, "expiresAt");
        json_object *last;

        if (state || expires) {
                put_key(w, "Token");
                put(stdout, state ?: "?");
                if (expires) {
                        fputs(", expires ", stdout);
                        put_timestamp(stdout, expires);
                }
                putchar('\n');
        }

        if (!json_object_object_get_ex(token, "lastError", &last) || json_object_is_type(last, json_type_null))
                return;

        put_key(w, "Token last error");
        if (json_object_is_type(last, json_type_object)) {
                const char *err = member(last, "error"), *aadsts = member(last, "aadsts"),
                           *msg = member(last, "message");

                put(stdout, err ?: "");
                if (aadsts) {
                        fputs(err ? " " : "", stdout);
                        put(stdout, aadsts);
                }
                if (msg) {
                        fputs(err || aadsts ? ": " : "", stdout);
                        put(stdout, msg);
                }
        } else
                put(stdout, json_object_get_string(last));
        putchar('\n');
}

/* "3 total: 2 completed, 1 failed". Zero counts are left out; statuses this client does not
 * know yet are shown all the same. */
static void print_status_operations(int w, json_object *ops) {
        const char *total = member(ops, "total");
        bool first = true;

        if (!ops)
                return;

        put_key(w, "Operations");
        put(stdout, total ?: "?");
        fputs(" total", stdout);
        json_object_object_foreach(ops, key, v) {
                if (streq(key, "total") || json_object_is_type(v, json_type_null))
                        continue;
                if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) == 0)
                        continue;
                fputs(first ? ": " : ", ", stdout);
                put(stdout, json_object_get_string(v));
                putchar(' ');
                put(stdout, key);
                first = false;
        }
        putchar('\n');
}

static int print_status(json_object *result) {
        const int w = (int) strlen("Token last error");
        const char *version = member(result, "version"), *proto = member(result, "protocolVersion");
        json_object *graph = member_object(result, "graph"), *token = member_object(result, "token"), *uptime;

        if (!json_object_is_type(result, json_type_object))
                return -EBADMSG;

        if (version || proto) {
                put_key(w, "Version");
                put(stdout, version ?: "?");
                if (proto) {
                        fputs(" (protocol ", stdout);
                        put(stdout, proto);
                        putchar(')');
                }
                putchar('\n');
        }

        if (json_object_object_get_ex(result, "uptimeSec", &uptime) && !json_object_is_type(uptime, json_type_null)) {
                put_key(w, "Uptime");
                put_uptime(uptime);
                putchar('\n');
        }

        if (token)
                print_status_token(w, token);

        print_field(w, "Graph endpoint", member(graph, "endpoint"));
        print_field(w, "Graph version", member(graph, "apiVersion"));
        print_field(w, "Calls path", member(graph, "callsPath"));
        print_field(w, "In flight", member(graph, "inFlight"));
        print_field(w, "Queued", member(graph, "queued"));

        print_status_operations(w, member_object(result, "operations"));
        print_field(w, "Connections", member(result, "connections"));
        return 0;
}

/* deliver: how many notifications the daemon applied to an operation, how many it ignored. */
static int print_deliver(json_object *result) {
        const int w = (int) strlen("Ignored");
        const char *matched = member(result, "matched"), *ignored = member(result, "ignored");

        if (!matched || !ignored)
                return -EBADMSG;
        print_field(w, "Matched", matched);
        print_field(w, "Ignored", ignored);
        return 0;
}

static const char *error_class_from_code(int64_t code) {
        static const struct {
                int64_t code;
                const char *class;
        } table[] = {
                { -32700, "ParseError" },        { -32600, "InvalidRequest" },
                { -32601, "MethodNotFound" },    { -32602, "InvalidParams" },
                { -32603, "InternalError" },     { -32001, "PermissionDenied" },
                { -32002, "TokenUnavailable" },  { -32003, "Throttled" },
                { -32004, "GraphError" },        { -32005, "OperationNotFound" },
                { -32006, "LimitExceeded" },     { -32007, "Timeout" },
                { -32008, "GraphUnreachable" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].code == code)
                        return table[i].class;
        return NULL;
}

/* One line: "mediacancelctl: CLASS: message (details)". The details are whichever of the
 * documented error.data members are present, so each class shows what it carries. */
static void print_daemon_error(json_object *error) {
        json_object *data = member_object(error, "data"), *code;
        const char *class = member(data, "class"), *msg = member(error, "message");

        fputs(PROGRAM_NAME ": ", stderr);
        if (class)
                put(stderr, class);
        else if (json_object_object_get_ex(error, "code", &code) && json_object_is_type(code, json_type_int) &&
                 error_class_from_code(json_object_get_int64(code)))
                fputs(error_class_from_code(json_object_get_int64(code)), stderr);
        else {
                fputs("error ", stderr);
                put(stderr, member(error, "code") ?: "?");
        }
        fputs(": ", stderr);
        put(stderr, msg ?: "(no message)");
        put_error_details(stderr, data, 0);
        fputc('\n', stderr);
}

static int print_result(const Arguments *a, json_object *result) {
        if (a->json) {
                const char *s = json_object_to_json_string_ext(
                                result, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

                if (!s)
                        return -ENOMEM;
                put_json_line(stdout, s);
                return 0;
        }

        switch (a->command) {
        case COMMAND_CANCEL:
        case COMMAND_GET:
                return print_operation(result);
        case COMMAND_LIST:
                return print_list(result);
        case COMMAND_STATUS:
                return print_status(result);
        case COMMAND_DELIVER:
                return print_deliver(result);
        case COMMAND_WATCH:
                break; /* watch() prints its own */
        }
        return -EINVAL;
}

/* The exit status for a reply: the daemon's verdict, or what went wrong showing it. */
static int handle_reply(const Arguments *a, json_object *reply) {
        json_object *error, *result;
        int r;

        if (json_object_object_get_ex(reply, "error", &error) && !json_object_is_type(error, json_type_null)) {
                print_daemon_error(error);
                return EXIT_DAEMON_ERROR;
        }

        if (!json_object_object_get_ex(reply, "result", &result)) {
                fprintf(stderr, PROGRAM_NAME ": malformed reply from %s\n", a->socket_path);
                return EXIT_COMMUNICATION;
        }

        r = print_result(a, result);
        if (r == -EBADMSG) {
                fprintf(stderr, PROGRAM_NAME ": unexpected result from %s; try --json\n", a->socket_path);
                return EXIT_COMMUNICATION;
        }
        if (r < 0) {
                fputs(PROGRAM_NAME ": out of memory\n", stderr);
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

/* stdio buffers our output, so errors such as a full disk only show up when flushing. */
static int flush_stdout(void) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
                /* The reader went away (e.g. "| head"): nothing left to tell anyone. */
                if (errno != EPIPE)
                        fprintf(stderr, PROGRAM_NAME ": cannot write output: %s\n", strerror(errno ?: EIO));
                return -EIO;
        }
        return 0;
}

/* "completed" → 0, "failed"/"unknown" → 1, anything else (still pending) → -1. */
static int settled_exit_status(json_object *op) {
        const char *status = member(op, "status");

        if (!status)
                return -1;
        if (streq(status, "completed"))
                return EXIT_SUCCESS;
        if (streq(status, "failed") || streq(status, "unknown"))
                return EXIT_DAEMON_ERROR;
        return -1;
}

/* Reads a notification body for deliver: all of FILE, or of stdin for "-", as one JSON value. */
static int read_body(const char *path, json_object **ret) {
        _cleanup_free_ char *data = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0, allocated = 0;
        json_object *j = NULL;
        int r;

        if (streq(path, "-"))
                fd = dup(STDIN_FILENO);
        else
                fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                fprintf(stderr, PROGRAM_NAME ": cannot open %s: %s\n", streq(path, "-") ? "standard input" : path,
                        strerror(-r));
                return r;
        }
        for (;;) {
                ssize_t k;

                if (allocated - size < READ_CHUNK) {
                        char *p;

                        if (allocated >= LINE_MAX_BYTES) {
                                fprintf(stderr, PROGRAM_NAME ": %s is larger than %zu MiB\n", path, LINE_MAX_BYTES >> 20);
                                return -EFBIG;
                        }
                        p = realloc(data, allocated + READ_CHUNK + 1);
                        if (!p) {
                                fputs(PROGRAM_NAME ": out of memory\n", stderr);
                                return -ENOMEM;
                        }
                        data = p;
                        allocated += READ_CHUNK;
                }
                k = read(fd, data + size, allocated - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        fprintf(stderr, PROGRAM_NAME ": cannot read %s: %s\n", path, strerror(-r));
                        return r;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        /* Pretty-printed bodies span lines; the request we send is one line again. */
        r = size > 0 ? parse_json_line(data, size, &j) : -EBADMSG;
        if (r < 0) {
                fprintf(stderr, PROGRAM_NAME ": %s does not hold one JSON value\n", streq(path, "-") ? "standard input" : path);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        *ret = j;
        return 0;
}

/* One state of a watched operation: its result/params object as a JSON line with --json,
 * else "TIME  STATUS  RESULT  ERROR". */
static void print_watch_line(const Arguments *a, json_object *holder, json_object *op) {
        json_object *ri = member_object(op, "resultInfo"), *e = member_object(op, "error");

        if (a->json) {
                put_json_line(stdout, json_object_to_json_string_ext(holder, JSON_C_TO_STRING_PLAIN |
                                                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
                return;
        }
        put_timestamp(stdout, member(op, "updatedAt") ?: "-");
        fputs("  ", stdout);
        put(stdout, member(op, "status") ?: "?");
        if (ri) {
                fputs("  ", stdout);
                put_result_info(ri);
        }
        if (e) {
                fputs("  ", stdout);
                put_operation_error(e);
        }
        putchar('\n');
}

/* watch: the reply's operation, then each operation.changed event for it, one line each,
 * until it is settled. Returns the exit status. */
static int watch(const Arguments *a, json_object *result, int fd, LineReader *lr, usec_t deadline) {
        _cleanup_json_ json_object *current = NULL; /* the event whose operation op is */
        json_object *holder = result, *op = member_object(result, "operation");
        _cleanup_free_ char *id = NULL;
        int r;

        if (!op || !member(op, "id")) {
                fprintf(stderr, PROGRAM_NAME ": unexpected result from %s; try --json\n", a->socket_path);
                return EXIT_COMMUNICATION;
        }
        id = strdup(member(op, "id"));
        if (!id) {
                fputs(PROGRAM_NAME ": out of memory\n", stderr);
                return EXIT_FAILURE;
        }
        if (!a->json) {
                fputs("Operation ", stdout);
                put(stdout, id);
                fputs(" (call ", stdout);
                put(stdout, member(op, "callId") ?: "?");
                if (member(op, "clientContext")) {
                        fputs(", context ", stdout);
                        put(stdout, member(op, "clientContext"));
                }
                fputs(")\n", stdout);
        }
        for (;;) {
                json_object *event = NULL, *params = NULL, *next = NULL;

                print_watch_line(a, holder, op);
                /* Each change as it happens, also when stdout is a pipe. */
                if (flush_stdout() < 0)
                        return EXIT_FAILURE;
                r = settled_exit_status(op);
                if (r >= 0)
                        return r;

                /* The next operation.changed about this operation; other lines are skipped. */
                while (!next) {
                        _cleanup_json_ json_object *reply = NULL;

                        json_object_put(event);
                        event = NULL;
                        r = read_message(fd, deadline, lr, &reply, &event);
                        if (r < 0) {
                                report_read_error(a, r, "the next change");
                                return EXIT_COMMUNICATION;
                        }
                        if (event && streq_ptr(member(event, "method"), "operation.changed") &&
                            (params = member_object(event, "params")) &&
                            streq_ptr(member(member_object(params, "operation"), "id"), id))
                                next = member_object(params, "operation");
                }
                json_object_put(current);
                current = event;
                holder = params;
                op = next;
        }
}

int main(int argc, char *argv[]) {
        Arguments a = {
                .socket_path = getenv(SOCKET_ENV),
                .timeout = (usec_t) DEFAULT_TIMEOUT_SEC * USEC_PER_SEC,
        };
        _cleanup_json_ json_object *reply = NULL, *body = NULL;
        _cleanup_close_ int fd = -EBADF;
        LineReader lr = {};
        usec_t deadline = USEC_INFINITY;
        bool stream;
        int r, ret;

        /* An empty variable is as good as unset, like most of systemd's. */
        if (isempty(a.socket_path))
                a.socket_path = DEFAULT_SOCKET_PATH;

        r = parse_argv(argc, argv, &a);
        if (r == -ENOMEM)
                return EXIT_FAILURE;
        if (r < 0)
                return EXIT_USAGE;
        if (r == 0)
                return flush_stdout() < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        /* MSG_NOSIGNAL covers the socket; this covers stdout, whose errors we report. */
        (void) signal(SIGPIPE, SIG_IGN);

        if (a.command == COMMAND_DELIVER) {
                r = read_body(a.argument, &body);
                if (r < 0)
                        return r == -ENOMEM ? EXIT_FAILURE : EXIT_USAGE;
                a.body = body;
        }
        /* These wait for the operation's outcome, which the daemon bounds by its own timeouts
         * (RequestTimeoutSec=, CompletionTimeoutSec=): no client-side limit unless asked. */
        stream = a.command == COMMAND_WATCH;
        if ((stream || (a.command == COMMAND_CANCEL && a.wait)) && !a.have_timeout)
                a.timeout = USEC_INFINITY;

        r = call_daemon(&a, &reply, stream ? &fd : NULL, &lr, &deadline);
        if (r < 0)
                return r == -ENOMEM ? EXIT_FAILURE : EXIT_COMMUNICATION;

        if (stream) {
                json_object *result;

                if (json_object_object_get_ex(reply, "result", &result) && !json_object_is_type(result, json_type_null))
                        ret = watch(&a, result, fd, &lr, deadline);
                else
                        ret = handle_reply(&a, reply);
                line_reader_done(&lr);
        } else {
                ret = handle_reply(&a, reply);
                /* cancel --wait: the reply is the outcome, and the exit status says which. */
                if (ret == EXIT_SUCCESS && a.command == COMMAND_CANCEL && a.wait) {
                        json_object *result;

                        if (json_object_object_get_ex(reply, "result", &result) &&
                            settled_exit_status(member_object(result, "operation")) == EXIT_DAEMON_ERROR)
                                ret = EXIT_DAEMON_ERROR;
                }
        }
        if (flush_stdout() < 0 && ret == EXIT_SUCCESS)
                ret = EXIT_FAILURE;
        return ret;
}
