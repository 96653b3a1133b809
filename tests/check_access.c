/* SPDX-License-Identifier: MIT */
/*
 * check_access.c — who may use the socket and how much (issue 4). First the pure parts:
 * access_roles() and the [Access] keys of the configuration. Then the real mediacanceld with
 * the TLS stand-in, driven by clients that are not root: the tests run as root, so a client
 * is a socket that a forked child connects after setgroups()/setgid()/setuid() to an unused
 * uid; SO_PEERCRED and SO_PEERGROUPS keep the child's identity, and the parent talks over the
 * socket. Covered: roles and per-uid ownership without an oracle, every per-client limit at
 * its edge, hostile input and crafted call ids that must never reach another Graph path, and
 * secret hygiene (nothing the daemon writes holds the secret or a token; not dumpable).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "config-files.h"
#include "config.h"
#include "harness.h"
#include "rpc.h"

#define CALL_ID "57dab8b1-894c-409a-b240-bd8beae78896"

/* Unused ids for the clients (nobody/nogroup only where a name is wanted). */
#define UID_A 60001
#define UID_B 60002
#define UID_ADMIN 60003
#define UID_NOTIFY 60004
#define UID_STRANGER 60010
#define GID_CLIENTS 4242
#define GID_OTHER 4343
#define GID_NONE 65534

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ================================ unit: access_roles() ================================ */

static Config *parse_access(const char *text, int *ret_r, char **ret_error) {
        Config *c = NULL;

        ck_assert_int_eq(config_new(&c), 0);
        *ret_r = config_parse_text(c, "test.conf", text, strlen(text), ret_error);
        return c;
}

static Config *parse_ok(const char *text) {
        char *error = NULL;
        int r;
        Config *c = parse_access(text, &r, &error);

        ck_assert_msg(r == 0, "%s: %s", text, error ?: "(no message)");
        free(error);
        return c;
}

static unsigned roles_of(const Config *c, uid_t uid, gid_t gid, const gid_t *groups, size_t n) {
        Peer p = { .pid = 1, .uid = uid, .gid = gid, .groups = (gid_t *) groups, .n_groups = n };
        return access_roles(c, &p, 4321);
}

START_TEST(test_roles_root_and_self) {
        Config *c = parse_ok("");
        const unsigned all = ACCESS_CLIENT | ACCESS_NOTIFY | ACCESS_ADMIN;

        /* No lists: only root and the daemon's own user. */
        ck_assert_uint_eq(roles_of(c, 0, 0, NULL, 0), all);
        ck_assert_uint_eq(roles_of(c, 4321, 4321, NULL, 0), all);
        ck_assert_uint_eq(roles_of(c, UID_A, GID_NONE, NULL, 0), 0);
        /* The root group is not root: gid 0, primary or supplementary, grants nothing. */
        ck_assert_uint_eq(roles_of(c, UID_A, 0, NULL, 0), 0);
        ck_assert_uint_eq(roles_of(c, UID_A, GID_NONE, (gid_t[]) { 0 }, 1), 0);
        /* Nor is the daemon's gid. */
        ck_assert_uint_eq(roles_of(c, UID_A, 4321, NULL, 0), 0);
        config_free(c);
}
END_TEST

START_TEST(test_roles_lists) {
        Config *c = parse_ok("[Access]\n"
                             "AllowUsers=60001\n"
                             "AllowGroups=4242\n"
                             "NotifyUsers=60004\n"
                             "NotifyGroups=5000\n"
                             "AdminUsers=60003\n"
                             "AdminGroups=4343\n");

        ck_assert_uint_eq(roles_of(c, UID_A, GID_NONE, NULL, 0), ACCESS_CLIENT);
        ck_assert_uint_eq(roles_of(c, UID_B, GID_NONE, NULL, 0), 0);
        /* Groups count as primary gid and as supplementary group. */
        ck_assert_uint_eq(roles_of(c, UID_B, GID_CLIENTS, NULL, 0), ACCESS_CLIENT);
        ck_assert_uint_eq(roles_of(c, UID_B, GID_NONE, (gid_t[]) { 7, GID_CLIENTS }, 2), ACCESS_CLIENT);
        /* Notify only: no client role. */
        ck_assert_uint_eq(roles_of(c, UID_NOTIFY, GID_NONE, NULL, 0), ACCESS_NOTIFY);
        ck_assert_uint_eq(roles_of(c, UID_B, GID_NONE, (gid_t[]) { 5000 }, 1), ACCESS_NOTIFY);
        /* Admin implies client, not notify. */
        ck_assert_uint_eq(roles_of(c, UID_ADMIN, GID_NONE, NULL, 0), ACCESS_ADMIN | ACCESS_CLIENT);
        ck_assert_uint_eq(roles_of(c, UID_B, GID_NONE, (gid_t[]) { GID_OTHER }, 1), ACCESS_ADMIN | ACCESS_CLIENT);
        /* Roles add up. */
        ck_assert_uint_eq(roles_of(c, UID_A, GID_NONE, (gid_t[]) { 5000 }, 1), ACCESS_CLIENT | ACCESS_NOTIFY);
        /* A user list entry does not match a group of the same number, nor the reverse. */
        ck_assert_uint_eq(roles_of(c, UID_B, 60001, NULL, 0), 0);
        ck_assert_uint_eq(roles_of(c, GID_CLIENTS, GID_NONE, NULL, 0), 0);
        config_free(c);
}
END_TEST

/* ================================ unit: [Access] parsing ================================ */

START_TEST(test_access_names) {
        struct passwd *pw;
        struct group *gr;
        uid_t nobody, root;
        gid_t nogroup;

        /* (getpwnam() answers in a static buffer: copy each id before the next lookup.) */
        if (!(pw = getpwnam("nobody")))
                return; /* a system without these names: nothing to resolve against */
        nobody = pw->pw_uid;
        if (!(pw = getpwnam("root")))
                return;
        root = pw->pw_uid;
        if (!(gr = getgrnam("nogroup")))
                return;
        nogroup = gr->gr_gid;

        Config *c = parse_ok("[Access]\nAllowUsers=nobody root\nAllowGroups=nogroup\n"
                             "NotifyUsers=nobody\nNotifyGroups=nogroup\nAdminUsers=root\nAdminGroups=nogroup\n");
        ck_assert_uint_eq(c->allow_users.n, 2);
        ck_assert(id_list_contains(&c->allow_users, nobody));
        ck_assert(id_list_contains(&c->allow_users, root));
        ck_assert_uint_eq(c->allow_groups.n, 1);
        ck_assert(id_list_contains(&c->allow_groups, nogroup));
        ck_assert(id_list_contains(&c->notify_users, nobody));
        ck_assert(id_list_contains(&c->notify_groups, nogroup));
        ck_assert(id_list_contains(&c->admin_users, root));
        ck_assert(id_list_contains(&c->admin_groups, nogroup));
        /* Resolved to numbers at load: a peer is judged by ids only. */
        ck_assert_uint_eq(roles_of(c, nobody, 12345, NULL, 0), ACCESS_CLIENT | ACCESS_NOTIFY);
        ck_assert_uint_eq(roles_of(c, UID_A, nogroup, NULL, 0), ACCESS_CLIENT | ACCESS_NOTIFY | ACCESS_ADMIN);
        config_free(c);
}
END_TEST

START_TEST(test_access_numeric) {
        /* Numbers need not exist in the user database; separators are blanks or commas;
         * repeated assignments add up; duplicates are kept once. */
        Config *c = parse_ok("[Access]\nAllowUsers=60001 60002,60003\tnobody\nAllowUsers=60001 0\n"
                             "AllowGroups=4242\nAllowGroups=4294967294\n");

        ck_assert_uint_eq(c->allow_users.n, 5);
        ck_assert(id_list_contains(&c->allow_users, 60001));
        ck_assert(id_list_contains(&c->allow_users, 60002));
        ck_assert(id_list_contains(&c->allow_users, 60003));
        ck_assert(id_list_contains(&c->allow_users, 0));
        ck_assert_uint_eq(c->allow_groups.n, 2);
        ck_assert(id_list_contains(&c->allow_groups, 4294967294u));
        ck_assert(!id_list_contains(&c->allow_groups, 60001));
        config_free(c);
}
END_TEST

static void expect_error(const char *text, const char *key, const char *what) {
        char *error = NULL;
        int r;
        Config *c = parse_access(text, &r, &error);

        ck_assert_msg(r == -EINVAL, "accepted: %s", text);
        ck_assert_ptr_nonnull(error);
        char want[64];
        snprintf(want, sizeof want, "%s=", key);
        ck_assert_msg(strstr(error, "test.conf:") && strstr(error, want) && strstr(error, what),
                      "\"%s\" does not name the key %s and %s", error, key, what);
        free(error);
        config_free(c);
}

START_TEST(test_access_errors) {
        /* An unknown name is an error at load, naming the key and the name: a typo must not
         * silently deny (or, in a list of several, silently narrow) access. */
        expect_error("[Access]\nAllowUsers=no-such-user-mc4\n", "AllowUsers", "no-such-user-mc4");
        expect_error("[Access]\nAllowGroups=no-such-group-mc4\n", "AllowGroups", "no-such-group-mc4");
        expect_error("[Access]\nNotifyUsers=60001 no-such-user-mc4\n", "NotifyUsers", "no-such-user-mc4");
        expect_error("[Access]\nNotifyGroups=no-such-group-mc4\n", "NotifyGroups", "no-such-group-mc4");
        expect_error("[Access]\nAdminUsers=no-such-user-mc4\n", "AdminUsers", "no-such-user-mc4");
        expect_error("[Access]\nAdminGroups=no-such-group-mc4\n", "AdminGroups", "no-such-group-mc4");
        /* A user name is not looked up as a group. */
        expect_error("[Access]\nAllowGroups=no-such-user-mc4\n", "AllowGroups", "no-such-user-mc4");
        /* Numbers: no sign, no suffix, no overflow, not the "-1" id. */
        expect_error("[Access]\nAllowUsers=12abc\n", "AllowUsers", "12abc");
        expect_error("[Access]\nAllowUsers=-1\n", "AllowUsers", "-1");
        expect_error("[Access]\nAllowUsers=4294967295\n", "AllowUsers", "4294967295");
        expect_error("[Access]\nAllowGroups=99999999999999999999\n", "AllowGroups", "99999999999999999999");
        expect_error("[Access]\nMaxPendingPerUser=0\n", "MaxPendingPerUser", "0");
        expect_error("[Access]\nMaxPendingPerUser=ten\n", "MaxPendingPerUser", "ten");
}
END_TEST

START_TEST(test_access_empty_clears) {
        /* An empty assignment clears the list (a drop-in can take access away) … */
        Config *c = parse_ok("[Access]\nAllowUsers=60001 60002\nAdminGroups=4343\nAllowUsers=\n");
        ck_assert_uint_eq(c->allow_users.n, 0);
        ck_assert_uint_eq(roles_of(c, UID_A, GID_NONE, NULL, 0), 0);
        ck_assert_uint_eq(c->admin_groups.n, 1);

        /* … and in a later file too; assignments after it start a new list. */
        const char *dropin = "[Access]\nAdminGroups=\nAllowUsers=60003\n";
        char *error = NULL;
        ck_assert_int_eq(config_parse_text(c, "drop-in.conf", dropin, strlen(dropin), &error), 0);
        ck_assert_uint_eq(c->admin_groups.n, 0);
        ck_assert_uint_eq(c->allow_users.n, 1);
        ck_assert(id_list_contains(&c->allow_users, 60003));
        config_free(c);

        /* MaxPendingPerUser: default, value, and back to the default. */
        c = parse_ok("");
        ck_assert_uint_eq(c->max_pending_per_user, 10000);
        config_free(c);
        c = parse_ok("[Access]\nMaxPendingPerUser=3\n");
        ck_assert_uint_eq(c->max_pending_per_user, 3);
        config_free(c);
        c = parse_ok("[Access]\nMaxPendingPerUser=3\nMaxPendingPerUser=\n");
        ck_assert_uint_eq(c->max_pending_per_user, 10000);
        config_free(c);
}
END_TEST

