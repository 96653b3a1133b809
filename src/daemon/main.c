/* SPDX-License-Identifier: MIT */
/*
 * main.c — mediacanceld's entry point: command line, process hardening that must happen
 * before any secret is read, signal handling, readiness notification, and the event loop.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>

#include "config-files.h"
#include "log.h"
#include "manager.h"
#include "methods.h"
#include "util.h"

#define STATUS_INTERVAL_USEC (5 * USEC_PER_SEC)

static const char *arg_config = NULL;
static const char *arg_socket = NULL;

static void help(void) {
        printf("Usage: mediacanceld [OPTIONS]\n"
               "\n"
               "Holds a Microsoft Graph app credential and cancels media processing on calls\n"
               "for local services that ask over a Unix socket (JSON-RPC 2.0, one per line).\n"
               "\n"
               "  -c, --config PATH      configuration file (default %s)\n"
               "  -s, --socket PATH      listen on PATH instead of [Socket] Path=\n"
               "  -l, --log-level LEVEL  emerg, alert, crit, err, warning, notice, info, debug\n"
               "      --version          print the version and exit\n"
               "  -h, --help             print this help and exit\n",
               CONFIG_DEFAULT_PATH);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "socket", required_argument, NULL, 's' },
                { "log-level", required_argument, NULL, 'l' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c, level;

        while ((c = getopt_long(argc, argv, "c:s:l:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case 's':
                        if (optarg[0] != '/') {
                                fprintf(stderr, "mediacanceld: --socket needs an absolute path.\n");
                                return -EINVAL;
                        }
                        arg_socket = optarg;
                        break;
                case 'l':
                        level = log_level_from_string(optarg);
                        if (level < 0) {
                                fprintf(stderr, "mediacanceld: unknown log level \"%s\".\n", optarg);
                                return -EINVAL;
                        }
                        log_set_max_level(level);
                        break;
                case ARG_VERSION:
                        printf("mediacanceld %s\n", PACKAGE_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "mediacanceld: unexpected argument \"%s\".\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

/* Before a secret is in memory: no core dumps, and no ptrace or /proc/pid/mem access by
 * other processes of the same user. */
static void harden_process(void) {
        struct rlimit rl = { 0, 0 };

        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                log_warning_errno(errno, "Cannot mark the process non-dumpable: %m");
        if (setrlimit(RLIMIT_CORE, &rl) < 0)
                log_warning_errno(errno, "Cannot disable core dumps: %m");
}

/* libcurl's OpenSSL backend opens $SSLKEYLOGFILE in curl_global_init() and appends every
 * connection's TLS secrets to it (a file it creates with the umask's mode, readable by others
 * with the usual 022): whoever has it and a capture of the traffic reads the client secret and
 * every token. No setting of the daemon turns key logging on; the variable goes before curl can
 * see it. */
static void ignore_key_log(void) {
        if (!getenv("SSLKEYLOGFILE"))
                return;
        if (unsetenv("SSLKEYLOGFILE") < 0)
                log_warning_errno(errno, "Cannot remove SSLKEYLOGFILE from the environment: %m");
        else
                log_info("Ignoring SSLKEYLOGFILE: the daemon never logs TLS secrets.");
}

/* STATUS= goes out when it says something new (and always right after READY=1): an idle
 * daemon should not wake the service manager every few seconds, and a supervisor that reads
 * its notify socket slowly should not see it fill up with copies. */
static void notify_status(Manager *m, bool force) {
        static char *last = NULL;
        _cleanup_free_ char *line = manager_status_line(m);

        if (!line || (!force && streq_ptr(line, last)))
                return;
        (void) sd_notifyf(false, "STATUS=%s", line);
        free(last);
        last = TAKE_PTR(line);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        if (!m->shutting_down)
                notify_status(m, false);
        (void) sd_event_source_set_time(s, usec + STATUS_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) s;
        (void) si;
        manager_begin_shutdown(userdata);
        return 0;
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        (void) s;
        (void) si;
        /* Once STOPPING=1 is sent, READY=1 must not follow: the service manager would take a
         * stopping daemon for a running one. The configuration dies with the process anyway. */
        if (m->shutting_down) {
                log_info("Ignoring SIGHUP: shutting down.");
                return 0;
        }
        /* MONOTONIC_USEC= lets the service manager tell this reload from an earlier one
         * (required for Type=notify-reload, systemd >= 253). */
        (void) sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=Reloading configuration.",
                          now_usec(CLOCK_MONOTONIC));
        (void) manager_reload(m);
        (void) sd_notify(false, "READY=1");
        notify_status(m, true);
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *error = NULL;
        Config *config = NULL;
        sigset_t mask;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        /* Tests point this at their own socket to see what journald would receive. */
        const char *js = secure_getenv("MEDIACANCEL_JOURNAL_SOCKET");
        if (js)
                log_set_journal_socket(js);
        log_open();

        harden_process();
        ignore_key_log();

        r = config_load(arg_config, &config, &error);
        if (r < 0) {
                if (error)
                        log_error("%s", error);
                else
                        log_error_errno(r, "Cannot load the configuration: %m");
                return 1;
        }

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                config_free(config);
                log_error("Cannot initialise libcurl.");
                return 1;
        }

        r = manager_new(config, arg_config ?: CONFIG_DEFAULT_PATH, &methods_hooks, &m);
        if (r < 0) {
                config_free(config); /* still ours: manager_new() takes it only on success */
                return 1;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        if (sd_event_add_signal(m->event, NULL, SIGTERM, on_terminate, m) < 0 ||
            sd_event_add_signal(m->event, NULL, SIGINT, on_terminate, m) < 0 ||
            sd_event_add_signal(m->event, NULL, SIGHUP, on_reload, m) < 0) {
                log_error("Cannot install signal handlers.");
                return 1;
        }
        (void) sd_event_add_time_relative(m->event, NULL, CLOCK_MONOTONIC, STATUS_INTERVAL_USEC, USEC_PER_SEC,
                                          on_status_timer, m);

        r = manager_start(m, arg_socket);
        if (r < 0)
                return 1;

        (void) sd_notify(false, "READY=1");
        notify_status(m, true);
        /* After READY=1: enabling it sends the first WATCHDOG=1 at once, and the service
         * manager should hear that the daemon is ready before anything else. From here on
         * the loop pings by itself when $WATCHDOG_USEC is set (and $WATCHDOG_PID is ours). */
        (void) sd_event_set_watchdog(m->event, true);

        r = sd_event_loop(m->event);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                return 1;
        }
        log_info("Stopped.");
        /* The manager still holds curl handles (the multi handle, pooled easy handles): they
         * go first, libcurl's global state after them. */
        m = manager_free(m);
        curl_global_cleanup();
        return 0;
}
