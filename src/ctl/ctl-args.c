/* SPDX-License-Identifier: MIT */
/*
 * ctl-args.c — mediacancelctl's command line: one table says which command calls which method,
 * takes which positional argument and accepts which of the per-command options; getopt_long()
 * does the rest, with errors worded here. It validates no value the daemon validates (only
 * empty arguments are refused), so the daemon stays the single authority on what a request
 * may contain, and it sends only what the user gave: the daemon owns the defaults.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "ctl-args.h"
#include "ctl-connection.h"
#include "json-util.h"
#include "protocol.h"

#define SOCKET_ENV "MEDIACANCEL_SOCKET"
#define DEFAULT_TIMEOUT_SEC 60

/* Per-command options, as bits so one table says which command accepts which. */
enum {
        OPTION_CONTEXT = 1 << 0,
        OPTION_ALL = 1 << 1,
        OPTION_CALL = 1 << 2,
        OPTION_STATUS = 1 << 3,
        OPTION_LIMIT = 1 << 4,
        OPTION_WAIT = 1 << 5,
        OPTION_TENANT = 1 << 6,
        OPTION_AUTHORIZATION = 1 << 7, /* --authorization or --authorization-file */
};

typedef struct CommandInfo {
        const char *name;
        const char *method;
        const char *argument; /* name of the one positional argument, NULL if none */
        unsigned options;     /* OPTION_* bits this command accepts */
} CommandInfo;

static const CommandInfo command_table[] = {
        [COMMAND_CANCEL] = { "cancel", METHOD_CANCEL, "CALL_ID", OPTION_CONTEXT | OPTION_ALL | OPTION_WAIT | OPTION_TENANT },
        [COMMAND_GET] = { "get", METHOD_OPERATION_GET, "OPERATION_ID", 0 },
        [COMMAND_LIST] = { "list", METHOD_OPERATION_LIST, NULL, OPTION_CALL | OPTION_TENANT | OPTION_STATUS | OPTION_LIMIT },
        [COMMAND_STATUS] = { "status", METHOD_STATUS, NULL, 0 },
        [COMMAND_WATCH] = { "watch", METHOD_OPERATION_WATCH, "OPERATION_ID", 0 },
        [COMMAND_DELIVER] = { "deliver", METHOD_NOTIFICATIONS_DELIVER, "FILE", OPTION_AUTHORIZATION },
        [COMMAND_DISCOVER] = { "discover", METHOD_RPC_DISCOVER, NULL, 0 },
};

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
               "      --tenant TENANT   The tenant the call lives in (GUID or domain name;\n"
               "                        default: the daemon's TenantId=)\n"
               "      --context TEXT    Client context to attach to the operation\n"
               "      --all             Stop all operations, not only the current one\n"
               "                        (only the old beta Graph API takes this)\n"
               "      --wait            Answer only once the operation is completed,\n"
               "                        failed or unknown (exit 1 unless completed)\n"
               "  get OPERATION_ID      Show one operation\n"
               "  list                  List operations\n"
               "      --call CALL_ID    Only operations for this call\n"
               "      --tenant TENANT   Only operations for this tenant\n"
               "      --status STATUS   Only operations in this status\n"
               "      --limit N         At most N operations\n"
               "  status                Show the daemon's state\n"
               "  watch OPERATION_ID    Show the operation, then each change until it is\n"
               "                        settled (exit 0 completed, 1 failed or unknown)\n"
               "  deliver FILE|-        Pass a Graph notification body (JSON) to the daemon\n"
               "      --authorization TEXT\n"
               "                        The Authorization header Graph sent with it\n"
               "                        (\"Bearer eyJ...\"); never printed\n"
               "      --authorization-file PATH\n"
               "                        The same, read from PATH (not visible in ps)\n"
               "  discover              Print the protocol's OpenRPC document (JSON)\n"
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
               PROTOCOL_DEFAULT_SOCKET_PATH,
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
        case OPTION_TENANT:
                return "--tenant";
        case OPTION_AUTHORIZATION:
                return "--authorization";
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

        for (unsigned bit = 1; bit <= OPTION_AUTHORIZATION; bit <<= 1)
                if ((seen & bit) && !(info->options & bit))
                        return log_usage("option %s does not apply to '%s'", option_name(bit), info->name);

        return 0;
}

