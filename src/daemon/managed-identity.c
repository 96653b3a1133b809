/* SPDX-License-Identifier: MIT */
/*
 * managed-identity.c — see managed-identity.h. Timers and expiry on CLOCK_BOOTTIME, like the
 * app's own token: the managed identity's token lives in wall time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph.h"
#include "http.h"
#include "identity.h"
#include "log.h"
#include "managed-identity.h"
#include "string-util.h"
#include "util.h"
#include "validate.h"

struct CredentialWaiter {
        ManagedIdentity *owner;
        credential_ready_t cb;
        void *userdata;
        CredentialWaiter *prev, *next;
};

struct ManagedIdentity {
        ManagedIdentitySource source;
        char *url;       /* the endpoint, without query */
        char *client_id; /* NULL: system-assigned */
        uint64_t connect_timeout_usec;

        char *token; /* wiped */
        uint64_t usable_until; /* CLOCK_BOOTTIME */

        sd_event *event;
        CurlGlue *glue;
        HttpRequest *fetch;
        bool challenged; /* Arc: this fetch is the second request, with the key */
        CredentialWaiter *waiters, *waiters_tail;
};

ManagedIdentitySource managed_identity_source(const Config *c) {
        if (streq_ptr(c->managed_identity_source, "imds"))
                return MANAGED_IDENTITY_IMDS;
        if (streq_ptr(c->managed_identity_source, "arc"))
                return MANAGED_IDENTITY_ARC;
        if (access(MANAGED_IDENTITY_ARC_AGENT, F_OK) == 0 ||
            (!isempty(getenv("IDENTITY_ENDPOINT")) && !isempty(getenv("IMDS_ENDPOINT"))))
                return MANAGED_IDENTITY_ARC;
        return MANAGED_IDENTITY_IMDS;
}

int managed_identity_new(const Config *c, ManagedIdentity **ret) {
        _cleanup_(managed_identity_freep) ManagedIdentity *m = calloc(1, sizeof *m);

        if (!m)
                return -ENOMEM;
        m->source = managed_identity_source(c);
        m->url = strdup(c->managed_identity_endpoint ?:
                        m->source == MANAGED_IDENTITY_ARC ? MANAGED_IDENTITY_ARC_URL : MANAGED_IDENTITY_IMDS_URL);
        if (!m->url)
                return -ENOMEM;
        if (c->managed_identity && !streq(c->managed_identity, "system") && !(m->client_id = strdup(c->managed_identity)))
                return -ENOMEM;
        m->connect_timeout_usec = c->connect_timeout_usec;
        *ret = TAKE_PTR(m);
        return 0;
}

const char *managed_identity_url(const ManagedIdentity *m) {
        return m->url;
}

ManagedIdentitySource managed_identity_get_source(const ManagedIdentity *m) {
        return m->source;
}

static void waiter_unlink(CredentialWaiter *w) {
        ManagedIdentity *m = w->owner;

        if (!m)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                m->waiters = w->next;
        if (w->next)
                w->next->prev = w->prev;
        else
                m->waiters_tail = w->prev;
        w->prev = w->next = NULL;
        w->owner = NULL;
}

CredentialWaiter *credential_waiter_free(CredentialWaiter *w) {
        if (!w)
                return NULL;
        waiter_unlink(w);
        free(w);
        return NULL;
}

ManagedIdentity *managed_identity_free(ManagedIdentity *m) {
        if (!m)
                return NULL;
        while (m->waiters)
                credential_waiter_free(m->waiters);
        http_request_free(m->fetch);
        erase_and_free(m->token);
        free(m->url);
        free(m->client_id);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

static uint64_t boottime_now(ManagedIdentity *m) {
        uint64_t now;
        if (!m->event || sd_event_now(m->event, CLOCK_BOOTTIME, &now) < 0)
                now = now_usec(CLOCK_BOOTTIME);
        return now;
}

const char *managed_identity_peek(ManagedIdentity *m) {
        if (m->token && boottime_now(m) < m->usable_until)
                return m->token;
        if (m->token)
                m->token = erase_and_free(m->token); /* expired: nothing left to steal */
        return NULL;
}

/* Everyone waiting gets the same answer, one at a time from the head: a callback may add a
 * waiter (a new fetch then starts) or free another. */
static void waiters_notify(ManagedIdentity *m, const CredentialProblem *p) {
        CredentialWaiter *w, *last = m->waiters_tail;

        while ((w = m->waiters)) {
                credential_ready_t cb = w->cb;
                void *ud = w->userdata;
                bool was_last = w == last;

                waiter_unlink(w);
                free(w);
                cb(p, ud);
                if (was_last)
                        break;
        }
}

static void fail(ManagedIdentity *m, bool transient, char *message) {
        CredentialProblem p = {
                .reason = "managed_identity_unavailable",
                .message = message,
                .transient = transient,
        };

        if (!message)
                (void) log_oom();
        waiters_notify(m, &p);
        credential_problem_done(&p);
}

static int fetch_start(ManagedIdentity *m, const char *key);

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && streq(s + n - k, suffix);
}