/* The shipped example grants the socket's group, and its name is resolved at load: it works
 * where sysusers.d created the group, and stops the daemon, naming the key, where not. */
START_TEST(test_example_config) {
        char path[512], *error = NULL;
        Config *c = NULL;
        int r;

        snprintf(path, sizeof path, "%s/systemd/mediacanceld.conf.example", getenv("MEDIACANCEL_SRCDIR") ?: "..");
        ck_assert_int_eq(config_new(&c), 0);
        r = config_load_file(c, path, &error);
        struct group *gr = getgrnam("mediacancel");
        if (gr) {
                ck_assert_msg(r == 0, "%s", error);
                ck_assert_uint_eq(c->allow_groups.n, 1);
                ck_assert(id_list_contains(&c->allow_groups, gr->gr_gid));
        } else {
                ck_assert_int_eq(r, -EINVAL);
                ck_assert_msg(strstr(error, "mediacanceld.conf.example:") && strstr(error, "AllowGroups=") &&
                                      strstr(error, "unknown group \"mediacancel\""),
                              "%s", error);
        }
        ck_assert_uint_eq(c->allow_users.n, 0);
        ck_assert_uint_eq(c->notify_users.n + c->notify_groups.n + c->admin_users.n + c->admin_groups.n, 0);
        free(error);
        config_free(c);
}
END_TEST

/* ================================ unit: escaped NUL ================================ */

/* The class of a line's single entry's error (-1: no error); -2 when the whole line was
 * refused (ParseError). */
static int entry_class(const char *line) {
        RpcMessage *m = NULL;
        int r = rpc_message_parse(line, strlen(line), RPC_MAX_DEPTH_DEFAULT, &m);
        if (r < 0)
                return -2;
        int c = m->items[0].error ? (int) m->items[0].error->class : -1;
        rpc_message_free(m);
        return c;
}

START_TEST(test_escaped_nul) {
        /* Valid JSON, so parsed; but json-c would cut "callId\u0000x" to "callId" and
         * "a\u0000b" to "a" for every C string function: the request is refused by class. */
        ck_assert_int_eq(entry_class("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"a\\u0000b\"}}"), ERROR_INVALID_PARAMS);
        ck_assert_int_eq(entry_class("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\\u0000x\":\"a\"}}"), ERROR_INVALID_PARAMS);
        ck_assert_int_eq(entry_class("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":[{\"\\u0000\":1}]}}"), ERROR_INVALID_PARAMS);
        ck_assert_int_eq(entry_class("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\\u0000\":\"x\",\"method\":\"status\"}"), ERROR_INVALID_REQUEST);
        ck_assert_int_eq(entry_class("[{\"a\\u0000\":1}]"), ERROR_INVALID_REQUEST);
        /* Not an escaped NUL: an escaped backslash followed by the text u0000, other \u escapes. */
        ck_assert_int_eq(entry_class("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\\\\u0000\":\"\\\\u0000\"}}"), -1);
        ck_assert_int_eq(entry_class("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\\u0001\":\"\\u00001\\u0100\"}}"), ERROR_INVALID_PARAMS);
        ck_assert_int_eq(entry_class("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\\u0001\":\"\\u1000\\u0100\"}}"), -1);
        /* Lone surrogates: json-c would put U+FFFD in their place, a text the client never sent. */
        ck_assert_int_eq(entry_class("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":\"\\ud800\"}}"), ERROR_INVALID_PARAMS);
        ck_assert_int_eq(entry_class("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"\\udfff\":1}}"), ERROR_INVALID_PARAMS);
        /* A pair is one character, fine. */
        ck_assert_int_eq(entry_class("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":\"\\ud83d\\ude00\\uD83D\\uDE00\"}}"), -1);
}
END_TEST

/* ================================ integration helpers ================================ */

/* Lets other users reach the socket: the test directory is 0700 and the socket 0660. */
static void open_socket_to_all(Harness *h) {
        ck_assert_int_eq(chmod(h->dir, 0755), 0);
        ck_assert_int_eq(chmod(h->socket_path, 0666), 0);
}

static int connect_uid(Harness *h, uid_t uid) {
        return harness_connect_as(h, uid, GID_NONE, NULL, 0, NULL);
}

static void expect_error_class(json_object *r, int code, const char *class) {
        ck_assert_msg(jint(r, "error.code") == code && jstr(r, "error.data.class") &&
                              strcmp(jstr(r, "error.data.class"), class) == 0,
                      "expected %s: %s", class, json_object_to_json_string(r));
}

static void expect_denied(Harness *h, int fd, const char *method, const char *params) {
        json_object *r = harness_call(h, fd, method, params);
        expect_error_class(r, -32001, "PermissionDenied");
        json_object_put(r);
}

static void expect_limit(json_object *r, const char *limit) {
        ck_assert_msg(r != NULL, "no answer where %s was expected", limit);
        expect_error_class(r, -32006, "LimitExceeded");
        ck_assert_msg(jstr(r, "error.data.limit") && strcmp(jstr(r, "error.data.limit"), limit) == 0,
                      "expected data.limit %s: %s", limit, json_object_to_json_string(r));
}

static void expect_invalid_param(Harness *h, int fd, const char *method, const char *params, const char *param) {
        json_object *r = harness_call(h, fd, method, params);
        ck_assert_msg(jint(r, "error.code") == -32602, "%s %s: %s", method, params, json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error.data.class"), "InvalidParams");
        ck_assert_msg(jstr(r, "error.data.param") && strcmp(jstr(r, "error.data.param"), param) == 0,
                      "%s %s: expected param %s: %s", method, params, param, json_object_to_json_string(r));
        json_object_put(r);
}

/* The result of a call that must succeed. */
static json_object *call_ok(Harness *h, int fd, const char *method, const char *params) {
        json_object *r = harness_call(h, fd, method, params);
        ck_assert_msg(jpath(r, "result") != NULL, "%s %s: %s", method, params ?: "", json_object_to_json_string(r));
        return r;
}

static void status_ok(Harness *h, int fd) {
        json_object_put(call_ok(h, fd, "status", NULL));
}

static char *cancel_ok(Harness *h, int fd, const char *call_id, const char *context, const char *want_status) {
        char params[512];

        if (context)
                snprintf(params, sizeof params, "{\"callId\":\"%s\",\"clientContext\":\"%s\"}", call_id, context);
        else
                snprintf(params, sizeof params, "{\"callId\":\"%s\"}", call_id);
        json_object *r = call_ok(h, fd, "cancel", params);
        ck_assert_str_eq(jstr(r, "result.operation.status"), want_status);
        char *id = strdup(jstr(r, "result.operation.id"));
        json_object_put(r);
        return id;
}

/* Waits until the daemon counts n connections (it sees a client leave a moment later). */
static void wait_connections(Harness *h, int fd, int64_t n) {
        int64_t got = -1;

        for (int i = 0; i < 200; i++) {
                json_object *r = call_ok(h, fd, "status", NULL);
                got = jint(r, "result.connections");
                json_object_put(r);
                if (got == n)
                        return;
                sleep_ms(25);
        }
        ck_abort_msg("the daemon counts %lld connections, expected %lld", (long long) got, (long long) n);
}

static int count_lines_with(const char *text, const char *a, const char *b) {
        int n = 0;

        for (const char *line = text; line && *line;) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t) (end - line) : strlen(line);
                char *l = strndup(line, len);
                if (strstr(l, a) && (!b || strstr(l, b)))
                        n++;
                free(l);
                line = end ? end + 1 : NULL;
        }
        return n;
}

static int log_lines_with(Harness *h, const char *a, const char *b) {
        char *log = read_file_text(h->daemon_log);
        int n = count_lines_with(log, a, b);
        free(log);
        return n;
}

/* Reads until the daemon closes the connection; returns the number of bytes it sent, or -1
 * if it did not close within timeout_ms. */
static ssize_t drain_until_eof(int fd, int timeout_ms) {
        ssize_t total = 0;
        long end = now_ms() + timeout_ms;

        for (;;) {
                long left = end - now_ms();
                if (left <= 0)
                        return -1;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, (int) left) <= 0)
                        return -1;
                char buf[65536];
                ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (k == 0)
                        return total;
                if (k < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        return errno == ECONNRESET ? total : -1;
                }
                total += k;
        }
}

/* ================================ integration: peer authorization ================================ */

/* The answer to one line from a peer without a role, which must then find its connection
 * closed: that peer can do nothing, and must not keep a share of MaxConnections=. */
static json_object *call_then_closed(Harness *h, int fd, const char *method, const char *params) {
        json_object *r = harness_call(h, fd, method, params);
        ck_assert_msg(r != NULL, "no answer to %s", method);
        ck_assert_msg(drain_until_eof(fd, 5000) == 0, "the daemon kept the connection of a peer without a role after %s",
                      method);
        close(fd);
        return r;
}

START_TEST(test_peer_not_allowed) {
        static const struct {
                const char *method, *params;
        } calls[] = {
                { "cancel", "{\"callId\":\"" CALL_ID "\"}" },
                { "status", NULL },
                { "operation.list", NULL },
                { "operation.get", "{\"operationId\":\"x\"}" },
                { "operation.watch", "{\"operationId\":\"x\"}" },
                { "notifications.deliver", "{\"value\":[]}" },
        };
        char pid_s[32];
        Harness h;
        harness_start(&h, NULL);
        open_socket_to_all(&h);

        /* Every method: PermissionDenied, nothing reaches Graph, the connection is closed after
         * that answer, and each connection's denial is logged once, with its own pid. */
        for (size_t i = 0; i < ELEMENTSOF(calls); i++) {
                pid_t pid;
                int fd = harness_connect_as(&h, UID_STRANGER, GID_NONE, NULL, 0, &pid);
                json_object *r = call_then_closed(&h, fd, calls[i].method, calls[i].params);
                expect_error_class(r, -32001, "PermissionDenied");
                ck_assert_ptr_nonnull(strstr(jstr(r, "error.message"), "60010"));
                json_object_put(r);
                snprintf(pid_s, sizeof pid_s, "pid=%d ", (int) pid);
                ck_assert_int_eq(log_lines_with(&h, "Refused", pid_s), 1);
        }
        ck_assert_int_eq(log_lines_with(&h, "Refused", "uid=60010"), (int) ELEMENTSOF(calls));

        /* An unknown method is still MethodNotFound: denial is about methods that exist. The
         * name is the client's, newlines included: it is answered, never logged. */
        int fd = harness_connect_as(&h, UID_STRANGER, GID_NONE, NULL, 0, NULL);
        json_object *r = call_then_closed(&h, fd, "status\\nmediacanceld[1]: FORGED uid=0", NULL);
        ck_assert_int_eq(jint(r, "error.code"), -32601);
        json_object_put(r);
        ck_assert_int_eq(log_lines_with(&h, "FORGED", NULL), 0);
        /* So are a bad line and a batch: one answer, then closed. */
        fd = harness_connect_as(&h, UID_STRANGER, GID_NONE, NULL, 0, NULL);
        harness_send(fd, "{nope");
        r = harness_read(fd, 5000);
        ck_assert_int_eq(jint(r, "error.code"), -32700);
        json_object_put(r);
        ck_assert_int_eq(drain_until_eof(fd, 5000), 0);
        close(fd);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);

        /* Root is still served. */
        int root = harness_connect(&h);
        char *op = cancel_ok(&h, root, CALL_ID, NULL, "completed");
        free(op);
        wait_connections(&h, root, 1);
        close(root);
        harness_stop(&h);
}
END_TEST

