/* SPDX-License-Identifier: MIT */
/*
 * fuzz-config.c — libFuzzer harness for the configuration parser (src/daemon/config.c, with
 * the INI tokenizer src/basic/ini.c, the value parsers src/basic/time-util.c and parse-util.c,
 * and src/daemon/credentials.c): the input is the text of mediacanceld.conf, applied to a
 * default Config with config_parse_text() and, when that succeeds, checked with
 * config_finalize(). Each value of every Key=Value line also goes through parse_timespan_sec()
 * and parse_size() on its own.
 *
 * $CREDENTIALS_DIRECTORY and $STATE_DIRECTORY are cleared so config_finalize() behaves the same
 * on every machine; it calls access(2) on the credential files, which reads nothing. [Access]
 * user and group names are resolved through NSS as the daemon does.
 *
 * Invariants checked beyond "no sanitizer report":
 *   - a failure returns -EINVAL with a "fuzz.conf:LINE: " message (or -ENOMEM without one), a
 *     success leaves no message, the required settings keep a value, and a finalized Config has
 *     exactly one credential (a secret, or a certificate with its key);
 *   - the value of a ClientSecret= line and a line without "=" (maybe a pasted secret) are never
 *     quoted back in the error message;
 *   - parse_timespan_sec() and parse_size() agree with themselves: a parsed value printed in
 *     the smallest unit parses back to the same value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include "config.h"
#include "fuzz-util.h"
#include "parse-util.h"

#define FILENAME "fuzz.conf"

static void check_units(const char *value) {
        uint64_t usec, again;
        size_t bytes, again_bytes;
        char buf[64];
        int r;

        r = parse_timespan_sec(value, &usec);
        fuzz_assert(r == 0 || r == -EINVAL || r == -ERANGE);
        if (r == 0) {
                snprintf(buf, sizeof buf, "%" PRIu64 "us", usec);
                fuzz_assert(parse_timespan_sec(buf, &again) == 0 && again == usec);
        }

        r = parse_size(value, &bytes);
        fuzz_assert(r == 0 || r == -EINVAL || r == -ERANGE);
        if (r == 0) {
                snprintf(buf, sizeof buf, "%zu", bytes);
                fuzz_assert(parse_size(buf, &again_bytes) == 0 && again_bytes == bytes);
        }
}

/* Which line the error names; 0 when none. */
static unsigned error_line(const char *error) {
        if (strncmp(error, FILENAME ":", strlen(FILENAME ":")) != 0)
                return 0;
        return (unsigned) strtoul(error + strlen(FILENAME ":"), NULL, 10);
}

static bool is_blank(char c) {
        return c && strchr(" \t\r\v\f", c);
}

/* A secret must not travel from the file into a log line: the value of a ClientSecret= line,
 * and all of a line without "=" (a pasted secret). Overwrite those bytes with filler of the
 * same shape and parse again: if the message changes, it quoted them. */
static void check_no_secret_quoted(const uint8_t *data, size_t size, const char *error) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *copy = NULL, *error2 = NULL;
        unsigned n = error_line(error);
        char *p, *end, *b, *e, *eq;

        if (n == 0)
                return;
        copy = fuzz_strndup(data, size);
        p = copy;
        end = copy + size;
        if (size >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
                p += 3;
        for (unsigned i = 1; i < n && p < end; i++) {
                char *nl = memchr(p, '\n', (size_t) (end - p));
                p = nl ? nl + 1 : end;
        }
        if (p >= end)
                return;
        b = p;
        e = memchr(p, '\n', (size_t) (end - p)) ?: end;
        if (memchr(b, '\0', (size_t) (e - b)))
                return;
        while (b < e && is_blank(*b))
                b++;
        while (e > b && is_blank(e[-1]))
                e--;
        if (b == e || *b == '[' || *b == '#' || *b == ';')
                return;

        eq = memchr(b, '=', (size_t) (e - b));
        if (eq) {
                char *ke = eq;
                while (ke > b && is_blank(ke[-1]))
                        ke--;
                if ((size_t) (ke - b) != strlen("ClientSecret") || memcmp(b, "ClientSecret", ke - b) != 0)
                        return;
                b = eq + 1;
        }
        for (char *q = b; q < e; q++)
                if (!is_blank(*q))
                        *q = 'Q';

        fuzz_assert(config_new(&c) == 0);
        if (config_parse_text(c, FILENAME, copy, size, &error2) == -ENOMEM)
                return;
        fuzz_assert(error2);
        fuzz_assert(strcmp(error, error2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        int r;

        unsetenv("CREDENTIALS_DIRECTORY");
        unsetenv("STATE_DIRECTORY");
        text = fuzz_strndup(data, size);

        fuzz_assert(config_new(&c) == 0);
        r = config_parse_text(c, FILENAME, (const char *) data, size, &error);
        fuzz_assert(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r == -EINVAL) {
                fuzz_assert(error);
                fuzz_assert(strncmp(error, FILENAME ":", strlen(FILENAME ":")) == 0);
                check_no_secret_quoted(data, size, error);
        } else
                fuzz_assert(!error);

        /* A failed text may have applied its first lines; the required settings stay set either way.
         * The endpoints may be unset until config_finalize() fills in the cloud's; set, they are
         * https. */
        fuzz_assert(c->api_version && c->calls_path && c->socket_path && c->cloud_info);
        fuzz_assert(!c->graph_endpoint || strncmp(c->graph_endpoint, "https://", 8) == 0);
        fuzz_assert(!c->login_endpoint || strncmp(c->login_endpoint, "https://", 8) == 0);
        fuzz_assert(c->max_attempts >= 1 && c->max_in_flight >= 1 && c->max_request_bytes >= 256);
        fuzz_assert(c->socket_path[0] == '/' && strlen(c->socket_path) <= 107);

        if (r == 0) {
                r = config_finalize(c, &error);
                fuzz_assert(r == 0 || r == -EINVAL || r == -ENOMEM);
                fuzz_assert((r == -EINVAL) == !!error);
                /* Exactly one credential: a secret, a certificate with its key, an assertion file or
                 * a managed identity; and the endpoints and scope, the cloud's unless set. */
                fuzz_assert(r != 0 || (c->tenant_id && c->client_id &&
                                       !!c->client_secret_file + !!c->certificate_file + !!c->client_assertion_file +
                                                       !!c->managed_identity ==
                                               1 &&
                                       (!c->certificate_file || c->private_key_file)));
                fuzz_assert(r != 0 || (c->login_endpoint && c->graph_endpoint && c->scope &&
                                       strncmp(c->graph_endpoint, "https://", 8) == 0 &&
                                       strncmp(c->login_endpoint, "https://", 8) == 0));
        }

        /* Every value on its own through the unit parsers. */
        for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
                nl = strchr(p, '\n');
                if (nl)
                        *nl = '\0';
                char *eq = strchr(p, '=');
                check_units(eq ? eq + 1 : p);
        }
        return 0;
}