/* "Basic realm=PATH" (PATH perhaps quoted): the key file, only where the agent keeps them. */
static char *arc_key_path(const char *challenge, char **ret_why) {
        static const char prefix[] = MANAGED_IDENTITY_ARC_TOKENS_DIR "/";
        const char *v;
        size_t n;

        if (!challenge || strncasecmp(challenge, "Basic ", 6) != 0 ||
            !(v = strcasestr(challenge, "realm="))) {
                *ret_why = strdup("its 401 answer has no WWW-Authenticate: Basic realm=");
                return NULL;
        }
        v += strlen("realm=");
        if (*v == '"')
                v++;
        n = strcspn(v, "\",");
        _cleanup_free_ char *path = strndup(v, n);
        if (!path)
                return NULL;
        const char *name = path + strlen(prefix);
        if (text_has_control(path) || strncmp(path, prefix, strlen(prefix)) != 0 || strchr(name, '/') ||
            name[0] == '.' || strlen(name) <= 4 || !ends_with(name, ".key")) {
                *ret_why = strprintf("its challenge names the key file \"%s\", which is not a .key file directly in "
                                     MANAGED_IDENTITY_ARC_TOKENS_DIR "; refusing to read it",
                                     text_has_control(path) ? "(control characters)" : path);
                return NULL;
        }
        return TAKE_PTR(path);
}

static int arc_read_key(const char *path, char **ret, char **ret_why) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        /* Not held to the credential rule: the agent owns the file (group himds); it must only
         * be the file itself, and small. */
        r = open_regular_file(path, false, &fd, &st);
        if (r == -ELOOP)
                *ret_why = strprintf("%s: the key file is a symbolic link; refusing to follow it", path);
        else if (r == -EBADFD)
                *ret_why = strprintf("%s: the key file is not a regular file", path);
        else if (r < 0 && r != -ENOMEM)
                *ret_why = strprintf("%s: cannot read the key file: %s (the daemon's user must be in the "
                                     "group himds)", path, strerror(-r));
        if (r < 0)
                return r;
        r = read_secret_fd(fd, MANAGED_IDENTITY_ARC_KEY_MAX_BYTES, ret);
        if (r == -EFBIG)
                *ret_why = strprintf("%s: the key file is larger than %d bytes; refusing it", path,
                                     MANAGED_IDENTITY_ARC_KEY_MAX_BYTES);
        else if (r == -EBADMSG)
                *ret_why = strprintf("%s: the key file is empty", path);
        else if (r < 0 && r != -ENOMEM)
                *ret_why = strprintf("%s: cannot read the key file: %s", path, strerror(-r));
        return r;
}

static void on_arc_challenge(ManagedIdentity *m, const char *challenge) {
        _cleanup_free_ char *path = NULL, *why = NULL;
        _cleanup_erase_ char *key = NULL;
        int r;

        path = arc_key_path(challenge, &why);
        if (!path)
                return fail(m, false, why ? strprintf("%s: the Azure Arc agent %s.", m->url, why) : NULL);
        r = arc_read_key(path, &key, &why);
        if (r < 0)
                return fail(m, false, why ? strprintf("%s: the Azure Arc agent's challenge: %s.", m->url, why) : NULL);
        r = fetch_start(m, key);
        if (r < 0)
                return fail(m, false, strprintf("%s: cannot send the request: %s", m->url, strerror(-r)));
}