/* A peer without a role that connects and sends nothing is disconnected after
 * IdleTimeoutSec=; a member's idle connection is not. */
START_TEST(test_peer_no_role_idle) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Socket]\nIdleTimeoutSec=1s\n[Access]\nAllowUsers=60001\n" };
        harness_start(&h, &o);
        open_socket_to_all(&h);
        int member = connect_uid(&h, UID_A);
        int stranger = connect_uid(&h, UID_STRANGER);

        ck_assert_msg(drain_until_eof(stranger, 10000 * harness_slowdown()) == 0,
                      "an idle peer without a role kept its connection");
        close(stranger);
        ck_assert_int_eq(log_lines_with(&h, "holds no role", "uid=60010"), 1);
        /* The member sat idle as long, and is served. */
        status_ok(&h, member);
        sleep_ms(1500);
        status_ok(&h, member);
        close(member);
        harness_stop(&h);
}
END_TEST

START_TEST(test_peer_allow_users) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Access]\nAllowUsers=60001\n" };
        harness_start(&h, &o);
        open_socket_to_all(&h);
        int fd = connect_uid(&h, UID_A);

        char *op = cancel_ok(&h, fd, CALL_ID, "allowed-user", "completed");
        char params[128];
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", op);
        json_object_put(call_ok(&h, fd, "operation.get", params));
        json_object *r = call_ok(&h, fd, "operation.list", NULL);
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 1);
        json_object_put(r);
        status_ok(&h, fd);
        /* A client is not a notifier. */
        expect_denied(&h, fd, "notifications.deliver", "{\"value\":[]}");
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 1);

        /* Another uid is still refused. */
        int other = connect_uid(&h, UID_B);
        expect_denied(&h, other, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        close(other);
        free(op);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_peer_allow_groups) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Access]\nAllowGroups=4242\n" };
        harness_start(&h, &o);
        open_socket_to_all(&h);

        /* Member through a supplementary group (SO_PEERGROUPS). */
        int fd = harness_connect_as(&h, UID_A, GID_NONE, (gid_t[]) { 7, GID_CLIENTS }, 2, NULL);
        char *op = cancel_ok(&h, fd, CALL_ID, NULL, "completed");
        free(op);
        status_ok(&h, fd);
        close(fd);

        /* Member through the primary group. */
        fd = harness_connect_as(&h, UID_B, GID_CLIENTS, NULL, 0, NULL);
        status_ok(&h, fd);
        close(fd);

        /* Not a member: refused, though in other groups. */
        fd = harness_connect_as(&h, UID_B, GID_NONE, (gid_t[]) { GID_OTHER }, 1, NULL);
        json_object *r = call_then_closed(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        expect_error_class(r, -32001, "PermissionDenied");
        json_object_put(r);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 1);
        harness_stop(&h);
}
END_TEST

START_TEST(test_peer_notify_only) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Access]\nNotifyUsers=60004\nAllowUsers=60001\n" };
        harness_start(&h, &o);
        open_socket_to_all(&h);
        int fd = connect_uid(&h, UID_NOTIFY);

        char *signed_body = harness_signed_body(&h, "{\"value\":[]}", "good");
        json_object *r = call_ok(&h, fd, "notifications.deliver", signed_body);
        free(signed_body);
        ck_assert_int_eq(jint(r, "result.matched"), 0);
        ck_assert_int_eq(jint(r, "result.ignored"), 0);
        json_object_put(r);
        expect_denied(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\"}");
        expect_denied(&h, fd, "status", NULL);
        expect_denied(&h, fd, "operation.list", NULL);
        /* Any role may learn the protocol. */
        r = call_ok(&h, fd, "rpc.discover", NULL);
        ck_assert_str_eq(jstr(r, "result.openrpc"), "1.3.2");
        json_object_put(r);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* Serializes j and says whether s appears in it. */
static bool json_mentions(json_object *j, const char *s) {
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        return strstr(text, s) != NULL;
}

START_TEST(test_ownership) {
        Harness h;
        /* Pending operations, so that a repeated cancel could be joined to someone else's. */
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Access]\nAllowUsers=60001 60002\nAdminUsers=60003\n" };
        harness_start(&h, &o);
        open_socket_to_all(&h);
        int a = connect_uid(&h, UID_A), b = connect_uid(&h, UID_B), admin = connect_uid(&h, UID_ADMIN);
        char params[256];

        json_object *r = call_ok(&h, a, "cancel", "{\"callId\":\"call-of-a\",\"clientContext\":\"secret-ctx-a\"}");
        char *op_a = strdup(jstr(r, "result.operation.id"));
        char *graph_a = strdup(jstr(r, "result.operation.graphOperationId"));
        json_object_put(r);

        /* B asking for A's operation gets exactly what a missing one gets. */
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", op_a);
        json_object *theirs = harness_call(&h, b, "operation.get", params);
        expect_error_class(theirs, -32005, "OperationNotFound");
        const char *missing_id = "3f0c0000-0000-4000-8000-000000000000";
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", missing_id);
        json_object *missing = harness_call(&h, b, "operation.get", params);
        expect_error_class(missing, -32005, "OperationNotFound");
        char want[128];
        snprintf(want, sizeof want, "No operation %s.", op_a);
        ck_assert_str_eq(jstr(theirs, "error.message"), want);
        snprintf(want, sizeof want, "No operation %s.", missing_id);
        ck_assert_str_eq(jstr(missing, "error.message"), want);
        /* Same members in the error data, too. */
        ck_assert_str_eq(json_object_to_json_string(jpath(theirs, "error.data")),
                         json_object_to_json_string(jpath(missing, "error.data")));
        json_object_put(theirs);
        json_object_put(missing);

        /* Also by Graph's operation id, and for watch. */
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", graph_a);
        r = harness_call(&h, b, "operation.get", params);
        expect_error_class(r, -32005, "OperationNotFound");
        json_object_put(r);
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", op_a);
        r = harness_call(&h, b, "operation.watch", params);
        expect_error_class(r, -32005, "OperationNotFound");
        json_object_put(r);

        /* The same callId and clientContext from B is B's own new operation, not A's. */
        r = call_ok(&h, b, "cancel", "{\"callId\":\"call-of-a\",\"clientContext\":\"secret-ctx-a\"}");
        char *op_b = strdup(jstr(r, "result.operation.id"));
        ck_assert_str_ne(op_b, op_a);
        json_object_put(r);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 2);

        /* Lists: each sees only its own, also when filtering by A's call id. */
        r = call_ok(&h, b, "operation.list", NULL);
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 1);
        ck_assert_str_eq(jstr(r, "result.operations.0.id"), op_b);
        json_object_put(r);
        r = call_ok(&h, b, "operation.list", "{\"callId\":\"call-of-a\",\"status\":\"running\"}");
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 1);
        ck_assert(!json_mentions(r, op_a));
        json_object_put(r);
        r = call_ok(&h, a, "operation.list", NULL);
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 1);
        ck_assert_str_eq(jstr(r, "result.operations.0.id"), op_a);
        json_object_put(r);

        /* A still sees its own; the admin sees everyone's. */
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", op_a);
        json_object_put(call_ok(&h, a, "operation.get", params));
        json_object_put(call_ok(&h, admin, "operation.get", params));
        r = call_ok(&h, admin, "operation.list", NULL);
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 2);
        json_object_put(r);
        /* An admin is a client as well. */
        char *op_admin = cancel_ok(&h, admin, "call-of-admin", NULL, "running");

        /* Status: counts only, nothing about any operation. */
        r = call_ok(&h, b, "status", NULL);
        json_object *ops = jpath(r, "result.operations");
        ck_assert(json_object_is_type(ops, json_type_object));
        int64_t total = 0;
        json_object_object_foreach(ops, key, val) {
                ck_assert_msg(json_object_is_type(val, json_type_int), "status.operations.%s is not a count", key);
                if (strcmp(key, "total") != 0)
                        total += json_object_get_int64(val);
        }
        ck_assert_int_eq(total, 3);
        ck_assert_int_eq(jint(ops, "total"), 3);
        ck_assert_int_eq(jint(ops, "running"), 3);
        ck_assert(!json_mentions(r, op_a) && !json_mentions(r, op_b) && !json_mentions(r, op_admin));
        ck_assert(!json_mentions(r, "call-of-a") && !json_mentions(r, "secret-ctx-a") && !json_mentions(r, graph_a));
        json_object_put(r);

        free(op_a);
        free(op_b);
        free(op_admin);
        free(graph_a);
        close(a);
        close(b);
        close(admin);
        harness_stop(&h);
}
END_TEST

/* ================================ integration: limits ================================ */

/* A refused connection gets one LimitExceeded line (id null), then EOF. */
static void expect_refused_connection(int fd, const char *limit) {
        json_object *r = harness_read(fd, 5000);
        expect_limit(r, limit);
        ck_assert(json_object_is_type(jpath(r, "id"), json_type_null));
        json_object_put(r);
        ck_assert_ptr_null(harness_read(fd, 5000)); /* EOF */
}

START_TEST(test_limit_max_connections) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Socket]\nMaxConnections=3\n" };
        harness_start(&h, &o);
        int fds[3];

        fds[0] = harness_connect(&h);
        wait_connections(&h, fds[0], 1); /* the harness's readiness probe has gone */
        fds[1] = harness_connect(&h);
        status_ok(&h, fds[1]);
        fds[2] = harness_connect(&h);
        wait_connections(&h, fds[2], 3); /* exactly the limit works */

        int extra = harness_connect(&h);
        expect_refused_connection(extra, "MaxConnections");
        close(extra);
        ck_assert_int_ge(log_lines_with(&h, "MaxConnections=3", NULL), 1);

        /* Everyone connected keeps being served. */
        for (int i = 0; i < 3; i++)
                status_ok(&h, fds[i]);
        char *op = cancel_ok(&h, fds[1], CALL_ID, NULL, "completed");
        free(op);

        /* One leaves: a new one fits again. */
        close(fds[0]);
        wait_connections(&h, fds[1], 2);
        fds[0] = harness_connect(&h);
        status_ok(&h, fds[0]);
        for (int i = 0; i < 3; i++)
                close(fds[i]);
        harness_stop(&h);
}
END_TEST

START_TEST(test_limit_max_connections_per_user) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Socket]\nMaxConnectionsPerUser=2\n[Access]\nAllowUsers=60001 60002\n" };
        harness_start(&h, &o);
        open_socket_to_all(&h);
        int root = harness_connect(&h);
        wait_connections(&h, root, 1);

        int a1 = connect_uid(&h, UID_A), a2 = connect_uid(&h, UID_A);
        status_ok(&h, a1);
        status_ok(&h, a2); /* exactly the limit */
        int a3 = connect_uid(&h, UID_A);
        expect_refused_connection(a3, "MaxConnectionsPerUser");
        close(a3);
        ck_assert_int_ge(log_lines_with(&h, "MaxConnectionsPerUser=2", "uid=60001"), 1);

        /* Other users are not affected, A's two connections still work. */
        int b1 = connect_uid(&h, UID_B), b2 = connect_uid(&h, UID_B);
        status_ok(&h, b1);
        status_ok(&h, b2);
        int root2 = harness_connect(&h);
        status_ok(&h, root2);
        char *op = cancel_ok(&h, a1, CALL_ID, NULL, "completed");
        free(op);
        status_ok(&h, a2);

        /* When A closes one, A may connect again. */
        close(a2);
        wait_connections(&h, root, 5);
        a2 = connect_uid(&h, UID_A);
        status_ok(&h, a2);
        close(a1);
        close(a2);
        close(b1);
        close(b2);
        close(root);
        close(root2);
        harness_stop(&h);
}
END_TEST

/* A user who keeps knocking after the limit gets a LimitExceeded line every time, but the
 * journal does not get a line every time: that would let any local user flood it (and make
 * journald drop the daemon's lines that matter). */