int parse_argv(int argc, char *argv[], Arguments *a) {
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
                ARG_TENANT,
                ARG_AUTHORIZATION,
                ARG_AUTHORIZATION_FILE,
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
                { "tenant", required_argument, NULL, ARG_TENANT },
                { "authorization", required_argument, NULL, ARG_AUTHORIZATION },
                { "authorization-file", required_argument, NULL, ARG_AUTHORIZATION_FILE },
                {}
        };
        _cleanup_free_ char **positional = NULL;
        size_t n_positional = 0;
        unsigned seen = 0;
        int c;

        *a = (Arguments) {
                .socket_path = getenv(SOCKET_ENV),
                .timeout = (usec_t) DEFAULT_TIMEOUT_SEC * USEC_PER_SEC,
        };
        /* An empty variable is as good as unset, like most of systemd's. */
        if (isempty(a->socket_path))
                a->socket_path = PROTOCOL_DEFAULT_SOCKET_PATH;

        /* Room for every argv entry, so collecting positionals below can never overflow. */
        positional = calloc((size_t) argc + 1, sizeof(char *));
        if (!positional)
                return log_oom();

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
                        puts(PROGRAM_NAME " " PACKAGE_VERSION);
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
                case ARG_TENANT:
                        if (isempty(optarg))
                                return log_usage("--tenant must not be empty");
                        a->tenant = optarg;
                        seen |= OPTION_TENANT;
                        break;
                case ARG_AUTHORIZATION:
                case ARG_AUTHORIZATION_FILE:
                        /* The value is a credential: no message ever quotes it. */
                        if (seen & OPTION_AUTHORIZATION)
                                return log_usage("give --authorization or --authorization-file once");
                        if (isempty(optarg))
                                return log_usage("%s must not be empty",
                                                 c == ARG_AUTHORIZATION ? "--authorization" : "--authorization-file");
                        if (c == ARG_AUTHORIZATION)
                                a->authorization = optarg;
                        else
                                a->authorization_file = optarg;
                        seen |= OPTION_AUTHORIZATION;
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

        /* These wait for the operation's outcome, which the daemon bounds by its own timeouts
         * (RequestTimeoutSec=, CompletionTimeoutSec=): no client-side limit unless asked. */
        if ((a->command == COMMAND_WATCH || (a->command == COMMAND_CANCEL && a->wait)) && !a->have_timeout)
                a->timeout = USEC_INFINITY;

        return 1;
}

const char *command_method(Command command) {
        return command_table[command].method;
}

int build_params(const Arguments *a, json_object **ret) {
        _cleanup_json_ json_object *p = NULL;
        int r = 0;

        if (a->command == COMMAND_STATUS || a->command == COMMAND_DISCOVER) {
                *ret = NULL; /* these take no params, so we send none */
                return 0;
        }

        p = json_object_new_object();
        if (!p)
                return -ENOMEM;

        /* Only what the user gave: the daemon owns the defaults. */
        switch (a->command) {
        case COMMAND_CANCEL:
                r = json_add(p, "callId", json_object_new_string(a->argument));
                if (r >= 0 && a->tenant)
                        r = json_add(p, "tenantId", json_object_new_string(a->tenant));
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
                /* The body as Graph sent it is the params, unchanged but for the header that
                 * came with it. A body that is not an object goes as it is: the daemon says
                 * what is wrong with it. */
                json_object_put(TAKE_PTR(p));
                if (a->authorization && json_object_is_type(a->body, json_type_object) &&
                    json_add(a->body, "authorization", json_object_new_string(a->authorization)) < 0)
                        return -ENOMEM;
                *ret = json_object_get(a->body);
                return 0;
        case COMMAND_LIST:
                if (a->call)
                        r = json_add(p, "callId", json_object_new_string(a->call));
                if (r >= 0 && a->tenant)
                        r = json_add(p, "tenantId", json_object_new_string(a->tenant));
                if (r >= 0 && a->status)
                        r = json_add(p, "status", json_object_new_string(a->status));
                if (r >= 0 && a->have_limit)
                        r = json_add(p, "limit", json_object_new_int64(a->limit));
                break;
        case COMMAND_STATUS:
        case COMMAND_DISCOVER:
                break;
        }
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

int read_body(const char *path, json_object **ret) {
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
                        if (!p)
                                return log_oom();
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
        r = size > 0 ? parse_json_value(data, size, &j) : -EBADMSG;
        if (r < 0) {
                fprintf(stderr, PROGRAM_NAME ": %s does not hold one JSON value\n", streq(path, "-") ? "standard input" : path);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        *ret = j;
        return 0;
}

#define AUTHORIZATION_MAX 65536

int read_authorization(const char *path, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        char *data;
        size_t size = 0;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                fprintf(stderr, PROGRAM_NAME ": cannot open %s: %s\n", path, strerror(-r));
                return r;
        }
        data = malloc(AUTHORIZATION_MAX + 1);
        if (!data)
                return log_oom();
        for (;;) {
                ssize_t k = read(fd, data + size, AUTHORIZATION_MAX + 1 - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        erase_and_free(data);
                        fprintf(stderr, PROGRAM_NAME ": cannot read %s: %s\n", path, strerror(-r));
                        return r;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > AUTHORIZATION_MAX) {
                        erase_and_free(data);
                        fprintf(stderr, PROGRAM_NAME ": %s is larger than %d bytes\n", path, AUTHORIZATION_MAX);
                        return -EFBIG;
                }
        }
        size_t line = 0;
        while (line < size && data[line] != '\n' && data[line] != '\r')
                line++;
        data[line] = '\0';
        if (line == 0 || memchr(data, '\0', line)) {
                erase_and_free(data);
                fprintf(stderr, PROGRAM_NAME ": %s holds no Authorization header value\n", path);
                return -EBADMSG;
        }
        *ret = data;
        return 0;
}