static void on_fetch_done(HttpRequest *req, void *userdata) {
        ManagedIdentity *m = userdata;
        TokenAnswer a = {};
        bool challenged = m->challenged;
        int r;

        m->fetch = NULL;
        m->challenged = false;
        if (req->result != CURLE_OK) {
                bool refused = req->refused_address[0];
                char *msg = refused ? strprintf("%s: refused to connect to %s, which is neither a loopback nor a "
                                                "link-local address (plain HTTP goes nowhere else).",
                                                m->url, req->refused_address)
                                    : strprintf("%s: %s", m->url,
                                                req->errbuf[0] ? req->errbuf : curl_easy_strerror(req->result));
                http_request_free(req);
                return fail(m, !refused, msg);
        }
        if (req->status == 401 && m->source == MANAGED_IDENTITY_ARC && !challenged) {
                _cleanup_free_ char *challenge = req->www_authenticate ? strdup(req->www_authenticate) : NULL;
                http_request_free(req);
                return on_arc_challenge(m, challenge);
        }

        r = managed_identity_answer_parse(req->status, req->body.data, req->body.size,
                                          now_usec(CLOCK_REALTIME) / USEC_PER_SEC, &a);
        long status = req->status;
        http_request_free(req);
        if (r < 0)
                return fail(m, true, NULL);
        if (!a.access_token) {
                /* IMDS: 400 for an identity it does not know, 404/410 while it starts, 429 when
                 * asked too often, 5xx (reference 2.3). */
                bool transient = status >= 500 || status == 429 || status == 404 || status == 410;
                if (status == 200) {
                        token_answer_done(&a);
                        return fail(m, true, strprintf("%s answered HTTP 200 without a usable token (a non-empty "
                                                       "access_token and a positive expires_in, or an "
                                                       "expires_on in the future).", m->url));
                }
                char *msg = strprintf("%s answered HTTP %ld: %s%s%s%s", m->url, status, strempty(a.error),
                                      a.description ? " (" : "", strempty(a.description), a.description ? ")" : "");
                token_answer_done(&a);
                return fail(m, transient, msg);
        }

        uint64_t life = a.expires_in_usec, margin = MIN(life / 10, MANAGED_IDENTITY_EXPIRY_MARGIN_USEC);
        if (life == 0) {
                token_answer_done(&a);
                return fail(m, true, strprintf("%s gave a token that has already expired.", m->url));
        }
        erase_and_free(m->token);
        m->token = TAKE_PTR(a.access_token);
        m->usable_until = boottime_now(m) + life - margin;
        token_answer_done(&a);
        log_debug("Managed identity token from %s, usable for %.0fs.", m->url, (double) (life - margin) / 1e6);
        waiters_notify(m, NULL);
}

/* key: NULL for the first request; the Arc key for the second. */
static int fetch_start(ManagedIdentity *m, const char *key) {
        _cleanup_free_ char *url = NULL, *resource = url_escape(MANAGED_IDENTITY_RESOURCE);
        _cleanup_erase_ char *auth = NULL;
        HttpRequest *req = NULL;
        int r;

        if (!resource)
                return -ENOMEM;
        url = strprintf("%s?api-version=%s&resource=%s%s%s", m->url,
                        m->source == MANAGED_IDENTITY_ARC ? MANAGED_IDENTITY_ARC_API_VERSION
                                                          : MANAGED_IDENTITY_IMDS_API_VERSION,
                        resource, m->client_id ? "&client_id=" : "", strempty(m->client_id));
        if (!url || (key && !(auth = strprintf("Authorization: Basic %s", key))))
                return -ENOMEM;
        const char *headers[] = { "Metadata: true", auth, NULL };
        HttpOptions o = {
                .connect_timeout_usec = m->connect_timeout_usec,
                .timeout_usec = MANAGED_IDENTITY_TIMEOUT_USEC,
                .plain_local_only = true,
                .extra_headers = headers,
        };
        r = http_request_new(url, NULL, NULL, NULL, NULL, &o, &req);
        if (r < 0)
                return r;
        r = http_request_start(m->glue, req, on_fetch_done, m);
        if (r < 0) {
                http_request_free(req);
                return r;
        }
        m->fetch = req;
        m->challenged = key != NULL;
        return 0;
}

int managed_identity_wait(ManagedIdentity *m, sd_event *event, CurlGlue *glue, credential_ready_t cb,
                          void *userdata, CredentialWaiter **ret) {
        CredentialWaiter *w;
        int r;

        if (!m->event)
                m->event = sd_event_ref(event);
        m->glue = glue;
        if (!m->fetch) {
                r = fetch_start(m, NULL);
                if (r < 0)
                        return r;
        }
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM; /* the fetch goes on; the next wait joins it */
        *w = (CredentialWaiter) { .owner = m, .cb = cb, .userdata = userdata, .prev = m->waiters_tail };
        if (m->waiters_tail)
                m->waiters_tail->next = w;
        else
                m->waiters = w;
        m->waiters_tail = w;
        *ret = w;
        return 0;
}