START_TEST(test_limit_refusals_not_flooding_log) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Socket]\nMaxConnectionsPerUser=1\n[Access]\nAllowUsers=60001\n" };
        harness_start(&h, &o);
        open_socket_to_all(&h);
        int held = connect_uid(&h, UID_A);
        status_ok(&h, held);

        /* 300 attempts from a child running as that user; each must be refused with the line. */
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(GID_NONE) < 0 || setuid(UID_A) < 0)
                        _exit(10);
                for (int i = 0; i < 300; i++) {
                        struct sockaddr_un sa = { .sun_family = AF_UNIX };
                        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        char buf[512];
                        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", h.socket_path);
                        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                                _exit(11);
                        struct pollfd p = { .fd = fd, .events = POLLIN };
                        if (poll(&p, 1, 5000) <= 0)
                                _exit(12);
                        ssize_t k = recv(fd, buf, sizeof buf - 1, 0);
                        if (k <= 0)
                                _exit(13);
                        buf[k] = '\0';
                        if (!strstr(buf, "\"MaxConnectionsPerUser\""))
                                _exit(14);
                        close(fd);
                }
                _exit(0);
        }
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "refusal %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

        int lines = log_lines_with(&h, "MaxConnectionsPerUser=1", NULL);
        ck_assert_msg(lines >= 1 && lines <= 20, "%d log lines for 300 refused connections", lines);
        status_ok(&h, held);
        close(held);
        harness_stop(&h);
}
END_TEST

START_TEST(test_limit_in_flight_per_connection) {
        Harness h;
        HarnessOptions o = { .standin_args = "--latency-ms 1500", .config_extra = "[Socket]\nMaxInFlightPerConnection=4\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h), other = harness_connect(&h);
        char line[256];
        int got[6] = { 0 };

        /* Four slow cancels are in flight; the fifth request is refused at once. */
        for (int i = 1; i <= 5; i++) {
                snprintf(line, sizeof line,
                         "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"cancel\",\"params\":{\"callId\":\"call-%d\"}}", i, i);
                harness_send(fd, line);
        }
        long t0 = now_ms();
        json_object *r = harness_read(fd, 5000);
        ck_assert_int_eq(jint(r, "id"), 5);
        expect_limit(r, "MaxInFlightPerConnection");
        json_object_put(r);
        ck_assert_int_lt(now_ms() - t0, 1000);

        /* Another connection is served meanwhile, without waiting for Graph. */
        t0 = now_ms();
        status_ok(&h, other);
        ck_assert_int_lt(now_ms() - t0, 1000);

        for (int i = 0; i < 4; i++) {
                r = harness_read(fd, 10000);
                ck_assert_ptr_nonnull(r);
                int id = (int) jint(r, "id");
                ck_assert_int_ge(id, 1);
                ck_assert_int_le(id, 4);
                ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
                got[id]++;
                json_object_put(r);
        }
        for (int i = 1; i <= 4; i++)
                ck_assert_int_eq(got[i], 1);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 4);

        /* With the four answered the connection takes requests again. */
        status_ok(&h, fd);
        close(fd);
        close(other);
        harness_stop(&h);
}
END_TEST

START_TEST(test_limit_pending_per_user) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running",
                             .config_extra = "[Access]\nMaxPendingPerUser=3\nAllowUsers=60001\n"
                                             "[Operations]\nCompletionTimeoutSec=3\n" };
        harness_start(&h, &o);
        open_socket_to_all(&h);
        int fd = harness_connect(&h);
        char *ops[3];

        for (int i = 0; i < 3; i++) {
                char call[32];
                snprintf(call, sizeof call, "pending-%d", i);
                ops[i] = cancel_ok(&h, fd, call, NULL, "running");
        }
        json_object *r = harness_call(&h, fd, "cancel", "{\"callId\":\"pending-3\"}");
        expect_limit(r, "MaxPendingPerUser");
        json_object_put(r);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 3);
        /* Nothing was recorded for the refused one. */
        r = call_ok(&h, fd, "operation.list", NULL);
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 3);
        json_object_put(r);

        /* The limit is per user: another one may cancel, and reads still work. */
        int a = connect_uid(&h, UID_A);
        char *op_a = cancel_ok(&h, a, "pending-a", NULL, "running");
        status_ok(&h, fd);

        /* Once root's operations settle (CompletionTimeoutSec: unknown), it may cancel again. */
        sleep_ms(3600);
        char params[128];
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", ops[0]);
        r = call_ok(&h, fd, "operation.get", params);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "unknown");
        json_object_put(r);
        char *again = cancel_ok(&h, fd, "pending-3", NULL, "running");

        for (int i = 0; i < 3; i++)
                free(ops[i]);
        free(op_a);
        free(again);
        close(a);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_limit_idle_timeout) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Socket]\nIdleTimeoutSec=2\n" };
        harness_start(&h, &o);
        int half = harness_connect(&h), trickle = harness_connect(&h), regular = harness_connect(&h),
            quiet = harness_connect(&h);
        const char *slow_line = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\",\"params\":{}}";
        long half_closed = -1, trickle_closed = -1;
        int sent = 0, answered = 0;
        size_t trickled = 0;

        /* half: part of a line, then nothing. trickle: one byte of a line every 200 ms, so the
         * line never completes in time. regular: a whole line every 250 ms. quiet: nothing. */
        ck_assert_int_eq(send(half, "{\"jsonrpc\":\"2.0\",", 17, MSG_NOSIGNAL), 17);
        long t0 = now_ms(), next_trickle = t0, next_regular = t0;
        while (now_ms() - t0 < 5000) {
                long t = now_ms();
                if (trickle_closed < 0 && t >= next_trickle && trickled < strlen(slow_line)) {
                        (void) !send(trickle, slow_line + trickled, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                        trickled++;
                        next_trickle += 200;
                }
                if (t >= next_regular) {
                        char line[128];
                        snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"status\"}", ++sent);
                        harness_send(regular, line);
                        next_regular += 250;
                }
                struct pollfd p[3] = { { .fd = half_closed < 0 ? half : -1, .events = POLLIN },
                                       { .fd = trickle_closed < 0 ? trickle : -1, .events = POLLIN },
                                       { .fd = regular, .events = POLLIN } };
                (void) poll(p, 3, 20);
                char buf[4096];
                if (p[0].revents && recv(half, buf, sizeof buf, MSG_DONTWAIT) == 0)
                        half_closed = now_ms() - t0;
                if (p[1].revents && recv(trickle, buf, sizeof buf, MSG_DONTWAIT) == 0)
                        trickle_closed = now_ms() - t0;
                if (p[2].revents) {
                        json_object *r;
                        while ((r = harness_read(regular, 0))) {
                                ck_assert_ptr_nonnull(jpath(r, "result.version"));
                                answered++;
                                json_object_put(r);
                        }
                }
        }
        ck_assert_msg(half_closed >= 1800 && half_closed <= 3500, "half line closed after %ld ms", half_closed);
        ck_assert_msg(trickle_closed >= 1800 && trickle_closed <= 3500, "trickling line closed after %ld ms",
                      trickle_closed);
        /* The regular client got every answer and is still connected, as is the quiet one. */
        while (answered < sent) {
                json_object *r = harness_read(regular, 5000);
                ck_assert_msg(r != NULL, "only %d of %d answers", answered, sent);
                answered++;
                json_object_put(r);
        }
        ck_assert_int_ge(sent, 18);
        status_ok(&h, regular);
        status_ok(&h, quiet);
        ck_assert_int_ge(log_lines_with(&h, "IdleTimeoutSec=2", NULL), 2);
        close(half);
        close(trickle);
        close(regular);
        close(quiet);
        harness_stop(&h);
}
END_TEST

/* Sends n status requests without reading; returns how many went out before the daemon
 * closed the connection. */
static int flood_status(int fd, int n) {
        int i;

        for (i = 0; i < n; i++) {
                char line[128];
                int len = snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"status\"}\n", i);
                size_t done = 0;
                long deadline = now_ms() + 5000;
                while (done < (size_t) len) {
                        ssize_t k = send(fd, line + done, (size_t) len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (k > 0) {
                                done += (size_t) k;
                                continue;
                        }
                        if (k < 0 && errno == EAGAIN && now_ms() < deadline) {
                                struct pollfd p = { .fd = fd, .events = POLLOUT };
                                (void) poll(&p, 1, 50);
                                continue;
                        }
                        return i; /* EPIPE / ECONNRESET: the daemon hung up */
                }
        }
        return i;
}

START_TEST(test_limit_max_output_bytes) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Socket]\nMaxOutputBytes=64K\n" };
        harness_start(&h, &o);
        int other = harness_connect(&h), small = harness_connect(&h), lazy = harness_connect(&h);

        /* Under the limit: 40 answers (~30 KB) left unread for a while are fine. */
        ck_assert_int_eq(flood_status(small, 40), 40);
        sleep_ms(300);
        for (int i = 0; i < 40; i++) {
                json_object *r = harness_read(small, 5000);
                ck_assert_msg(r != NULL, "answer %d missing", i);
                json_object_put(r);
        }

        /* A client that never reads while thousands of answers pile up (far beyond the
         * kernel's socket buffer plus MaxOutputBytes) is disconnected. */
        int sent = flood_status(lazy, 5000);
        ssize_t received = drain_until_eof(lazy, 10000);
        ck_assert_msg(received >= 0, "the daemon kept the client that does not read");
        json_object *r = call_ok(&h, other, "status", NULL);
        size_t one = strlen(json_object_to_json_string(r));
        json_object_put(r);
        ck_assert_msg((size_t) received < (size_t) sent * one, "all %d answers were delivered", sent);
        ck_assert_int_eq(log_lines_with(&h, "MaxOutputBytes=65536", NULL), 1);

        /* Everyone else is fine. */
        status_ok(&h, other);
        status_ok(&h, small);
        char *op = cancel_ok(&h, other, CALL_ID, NULL, "completed");
        free(op);
        close(lazy);
        close(small);
        close(other);
        harness_stop(&h);
}
END_TEST

/* The same for events: a client that watches an operation many times over and then stops
 * reading gets disconnected once the operation.changed events pile up. */
START_TEST(test_limit_max_output_bytes_events) {
        Harness h;
        HarnessOptions o = { .standin_args = "--cancel-status running", .config_extra = "[Socket]\nMaxOutputBytes=64K\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h), lazy = harness_connect(&h);
        char params[256], *notification;

        json_object *r = call_ok(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"clientContext\":\"watched\"}");
        char *op = strdup(jstr(r, "result.operation.id"));
        char *graph_op = strdup(jstr(r, "result.operation.graphOperationId"));
        json_object_put(r);
        snprintf(params, sizeof params, "{\"operationId\":\"%s\"}", op);
        for (int i = 0; i < 1500; i++)
                json_object_put(call_ok(&h, lazy, "operation.watch", params));

        /* lazy reads no more; the operation completes: 1500 events of ~0.5 KB for it. */
        ck_assert_int_ge(asprintf(&notification,
                                  "{\"value\":[{\"changeType\":\"updated\",\"resourceUrl\":\"/communications/calls/%s/operations/%s\","
                                  "\"resourceData\":{\"id\":\"%s\",\"status\":\"completed\",\"clientContext\":\"watched\","
                                  "\"resultInfo\":{\"code\":200,\"subcode\":0,\"message\":\"done\"}}}]}",
                                  CALL_ID, graph_op, graph_op),
                         0);
        char *signed_notification = harness_signed_body(&h, notification, "good");
        r = call_ok(&h, fd, "notifications.deliver", signed_notification);
        free(signed_notification);
        ck_assert_int_eq(jint(r, "result.matched"), 1);
        json_object_put(r);
        ck_assert_msg(drain_until_eof(lazy, 10000) >= 0, "the daemon kept the client that does not read its events");
        ck_assert_int_eq(log_lines_with(&h, "MaxOutputBytes=65536", NULL), 1);

        /* The other client, and the operation, are fine. */
        r = call_ok(&h, fd, "operation.get", params);
        ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
        json_object_put(r);
        status_ok(&h, fd);
        free(notification);
        free(op);
        free(graph_op);
        close(lazy);
        close(fd);
        harness_stop(&h);
}
END_TEST

static char *repeat(const char *s, size_t n) {
        size_t len = strlen(s);
        char *r = malloc(len * n + 1);
        for (size_t i = 0; i < n; i++)
                memcpy(r + i * len, s, len);
        r[len * n] = '\0';
        return r;
}

/* The daemon's peak resident memory (VmHWM), in KiB. */
static long daemon_peak_kib(Harness *h) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/status", (int) h->daemon_pid);
        char *text = read_file_text(path);
        ck_assert_ptr_nonnull(text);
        const char *p = strstr(text, "VmHWM:");
        ck_assert_ptr_nonnull(p);
        long kib = strtol(p + 6, NULL, 10);
        free(text);
        return kib;
}

/* Memory numbers mean something only with glibc's malloc and no shadow memory. */
static bool plain_malloc(void) {
#if defined(__SANITIZE_ADDRESS__)
        return false;
#else
        return harness_slowdown() == 1;
#endif
}

/* A batch of n copies of entry, as one line (malloc'd). */
static char *batch_of(const char *entry, size_t n) {
        size_t len = strlen(entry);
        char *line = malloc(n * (len + 1) + 2);
        char *p = line;

        ck_assert_ptr_nonnull(line);
        *p++ = '[';
        for (size_t i = 0; i < n; i++) {
                memcpy(p, entry, len);
                p += len;
                *p++ = ',';
        }
        p[-1] = ']';
        *p = '\0';
        return line;
}

/* MaxBatchItems=: at the limit a batch is served whole; one entry more and nothing of it is
 * done, one LimitExceeded answers the line (id null), and the connection stays. */
START_TEST(test_limit_batch_items) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Socket]\nMaxBatchItems=5\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        char *line = batch_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}", 5);
        harness_send(fd, line);
        free(line);
        json_object *r = harness_read(fd, 10000);
        ck_assert_msg(json_object_is_type(r, json_type_array) && json_object_array_length(r) == 5, "%s",
                      json_object_to_json_string(r));
        json_object_put(r);

        line = batch_of("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\"}}", 6);
        harness_send(fd, line);
        free(line);
        r = harness_read(fd, 10000);
        expect_limit(r, "MaxBatchItems");
        ck_assert(json_object_is_type(jpath(r, "id"), json_type_null));
        json_object_put(r);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);
        r = call_ok(&h, fd, "operation.list", NULL);
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 0);
        json_object_put(r);
        status_ok(&h, fd);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* MaxValuesPerLine=: counted over the whole line before it is parsed. */
START_TEST(test_limit_values_per_line) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Socket]\nMaxValuesPerLine=100\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);
        char *elements, *line;

        /* 4 members and 96 elements: 100 values, parsed (the method does not exist). */
        elements = repeat("1,", 96);
        elements[strlen(elements) - 1] = '\0';
        ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\",\"params\":[%s]}", elements), 0);
        harness_send(fd, line);
        json_object *r = harness_read(fd, 5000);
        ck_assert_int_eq(jint(r, "error.code"), -32601);
        ck_assert_int_eq(jint(r, "id"), 1);
        json_object_put(r);
        free(line);
        free(elements);

        elements = repeat("1,", 97);
        elements[strlen(elements) - 1] = '\0';
        ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\",\"params\":[%s]}", elements), 0);
        harness_send(fd, line);
        r = harness_read(fd, 5000);
        expect_limit(r, "MaxValuesPerLine");
        ck_assert(json_object_is_type(jpath(r, "id"), json_type_null));
        json_object_put(r);
        free(line);
        free(elements);
        status_ok(&h, fd);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* Sends line and '\n' unless the daemon has hung up: false then. */
static bool send_unless_closed(int fd, const char *line) {
        size_t len = strlen(line);
        char *buf = malloc(len + 1);
        size_t done = 0;

        ck_assert_ptr_nonnull(buf);
        memcpy(buf, line, len);
        buf[len] = '\n';
        while (done <= len) {
                ssize_t k = send(fd, buf + done, len + 1 - done, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                done += (size_t) k;
        }
        free(buf);
        return done == len + 1;
}

/* What waits for a reply counts against MaxOutputBytes= while it waits: the replies of a
 * batch that a pending cancel holds open, and the ids of pending calls. A client that makes
 * the daemon hold more is disconnected then, not once the answers come (here Graph takes
 * 5 s); its cancels still go to Graph. */
START_TEST(test_limit_held_replies) {
        Harness h;
        HarnessOptions o = { .standin_args = "--latency-ms 5000", .config_extra = "[Socket]\nMaxOutputBytes=1M\n" };
        harness_start(&h, &o);
        int other = harness_connect(&h), fd = harness_connect(&h);
        char *id = repeat("x", 12000), *entry, *rest, *line;
        status_ok(&h, other);
        long peak_before = daemon_peak_kib(&h);

        /* One cancel and 63 entries whose InvalidRequest replies echo a 12 KB id: ~760 KB of
         * replies held per line, under the limit once, over it twice. */
        ck_assert_int_ge(asprintf(&entry, "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":7}", id), 0);
        rest = batch_of(entry, 63);
        ck_assert_int_ge(asprintf(&line, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID
                                         "\"}},%s",
                                  rest + 1),
                         0);
        harness_send(fd, line);
        (void) send_unless_closed(fd, line);
        ck_assert_msg(drain_until_eof(fd, 30000) == 0, "the client was not disconnected, or got replies");
        close(fd);
        /* Disconnected while both cancels still wait for Graph. */
        json_object *r = call_ok(&h, other, "operation.list", NULL);
        json_object *ops = jpath(r, "result.operations");
        ck_assert_int_eq(json_object_array_length(ops), 2);
        for (size_t i = 0; i < 2; i++)
                ck_assert_str_eq(jstr(json_object_array_get_idx(ops, i), "status"), "submitting");
        json_object_put(r);
        ck_assert_int_eq(log_lines_with(&h, "MaxOutputBytes=1048576", NULL), 1);
        free(line);
        free(rest);
        free(entry);

        /* Pending cancels with long string ids: 10 of 120 KB each are over 1 MiB held. */
        fd = harness_connect(&h);
        free(id);
        id = repeat("y", 120000);
        for (int i = 0; i < 10; i++) {
                ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":\"%s%d\",\"method\":\"cancel\",\"params\":"
                                                 "{\"callId\":\"" CALL_ID "\",\"clientContext\":\"held-%d\"}}",
                                          id, i, i),
                                 0);
                bool sent = send_unless_closed(fd, line);
                free(line);
                if (!sent)
                        break;
        }
        ck_assert_msg(drain_until_eof(fd, 30000) == 0, "the client was not disconnected, or got replies");
        close(fd);
        r = call_ok(&h, other, "status", NULL);
        ck_assert_int_ge(jint(r, "result.operations.submitting"), 1);
        json_object_put(r);
        ck_assert_int_eq(log_lines_with(&h, "MaxOutputBytes=1048576", NULL), 2);
        free(id);
        /* What it made the daemon hold: two lines of input and MaxOutputBytes=, not the 4.5 GB
         * that three such lines per connection once pinned. */
        long peak_after = daemon_peak_kib(&h);
        if (plain_malloc())
                ck_assert_msg(peak_after - peak_before < 16 * 1024, "peak memory grew from %ld KiB to %ld KiB",
                              peak_before, peak_after);

        /* The cancels outlive their caller. */
        for (int i = 0; i < 400; i++) {
                r = call_ok(&h, other, "status", NULL);
                int64_t done = jint(r, "result.operations.completed");
                json_object_put(r);
                if (done >= 3)
                        break;
                sleep_ms(50);
        }
        ck_assert_int_ge(standin_stat(&h, "cancelRequests"), 3);
        close(other);
        harness_stop(&h);
}
END_TEST

/* ================================ integration: hostile input ================================ */

static void expect_parse_error(Harness *h, int fd, const char *line) {
        harness_send(fd, line);
        json_object *r = harness_read(fd, 5000);
        ck_assert_msg(r != NULL, "no answer to %.60s", line);
        ck_assert_msg(jint(r, "error.code") == -32700, "%.80s: %s", line, json_object_to_json_string(r));
        ck_assert_str_eq(jstr(r, "error.data.class"), "ParseError");
        ck_assert(json_object_is_type(jpath(r, "id"), json_type_null));
        json_object_put(r);
        /* The connection stays usable. */
        status_ok(h, fd);
}

/* A valid line with \u0000 or a lone surrogate: answered with the request's id 1 and the
 * class of code, naming param (if not NULL); nothing reaches Graph. */
static void expect_unusable(Harness *h, int fd, const char *line, int64_t code, const char *param) {
        harness_send(fd, line);
        json_object *r = harness_read(fd, 5000);
        ck_assert_msg(r != NULL, "no answer to %.60s", line);
        ck_assert_msg(jint(r, "error.code") == code, "%.80s: %s", line, json_object_to_json_string(r));
        ck_assert_int_eq(jint(r, "id"), 1);
        if (param)
                ck_assert_str_eq(jstr(r, "error.data.param"), param);
        json_object_put(r);
        status_ok(h, fd);
}

/* Reads n whole lines (raw text: json-c would clamp a big id) within timeout_ms each. */
static char **read_raw_lines(int fd, size_t n, int timeout_ms) {
        char **lines = calloc(n + 1, sizeof *lines);
        char buf[65536];
        size_t have = 0, got = 0;

        ck_assert_ptr_nonnull(lines);
        while (got < n) {
                char *nl = memchr(buf, '\n', have);
                if (nl) {
                        lines[got++] = strndup(buf, (size_t) (nl - buf));
                        memmove(buf, nl + 1, have - (size_t) (nl + 1 - buf));
                        have -= (size_t) (nl + 1 - buf);
                        continue;
                }
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ck_assert_msg(poll(&p, 1, timeout_ms) > 0, "only %zu of %zu lines", got, n);
                ssize_t k = recv(fd, buf + have, sizeof buf - have, 0);
                ck_assert_int_gt(k, 0);
                have += (size_t) k;
        }
        return lines;
}

/* The line among lines whose raw text holds needle (the id as the daemon wrote it). */
static const char *line_with(char **lines, const char *needle) {
        const char *found = NULL;

        for (char **l = lines; *l; l++)
                if (strstr(*l, needle)) {
                        ck_assert_msg(!found, "two replies with %s", needle);
                        found = *l;
                }
        ck_assert_msg(found, "no reply with %s", needle);
        return found;
}

/* A pipelining client writes six requests at once, some with strings json-c cannot keep:
 * each answer comes back with its own id (the big and the negative-zero integer ids digit for
 * digit), the notification gets none, and nothing reaches Graph. */
START_TEST(test_pipelined_unusable_ids) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);
        const char *burst =
                "{\"jsonrpc\":\"2.0\",\"id\":\"p1\",\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\",\"clientContext\":\"a\\u0000b\"}}\n"
                "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"cancel\\u0000x\",\"params\":{\"callId\":\"" CALL_ID "\"}}\n"
                "{\"jsonrpc\":\"2.0\",\"id\":123456789012345678901234567890,\"method\":\"status\"}\n"
                "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"callId\":\"\\ud800\"}}\n"
                "{\"jsonrpc\":\"2.0\",\"id\":-0,\"method\":\"operation.get\",\"params\":{\"operationId\\u0000\":\"x\"}}\n"
                "{\"jsonrpc\":\"2.0\",\"id\":\"last\",\"method\":\"status\"}\n";
        ck_assert_int_eq(send(fd, burst, strlen(burst), MSG_NOSIGNAL), (ssize_t) strlen(burst));
        char **lines = read_raw_lines(fd, 5, 10000);

        const char *l = line_with(lines, "\"id\":\"p1\"");
        ck_assert_ptr_nonnull(strstr(l, "\"code\":-32602"));
        ck_assert_ptr_nonnull(strstr(l, "\"param\":\"clientContext\""));
        l = line_with(lines, "\"id\":2,");
        ck_assert_ptr_nonnull(strstr(l, "\"code\":-32600"));
        l = line_with(lines, "\"id\":123456789012345678901234567890,");
        ck_assert_ptr_nonnull(strstr(l, "\"result\":{"));
        l = line_with(lines, "\"id\":-0,");
        ck_assert_ptr_nonnull(strstr(l, "\"code\":-32602"));
        ck_assert_ptr_nonnull(strstr(l, "\"param\":\"operationId\\\\u0000\""));
        l = line_with(lines, "\"id\":\"last\"");
        ck_assert_ptr_nonnull(strstr(l, "\"result\":{"));
        for (char **p = lines; *p; p++)
                ck_assert_ptr_null(strstr(*p, "\"id\":null"));
        for (char **p = lines; *p; p++)
                free(*p);
        free(lines);

        /* Nothing more is sent: the notification was not run and not answered. */
        status_ok(&h, fd);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);
        close(fd);
        harness_stop(&h);
}
END_TEST


START_TEST(test_hostile_params) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);
        char *p, *s;

        /* Unknown params, wrong types, over-long strings: InvalidParams naming the param. */
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"bogus\":1}", "bogus");
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"CallId\":\"x\"}", "CallId");
        expect_invalid_param(&h, fd, "cancel", "{}", "callId");
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":null}", "callId");
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":42}", "callId");
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":[\"" CALL_ID "\"]}", "callId");
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":{\"id\":\"" CALL_ID "\"}}", "callId");
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"clientContext\":7}", "clientContext");
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"clientContext\":\"\"}", "clientContext");
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"all\":\"yes\"}", "all");
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"all\":1}", "all");
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"wait\":true}", "wait");
        expect_invalid_param(&h, fd, "cancel", "{\"callId\":\"" CALL_ID "\",\"wait\":\"forever\"}", "wait");
        expect_invalid_param(&h, fd, "cancel", "[\"" CALL_ID "\"]", "params");
        /* (A string is not structured params at all: InvalidRequest, as JSON-RPC says.) */
        json_object *r0 = harness_call(&h, fd, "cancel", "\"" CALL_ID "\"");
        ck_assert_int_eq(jint(r0, "error.code"), -32600);
        json_object_put(r0);

        /* Lengths: 128 characters of call id are the most, 256 of clientContext. */
        s = repeat("a", 129);
        ck_assert_int_ge(asprintf(&p, "{\"callId\":\"%s\"}", s), 0);
        expect_invalid_param(&h, fd, "cancel", p, "callId");
        free(p);
        free(s);
        s = repeat("\\u00e9", 257); /* 257 characters, 514 bytes */
        ck_assert_int_ge(asprintf(&p, "{\"callId\":\"" CALL_ID "\",\"clientContext\":\"%s\"}", s), 0);
        expect_invalid_param(&h, fd, "cancel", p, "clientContext");
        free(p);
        free(s);
        s = repeat("b", 100000);
        ck_assert_int_ge(asprintf(&p, "{\"callId\":\"" CALL_ID "\",\"clientContext\":\"%s\"}", s), 0);
        expect_invalid_param(&h, fd, "cancel", p, "clientContext");
        free(p);
        free(s);
        s = repeat("c", 129);
        ck_assert_int_ge(asprintf(&p, "{\"operationId\":\"%s\"}", s), 0);
        expect_invalid_param(&h, fd, "operation.get", p, "operationId");
        expect_invalid_param(&h, fd, "operation.watch", p, "operationId");
        free(p);
        free(s);

        /* clientContext: no control characters (C0, DEL, C1), no lone surrogates. */
        const char *bad_contexts[] = { "a\\u0001b", "line\\nbreak", "tab\\there", "del\\u007f", "c1\\u0085",
                                       "c1\\u009b[31m", "esc\\u001b[2J", "\\ud800", "x\\udfffy" };
        for (size_t i = 0; i < sizeof bad_contexts / sizeof *bad_contexts; i++) {
                ck_assert_int_ge(asprintf(&p, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID
                                              "\",\"clientContext\":\"%s\"}}",
                                          bad_contexts[i]),
                                 0);
                harness_send(fd, p);
                json_object *r = harness_read(fd, 5000);
                ck_assert_ptr_nonnull(r);
                /* A lone surrogate is not text at all; the rest are not allowed there. */
                ck_assert_msg(jint(r, "error.code") == -32602, "%s: %s", p, json_object_to_json_string(r));
                ck_assert_str_eq(jstr(r, "error.data.param"), "clientContext");
                ck_assert_int_eq(jint(r, "id"), 1);
                json_object_put(r);
                free(p);
        }

        /* operation.*, status: the same strictness. */
        expect_invalid_param(&h, fd, "operation.get", "{\"operationId\":5}", "operationId");
        expect_invalid_param(&h, fd, "operation.get", "{}", "operationId");
        expect_invalid_param(&h, fd, "operation.get", "{\"operationId\":\"x\",\"verbose\":true}", "verbose");
        expect_invalid_param(&h, fd, "operation.list", "{\"limit\":\"10\"}", "limit");
        expect_invalid_param(&h, fd, "operation.list", "{\"limit\":0}", "limit");
        expect_invalid_param(&h, fd, "operation.list", "{\"limit\":1001}", "limit");
        expect_invalid_param(&h, fd, "operation.list", "{\"limit\":1.5}", "limit");
        expect_invalid_param(&h, fd, "operation.list", "{\"status\":\"done\"}", "status");
        expect_invalid_param(&h, fd, "operation.list", "{\"callId\":\"../x\"}", "callId");
        expect_invalid_param(&h, fd, "operation.list", "{\"uid\":0}", "uid");
        expect_invalid_param(&h, fd, "status", "{\"verbose\":true}", "verbose");
        expect_invalid_param(&h, fd, "notifications.deliver", "{\"value\":{}}", "value");
        expect_invalid_param(&h, fd, "notifications.deliver", "{\"value\":[],\"extra\":1}", "extra");

        /* No side effect from any of that: nothing sent to Graph, nothing recorded. */
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);
        json_object *r = call_ok(&h, fd, "operation.list", NULL);
        ck_assert_int_eq(json_object_array_length(jpath(r, "result.operations")), 0);
        json_object_put(r);
        r = call_ok(&h, fd, "status", NULL);
        ck_assert_int_eq(jint(r, "result.graph.attempts"), 0);
        json_object_put(r);

        /* The edges themselves are accepted. */
        s = repeat("a", 128);
        ck_assert_int_ge(asprintf(&p, "{\"callId\":\"%s\",\"clientContext\":\"caf\\u00e9 \\u2603 ok\"}", s), 0);
        r = call_ok(&h, fd, "cancel", p);
        ck_assert_str_eq(jstr(r, "result.operation.callId"), s);
        ck_assert_str_eq(jstr(r, "result.operation.clientContext"), "caf\xc3\xa9 \xe2\x98\x83 ok");
        json_object_put(r);
        free(p);
        free(s);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 1);
        close(fd);
        harness_stop(&h);
}
END_TEST

START_TEST(test_hostile_framing) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);
        char *p, *s;

        /* Depth bombs: far deeper than the parser allows, as the whole line or inside params. */
        s = repeat("[", 200000);
        expect_parse_error(&h, fd, s);
        free(s);
        s = repeat("{\"a\":", 5000);
        ck_assert_int_ge(asprintf(&p, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":%s1}}", s), 0);
        expect_parse_error(&h, fd, p);
        free(p);
        free(s);
        s = repeat("[", 40);
        char *close_s = repeat("]", 40);
        ck_assert_int_ge(asprintf(&p, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\",\"params\":{\"x\":%s%s}}", s, close_s), 0);
        expect_parse_error(&h, fd, p);
        free(p);
        free(s);
        free(close_s);

        /* Not RFC 8259 JSON, though json-c would take it: numbers outside the grammar, single
         * quotes, a raw tab in a string. */
        expect_parse_error(&h, fd, "[-01]");
        expect_parse_error(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\",\"params\":{\"x\":1.}}");
        expect_parse_error(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":2.e3,\"method\":\"status\"}");
        expect_parse_error(&h, fd, "{'jsonrpc':'2.0','id':1,'method':'status'}");
        expect_parse_error(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":\"\t\",\"method\":\"status\"}");

        /* Invalid UTF-8 on the wire: a stray continuation byte, an overlong '/', a surrogate,
         * a truncated sequence, a byte that never occurs. */
        expect_parse_error(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"a\x80\"}}");
        expect_parse_error(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"a\xc0\xaf" "b\"}}");
        expect_parse_error(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\",\"clientContext\":\"\xed\xa0\x80\"}}");
        expect_parse_error(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\",\"x\":\"\xe2\x98\"}");
        expect_parse_error(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\",\"x\":\"\xff\"}");

        /* An escaped NUL would cut a C string short: "abc\u0000/../x" must not become "abc". The
         * line is JSON, so the answer has the request's id. */
        expect_unusable(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\\u0000/../../me\"}}", -32602, "callId");
        expect_unusable(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"\\u0000\"}}", -32602, "callId");
        expect_unusable(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\":\"" CALL_ID "\",\"clientContext\":\"a\\u0000b\"}}", -32602, "clientContext");
        /* … nor may a member name: "callId\u0000x" is not "callId". */
        expect_unusable(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\",\"params\":{\"callId\\u0000x\":\"" CALL_ID "\"}}", -32602, "callId\\u0000x");
        expect_unusable(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\\u0000\":\"status\",\"method\":\"status\"}", -32600, NULL);
        expect_unusable(&h, fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cancel\\u0000\",\"params\":{\"callId\":\"" CALL_ID "\"}}", -32600, NULL);
        /* A raw NUL byte in the line. */
        {
                ck_assert_int_eq(send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"st\0atus\"}\n", 44, MSG_NOSIGNAL), 44);
                json_object *r = harness_read(fd, 5000);
                ck_assert_int_eq(jint(r, "error.code"), -32700);
                json_object_put(r);
        }
        /* But "\\u0000" (an escaped backslash, then text) is just text. */
        json_object *r = harness_call(&h, fd, "operation.get", "{\"operationId\":\"x\\\\u0000\"}");
        expect_error_class(r, -32005, "OperationNotFound");
        json_object_put(r);

        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* The line of the security review: 1 MB of "[1,1,1,…]", 520,000 entries, from a peer that
 * needs no role, took the daemon to 1.7 GB and blocked it for seconds. Now: one
 * LimitExceeded each time, the peak memory stays within a few MiB of where it was, and another
 * client's status is answered between any two of those lines. */
START_TEST(test_hostile_huge_batch) {
        Harness h;
        harness_start(&h, NULL);
        open_socket_to_all(&h);
        int other = harness_connect(&h), fd = harness_connect(&h);
        char *line = batch_of("1", 520000);
        ck_assert_uint_lt(strlen(line), 1048576);
        status_ok(&h, other);
        long before = daemon_peak_kib(&h);

        for (int i = 0; i < 10; i++) {
                harness_send(fd, line);
                status_ok(&h, other);
                json_object *r = harness_read(fd, 10000);
                expect_limit(r, "MaxBatchItems");
                json_object_put(r);
        }
        /* The same from a peer without a role: answered, then closed. */
        int stranger = connect_uid(&h, UID_STRANGER);
        harness_send(stranger, line);
        json_object *r = harness_read(stranger, 10000);
        expect_limit(r, "MaxBatchItems");
        json_object_put(r);
        ck_assert_int_eq(drain_until_eof(stranger, 5000), 0);
        close(stranger);

        /* The worst line the default limits let through to the parser: 65,536 values. */
        char *elements = repeat("1,", 65532);
        elements[strlen(elements) - 1] = '\0';
        char *worst;
        ck_assert_int_ge(asprintf(&worst, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\",\"params\":[%s]}", elements), 0);
        for (int i = 0; i < 10; i++) {
                harness_send(fd, worst);
                status_ok(&h, other);
                r = harness_read(fd, 10000);
                ck_assert_int_eq(jint(r, "error.code"), -32602);
                json_object_put(r);
        }
        long after = daemon_peak_kib(&h);
        if (plain_malloc())
                ck_assert_msg(after - before < 16 * 1024, "peak memory grew from %ld KiB to %ld KiB", before, after);
        else
                fprintf(stderr, "check_access: peak memory %ld -> %ld KiB (not compared under a sanitizer or valgrind)\n",
                        before, after);
        ck_assert_int_eq(standin_stat(&h, "cancelRequests"), 0);
        free(worst);
        free(elements);
        free(line);
        close(fd);
        close(other);
        harness_stop(&h);
}
END_TEST

/* Graph sees exactly the paths it should: every cancel request the stand-in logged is
 * /v1.0/communications/calls/<one of the valid ids>/cancelMediaProcessing. */
START_TEST(test_crafted_call_ids) {
        Harness h;
        harness_start(&h, NULL);
        int fd = harness_connect(&h);
        const char *crafted[] = {
                "..", ".", "../..", "../../users", "..%2F..%2Fusers", "%2e%2e", "%2E%2E%2Fme", "%252e%252e",
                "a/b", "a\\\\b", "a%2Fb", "a%5Cb", "a?x=1", "a#frag", "a;b", "a b", "a\\tb", " a", "a ",
                "a.b", "a..b", ".a", "a:b", "a@b", "a&b", "a=b", "a+b", "a%00b", "%00", "a%0d%0aHost: evil",
                "a\\r\\nX: y", "\\u00e9t\\u00e9", "caf\xc3\xa9", "\\uff0e\\uff0e", "\\uff0f", "a\\u2215b", "a\\u2044b",
                "\\u2024\\u2024", "a\\u200bb", "a\\u202eb", "\\ud83d\\ude00", "a\\u0130", "\\u212a", "a\\u00adb",
                "a~b", "a_b", "a'b", "a\\\"b", "a<b>", "a{b}", "a|b", "a^b", "a`b", "a[b]", "a$b", "a!b",
                "a*b", "a(b)", "a,b", "", "?", "#", "/", "//evil.example", "https:", "http://x/",
                "\\u002e\\u002e", "\\u002f", ".\\u002e/x",
        };
        const char *valid[] = { CALL_ID, "A-Z-09", "-", "call--2", "UPPER-lower-123" };

        for (size_t i = 0; i < sizeof crafted / sizeof *crafted; i++) {
                char *line;
                ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"cancel\",\"params\":{\"callId\":\"%s\"}}",
                                          i, crafted[i]),
                                 0);
                harness_send(fd, line);
                free(line);
                json_object *r = harness_read(fd, 5000);
                ck_assert_ptr_nonnull(r);
                ck_assert_msg(jint(r, "error.code") == -32602 || jint(r, "error.code") == -32700,
                              "callId \"%s\" accepted: %s", crafted[i], json_object_to_json_string(r));
                if (jint(r, "error.code") == -32602)
                        ck_assert_str_eq(jstr(r, "error.data.param"), "callId");
                json_object_put(r);
        }
        for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
                char params[256];
                snprintf(params, sizeof params, "{\"callId\":\"%s\"}", valid[i]);
                json_object *r = call_ok(&h, fd, "cancel", params);
                json_object_put(r);
        }

        json_object *st = standin_get(&h, "/_standin/stats");
        json_object *reqs = jpath(st, "requests");
        size_t graph_requests = 0;
        for (size_t i = 0; i < json_object_array_length(reqs); i++) {
                json_object *q = json_object_array_get_idx(reqs, i);
                const char *kind = jstr(q, "kind"), *path = jstr(q, "path");
                if (strcmp(kind, "token") == 0 || strcmp(kind, "control") == 0)
                        continue;
                graph_requests++;
                bool ok = false;
                for (size_t k = 0; k < sizeof valid / sizeof *valid; k++) {
                        char want[256];
                        snprintf(want, sizeof want, "/v1.0/communications/calls/%s/cancelMediaProcessing", valid[k]);
                        if (strcmp(path, want) == 0)
                                ok = true;
                }
                ck_assert_msg(ok && strcmp(kind, "cancel") == 0 && strcmp(jstr(q, "method"), "POST") == 0,
                              "Graph saw %s %s (%s)", jstr(q, "method"), path, kind);
        }
        ck_assert_uint_eq(graph_requests, sizeof valid / sizeof *valid);
        json_object_put(st);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* A hostile Graph answer: the operation id Graph returns goes into the polling URL as one
 * percent-encoded segment, never as path structure. */
START_TEST(test_hostile_graph_operation_id) {
        Harness h;
        HarnessOptions o = { .config_extra = "[Operations]\nPollIntervalSec=1\n" };
        harness_start(&h, &o);
        int fd = harness_connect(&h);

        json_object_put(standin_post(&h, "/_standin/faults",
                                     "{\"rules\":[{\"kind\":\"cancel\",\"action\":\"status\",\"status\":200,\"count\":1,"
                                     "\"body\":{\"id\":\"../../../../users/me?$select=x#y\",\"status\":\"running\"}},"
                                     "{\"kind\":\"cancel\",\"action\":\"status\",\"status\":200,\"count\":1,"
                                     "\"body\":{\"id\":\"..\",\"status\":\"running\"}}]}"));
        json_object *r = call_ok(&h, fd, "cancel", "{\"callId\":\"call-one\"}");
        ck_assert_str_eq(jstr(r, "result.operation.graphOperationId"), "../../../../users/me?$select=x#y");
        json_object_put(r);
        r = call_ok(&h, fd, "cancel", "{\"callId\":\"call-two\"}");
        ck_assert_str_eq(jstr(r, "result.operation.graphOperationId"), "..");
        json_object_put(r);

        /* Wait for one poll of each. */
        for (int i = 0; i < 100 && standin_stat(&h, "operationGets") + 0 < 2; i++)
                sleep_ms(50);
        json_object *st = standin_get(&h, "/_standin/stats");
        json_object *reqs = jpath(st, "requests");
        int gets = 0;
        for (size_t i = 0; i < json_object_array_length(reqs); i++) {
                json_object *q = json_object_array_get_idx(reqs, i);
                const char *kind = jstr(q, "kind"), *path = jstr(q, "path");
                if (strcmp(kind, "token") == 0 || strcmp(kind, "control") == 0 || strcmp(kind, "cancel") == 0)
                        continue;
                ck_assert_str_eq(jstr(q, "method"), "GET");
                ck_assert_msg(strcmp(path, "/v1.0/communications/calls/call-one/operations/"
                                           "..%2F..%2F..%2F..%2Fusers%2Fme%3F%24select%3Dx%23y") == 0 ||
                                      strcmp(path, "/v1.0/communications/calls/call-two/operations/%2E%2E") == 0,
                              "Graph saw GET %s", path);
                gets++;
        }
        ck_assert_int_ge(gets, 2);
        json_object_put(st);

        /* An id is kept up to 128 bytes, like a call id; a longer one is no id at all, in an
         * answer and in a notification. */
        char *id128 = repeat("a", 128), *id129 = repeat("b", 129), *rules, *body;
        ck_assert_int_ge(asprintf(&rules,
                                  "{\"rules\":[{\"kind\":\"cancel\",\"action\":\"status\",\"status\":200,\"count\":1,"
                                  "\"body\":{\"id\":\"%s\",\"status\":\"running\"}},"
                                  "{\"kind\":\"cancel\",\"action\":\"status\",\"status\":200,\"count\":1,"
                                  "\"body\":{\"id\":\"%s\",\"status\":\"running\"}}]}",
                                  id128, id129),
                         0);
        json_object_put(standin_post(&h, "/_standin/faults", rules));
        r = call_ok(&h, fd, "cancel", "{\"callId\":\"call-three\",\"clientContext\":\"c3\"}");
        ck_assert_str_eq(jstr(r, "result.operation.graphOperationId"), id128);
        json_object_put(r);
        r = call_ok(&h, fd, "cancel", "{\"callId\":\"call-four\",\"clientContext\":\"c4\"}");
        ck_assert_ptr_null(jstr(r, "result.operation.graphOperationId"));
        json_object_put(r);
        ck_assert_int_ge(asprintf(&body,
                                  "{\"value\":[{\"changeType\":\"deleted\",\"resourceUrl\":\"/communications/calls/"
                                  "call-four/operations/%s\",\"resourceData\":{\"id\":\"%s\",\"status\":\"completed\"}}]}",
                                  id129, id129),
                         0);
        char *signed_body = harness_signed_body(&h, body, "good");
        r = call_ok(&h, fd, "notifications.deliver", signed_body);
        free(signed_body);
        ck_assert_int_eq(jint(r, "result.matched"), 0);
        json_object_put(r);
        free(body);
        free(rules);
        free(id128);
        free(id129);
        close(fd);
        harness_stop(&h);
}
END_TEST

/* ================================ integration: secrets ================================ */

/* A minimal line reader that keeps the raw bytes, for the leak test. */
typedef struct Raw {
        char *all; /* every byte the daemon sent on this connection */
        size_t n;
        size_t consumed;
} Raw;

static json_object *raw_call(Harness *h, int fd, Raw *raw, const char *method, const char *params) {
        char *line;
        int id = h->next_id++;

        ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"%s%s}", id, method,
                                  params ? ",\"params\":" : "", params ?: ""),
                         0);
        harness_send(fd, line);
        free(line);
        for (;;) {
                char *start = raw->all ? raw->all + raw->consumed : NULL;
                char *nl = start ? memchr(start, '\n', raw->n - raw->consumed) : NULL;
                if (nl) {
                        json_object *j = json_tokener_parse(strndupa(start, (size_t) (nl - start)));
                        raw->consumed = (size_t) (nl - raw->all) + 1;
                        ck_assert_ptr_nonnull(j);
                        if (jint(j, "id") == id)
                                return j;
                        json_object_put(j);
                        continue;
                }
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ck_assert_msg(poll(&p, 1, 60000) > 0, "no answer to %s", method);
                char chunk[65536];
                ssize_t k = recv(fd, chunk, sizeof chunk, 0);
                ck_assert_int_gt(k, 0);
                raw->all = realloc(raw->all, raw->n + (size_t) k + 1);
                memcpy(raw->all + raw->n, chunk, (size_t) k);
                raw->n += (size_t) k;
                raw->all[raw->n] = '\0';
        }
}

static void append_file(char **buf, size_t *n, const char *path) {
        char *t = read_file_text(path);
        size_t k = strlen(t);
        *buf = realloc(*buf, *n + k + 2);
        memcpy(*buf + *n, t, k);
        *n += k;
        (*buf)[(*n)++] = '\n';
        (*buf)[*n] = '\0';
        free(t);
}

static void append_dir(char **buf, size_t *n, const char *dir, int *ret_files) {
        DIR *d = opendir(dir);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d))) {
                char path[1024];
                struct stat st;
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                if (lstat(path, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode))
                        append_dir(buf, n, path, ret_files);
                else if (S_ISREG(st.st_mode)) {
                        append_file(buf, n, path);
                        (*ret_files)++;
                }
        }
        closedir(d);
}

/* The parts of s that would show if it were logged in pieces or encoded. */
static void assert_absent(const char *hay, size_t hay_len, const char *needle, const char *what) {
        size_t len = strlen(needle);

        ck_assert_msg(!memmem(hay, hay_len, needle, len), "%s appears in what the daemon wrote", what);
        if (len >= 48) /* a token: its tail alone would be enough to use it */
                ck_assert_msg(!memmem(hay, hay_len, needle + len - 32, 32), "the end of %s appears", what);
}

static char *form_encode(const char *s) {
        char *r = malloc(strlen(s) * 3 + 1), *o = r;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
                        *o++ = (char) *p;
                else
                        o += sprintf(o, "%%%02X", *p);
        *o = '\0';
        return r;
}

START_TEST(test_no_secret_leaks) {
        Harness h;
        /* 3-second tokens: several renewals in the run. */
        HarnessOptions o = { .standin_args = "--token-lifetime 3" };
        harness_start(&h, &o);
        char *secret = read_file_text(h.secret_path);
        ck_assert_int_gt(strlen(secret), 8);
        int fd = harness_connect(&h);
        Raw raw = {};
        char limits_path[64], line[512];
        json_object *r;

        /* Not dumpable, no core: the limits the daemon runs with. */
        snprintf(limits_path, sizeof limits_path, "/proc/%d/limits", (int) h.daemon_pid);
        char *limits = read_file_text(limits_path);
        bool core0 = false;
        for (char *l = strtok(limits, "\n"); l; l = strtok(NULL, "\n")) {
                unsigned long long soft, hard;
                if (strncmp(l, "Max core file size", 18) == 0 && sscanf(l + 18, " %llu %llu", &soft, &hard) == 2)
                        core0 = soft == 0 && hard == 0;
        }
        ck_assert_msg(core0, "the daemon may dump core");
        free(limits);

        /* A run with renewals, a 401 and its refresh, Graph errors, a token endpoint that
         * refuses the secret, and every kind of answer in between. */
        for (int round = 0; round < 8; round++) {
                snprintf(line, sizeof line, "{\"callId\":\"leak-%d\",\"clientContext\":\"round-%d\"}", round, round);
                r = raw_call(&h, fd, &raw, "cancel", line);
                ck_assert_str_eq(jstr(r, "result.operation.status"), "completed");
                json_object_put(r);
                json_object_put(raw_call(&h, fd, &raw, "status", NULL));
                json_object_put(raw_call(&h, fd, &raw, "operation.list", NULL));
                if (round == 2)
                        json_object_put(standin_post(&h, "/_standin/expire-tokens", "{}"));
                if (round == 4)
                        json_object_put(standin_post(&h, "/_standin/faults",
                                                     "{\"rules\":[{\"kind\":\"cancel\",\"status\":503,\"count\":1}]}"));
                sleep_ms(500);
        }
        r = raw_call(&h, fd, &raw, "cancel", "{\"callId\":\"unknown-call-leak\"}");
        ck_assert_str_eq(jstr(r, "error.data.class"), "GraphError");
        json_object_put(r);
        /* The login endpoint stops accepting the secret: the next renewal fails. */
        json_object_put(standin_post(&h, "/_standin/config", "{\"clientSecret\":\"rotated-elsewhere\"}"));
        json_object_put(standin_post(&h, "/_standin/expire-tokens", "{}"));
        r = raw_call(&h, fd, &raw, "cancel", "{\"callId\":\"after-rotation\"}");
        ck_assert_str_eq(jstr(r, "error.data.class"), "TokenUnavailable");
        json_object_put(r);
        json_object_put(raw_call(&h, fd, &raw, "status", NULL));
        /* An unknown method, for its answer too. */
        json_object_put(raw_call(&h, fd, &raw, "nope", NULL));

        json_object *st = standin_get(&h, "/_standin/stats");
        json_object *issued = jpath(st, "tokensIssued");
        ck_assert_int_ge(json_object_array_length(issued), 3);
        ck_assert_int_ge(jint(st, "unauthorized"), 1);
        ck_assert_int_ge(jint(st, "tokenFailures"), 1);
        close(fd);
        ck_assert_int_eq(harness_stop_daemon(&h), 0);

        /* Everything the daemon wrote: its debug log, every answer, the state directory. */
        char *all = NULL, state[400];
        size_t n = 0;
        int files = 0;
        append_file(&all, &n, h.daemon_log);
        all = realloc(all, n + raw.n + 1);
        memcpy(all + n, raw.all, raw.n);
        n += raw.n;
        all[n] = '\0';
        snprintf(state, sizeof state, "%s/state", h.dir);
        append_dir(&all, &n, state, &files);
        ck_assert_int_ge(files, 1);
        ck_assert_ptr_nonnull(strstr(all, "leak-7"));        /* the journal is in there */
        ck_assert_ptr_nonnull(strstr(all, "<7>"));           /* debug lines are in there */
        ck_assert_ptr_nonnull(strstr(all, "TokenUnavailable")); /* and the errors */

        char *enc = form_encode(secret);
        assert_absent(all, n, secret, "the client secret");
        assert_absent(all, n, enc, "the form-encoded client secret");
        assert_absent(all, n, "with+special", "part of the client secret");
        for (size_t i = 0; i < json_object_array_length(issued); i++)
                assert_absent(all, n, json_object_get_string(json_object_array_get_idx(issued, i)), "an access token");
        /* Nor any bearer header at all. */
        ck_assert_ptr_null(strcasestr(all, "Bearer ey"));
        free(enc);
        free(all);
        free(raw.all);
        free(secret);
        json_object_put(st);
        harness_stop(&h);
}
END_TEST

/* Run as an unprivileged user (as under DynamicUser=), the daemon's /proc files belong to
 * root: the kernel's sign of a non-dumpable process, which other processes of the same user
 * can neither ptrace nor read the memory of. */
START_TEST(test_not_dumpable) {
        Harness h;
        HarnessOptions o = { .no_daemon = true };
        const uid_t daemon_uid = 60050;
        char path[512];

        /* setpriv in front of whatever wrapper (valgrind) the run already uses. */
        char wrapper[512];
        char *outer = getenv("MEDIACANCEL_DAEMON_WRAPPER") ? strdup(getenv("MEDIACANCEL_DAEMON_WRAPPER")) : NULL;
        snprintf(wrapper, sizeof wrapper, "setpriv --reuid=60050 --regid=60050 --clear-groups %s", outer ?: "");
        ck_assert_int_eq(setenv("MEDIACANCEL_DAEMON_WRAPPER", wrapper, 1), 0);
        harness_start(&h, &o);
        /* What that user needs: its secret, the CA, a state and a socket directory. */
        ck_assert_int_eq(chown(h.secret_path, daemon_uid, daemon_uid), 0);
        ck_assert_int_eq(chmod(h.dir, 0755), 0);
        snprintf(path, sizeof path, "%s/run", h.dir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        ck_assert_int_eq(chown(path, daemon_uid, daemon_uid), 0);
        snprintf(path, sizeof path, "%s/state", h.dir);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        ck_assert_int_eq(chown(path, daemon_uid, daemon_uid), 0);
        char *config = read_file_text(h.config_path);
        char *ca = strstr(config, "CAFile=");
        ck_assert_ptr_nonnull(ca);
        char ca_dir[256];
        snprintf(ca_dir, sizeof ca_dir, "%.*s", (int) strcspn(ca + 7, "\n"), ca + 7);
        *strrchr(ca_dir, '/') = '\0';
        ck_assert_int_eq(chmod(ca_dir, 0755), 0);
        free(config);
        ck_assert_int_lt(strlen(h.dir) + strlen("/run/d.sock"), sizeof h.socket_path);
        strcpy(h.socket_path, h.dir);
        strcat(h.socket_path, "/run/d.sock");
        FILE *f = fopen(h.config_path, "ae");
        fprintf(f, "[Socket]\nPath=%s\n", h.socket_path);
        fclose(f);

        harness_start_daemon(&h);
        int fd = harness_connect(&h);
        char *op = cancel_ok(&h, fd, CALL_ID, NULL, "completed");
        free(op);

        snprintf(path, sizeof path, "/proc/%d/status", (int) h.daemon_pid);
        char *status = read_file_text(path);
        ck_assert_msg(strstr(status, "\nUid:\t60050\t60050\t60050\t60050"), "not running as 60050: %s", status);
        free(status);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_msg(st.st_uid == 0, "/proc/PID/status belongs to %u: the daemon is dumpable", (unsigned) st.st_uid);
        snprintf(path, sizeof path, "/proc/%d/mem", (int) h.daemon_pid);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_uid, 0);

        /* And a process of the daemon's own user cannot read its memory or environment. */
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(daemon_uid) < 0 || setuid(daemon_uid) < 0)
                        _exit(10);
                char p[64];
                snprintf(p, sizeof p, "/proc/%d/environ", (int) h.daemon_pid);
                int k = open(p, O_RDONLY | O_CLOEXEC);
                _exit(k < 0 && errno == EACCES ? 0 : 11);
        }
        int wst;
        ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
        ck_assert_msg(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "the daemon's user can read its environment");

        close(fd);
        harness_stop(&h);
        if (outer)
                setenv("MEDIACANCEL_DAEMON_WRAPPER", outer, 1);
        else
                unsetenv("MEDIACANCEL_DAEMON_WRAPPER");
        free(outer);
}
END_TEST

static Suite *access_suite(void) {
        Suite *s = suite_create("access");
        TCase *tc;

        tc = tcase_create("unit");
        tcase_add_test(tc, test_roles_root_and_self);
        tcase_add_test(tc, test_roles_lists);
        tcase_add_test(tc, test_access_names);
        tcase_add_test(tc, test_access_numeric);
        tcase_add_test(tc, test_access_errors);
        tcase_add_test(tc, test_access_empty_clears);
        tcase_add_test(tc, test_example_config);
        tcase_add_test(tc, test_escaped_nul);
        suite_add_tcase(s, tc);

        tc = tcase_create("peers");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_peer_not_allowed);
        tcase_add_test(tc, test_peer_no_role_idle);
        tcase_add_test(tc, test_peer_allow_users);
        tcase_add_test(tc, test_peer_allow_groups);
        tcase_add_test(tc, test_peer_notify_only);
        tcase_add_test(tc, test_ownership);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_limit_max_connections);
        tcase_add_test(tc, test_limit_max_connections_per_user);
        tcase_add_test(tc, test_limit_refusals_not_flooding_log);
        tcase_add_test(tc, test_limit_in_flight_per_connection);
        tcase_add_test(tc, test_limit_pending_per_user);
        tcase_add_test(tc, test_limit_idle_timeout);
        tcase_add_test(tc, test_limit_max_output_bytes);
        tcase_add_test(tc, test_limit_max_output_bytes_events);
        tcase_add_test(tc, test_limit_batch_items);
        tcase_add_test(tc, test_limit_values_per_line);
        tcase_add_test(tc, test_limit_held_replies);
        suite_add_tcase(s, tc);

        tc = tcase_create("hostile");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_hostile_params);
        tcase_add_test(tc, test_hostile_framing);
        tcase_add_test(tc, test_pipelined_unusable_ids);
        tcase_add_test(tc, test_hostile_huge_batch);
        tcase_add_test(tc, test_crafted_call_ids);
        tcase_add_test(tc, test_hostile_graph_operation_id);
        suite_add_tcase(s, tc);

        tc = tcase_create("secrets");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_no_secret_leaks);
        tcase_add_test(tc, test_not_dumpable);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        /* The integration cases need root to become other users. */
        if (geteuid() != 0) {
                fprintf(stderr, "check_access: needs root (to connect as other users); skipped.\n");
                return 77;
        }
        return harness_main(access_suite());
}
