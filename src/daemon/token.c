/* SPDX-License-Identifier: MIT */
/*
 * token.c — see token.h. Timers run on CLOCK_BOOTTIME because a token's lifetime is wall time
 * that keeps passing while the host is suspended. A token is used only until shortly before
 * its expiry (a tenth of its lifetime, at most 30 s) so a request never leaves with a token
 * that expires on the wire.
 *
 * The credential itself (a secret, a certificate or a federated credential) is
 * client-credential.c's; this file only asks it for each request's body, and waits for it when
 * it must be fetched first (a managed identity's token).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

#include "client-credential.h"
#include "graph.h"
#include "identity.h"
#include "http.h"
#include "log.h"
#include "token.h"
#include "json-util.h"
#include "util.h"

#define TOKEN_RETRY_BASE_USEC (1 * USEC_PER_SEC)
/* Cancels wait for a token within their deadline (RequestTimeoutSec=, 30 s by default): a
 * longer gap between retries would let them all fail while the login service is back. */
#define TOKEN_RETRY_MAX_USEC (15 * USEC_PER_SEC)
#define TOKEN_PERMANENT_RETRY_USEC (300 * USEC_PER_SEC)
#define TOKEN_FETCH_TIMEOUT_USEC (30 * USEC_PER_SEC)

struct TokenWaiter {
        TokenManager *manager;
        token_ready_t cb;
        void *userdata;
        TokenWaiter *prev, *next;
};

struct TokenManager {
        sd_event *event;
        CurlGlue *glue;
        const Config *config;
        char *tenant;

        ClientCredential *credential; /* borrowed from tenant-tokens.c */
        char *token;
        uint64_t usable_until;     /* CLOCK_BOOTTIME */
        uint64_t expires_realtime; /* for status */

        HttpRequest *fetch;
        CredentialWaiter *credential_wait; /* the credential is being fetched first */
        unsigned failures; /* consecutive, for backoff */
        unsigned fetches;  /* total, for status and tests */
        sd_event_source *timer; /* renewal or retry */
        sd_event_source *defer; /* delivers to waiters from the loop when a token is at hand */

        char *last_error;  /* "invalid_client" */
        char *last_aadsts; /* "AADSTS7000215" */
        char *last_description;
        bool last_permanent;
        bool last_recheck; /* the failure was the credential's, and cheap to check again */
        bool failed;

        TokenWaiter *waiters, *waiters_tail; /* served in arrival order */
};

static const char *const state_names[_TOKEN_STATE_MAX] = {
        [TOKEN_NONE] = "none",
        [TOKEN_VALID] = "valid",
        [TOKEN_REFRESHING] = "refreshing",
        [TOKEN_FAILED] = "failed",
};

const char *token_state_to_string(TokenState s) {
        return s >= 0 && s < _TOKEN_STATE_MAX ? state_names[s] : "none";
}

static uint64_t random_u64(void) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
                r = now_usec(CLOCK_MONOTONIC) * UINT64_C(6364136223846793005);
        return r;
}

static uint64_t boottime_now(TokenManager *t) {
        uint64_t now;
        if (sd_event_now(t->event, CLOCK_BOOTTIME, &now) < 0)
                now = now_usec(CLOCK_BOOTTIME);
        return now;
}

const char *token_manager_peek(TokenManager *t) {
        if (t->token && boottime_now(t) < t->usable_until)
                return t->token;
        return NULL;
}

TokenState token_manager_state(TokenManager *t) {
        if (t->fetch || t->credential_wait)
                return TOKEN_REFRESHING;
        if (token_manager_peek(t))
                return TOKEN_VALID;
        if (t->failed)
                return TOKEN_FAILED;
        return TOKEN_NONE;
}

unsigned token_manager_fetches(TokenManager *t) {
        return t->fetches;
}

static void waiter_unlink(TokenWaiter *w) {
        TokenManager *t = w->manager;

        if (!t)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                t->waiters = w->next;
        if (w->next)
                w->next->prev = w->prev;
        else
                t->waiters_tail = w->prev;
        w->prev = w->next = NULL;
        w->manager = NULL;
}

TokenWaiter *token_waiter_free(TokenWaiter *w) {
        if (!w)
                return NULL;
        waiter_unlink(w);
        free(w);
        return NULL;
}

/* Hands the current token (or err) to every waiter. Callbacks may add new waiters or free
 * others, so take one at a time from the head. */
static void waiters_notify(TokenManager *t, const Error *err) {
        TokenWaiter *w;

        while ((w = t->waiters)) {
                token_ready_t cb = w->cb;
                void *ud = w->userdata;

                waiter_unlink(w);
                free(w);
                cb(err ? NULL : t->token, err, ud);
                if (!err && !token_manager_peek(t))
                        break; /* a callback invalidated the token; the rest wait for the next */
        }
}

Error *token_manager_error(TokenManager *t) {
        json_object *data = json_object_new_object();

        if (json_member_add(data, "reason", json_object_new_string(t->last_error ?: "no_token")) < 0 ||
            (t->last_aadsts && json_member_add(data, "aadsts", json_object_new_string(t->last_aadsts)) < 0)) {
                json_object_put(data);
                return error_oom();
        }
        if (json_member_add(data, "tenantId", json_object_new_string(t->tenant)) < 0) {
                json_object_put(data);
                return error_oom();
        }
        if (aadsts_means_not_consented(t->last_aadsts)) {
                _cleanup_free_ char *advice =
                        tenant_consent_advice(t->config->cloud_info->login_endpoint, t->tenant, t->config->client_id);
                _cleanup_free_ char *url =
                        admin_consent_url(t->config->cloud_info->login_endpoint, t->tenant, t->config->client_id);
                if (!advice || !url || json_member_add(data, "adminConsentUrl", json_object_new_string(url)) < 0) {
                        json_object_put(data);
                        return error_oom();
                }
                return error_new(ERROR_TOKEN_UNAVAILABLE, data, "No access token for tenant %s: %s (%s): %s.", t->tenant,
                                 t->last_error, t->last_aadsts, advice);
        }
        if (t->last_error)
                return error_new(ERROR_TOKEN_UNAVAILABLE, data, "No access token for tenant %s: %s%s%s", t->tenant,
                                 t->last_error, t->last_description ? ": " : "", strempty(t->last_description));
        return error_new(ERROR_TOKEN_UNAVAILABLE, data,
                         "No access token for tenant %s yet: the token endpoint has not answered.", t->tenant);
}

static void token_fetch_start(TokenManager *t);

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        token_fetch_start(userdata);
        return 0;
}

static void schedule_fetch(TokenManager *t, uint64_t delay) {
        uint64_t at = boottime_now(t) + delay;
        int r;

        if (t->timer) {
                r = sd_event_source_set_time(t->timer, at);
                if (r >= 0)
                        r = sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time(t->event, &t->timer, CLOCK_BOOTTIME, at, 100 * USEC_PER_MSEC, on_timer, t);
                if (r >= 0)
                        (void) sd_event_source_set_description(t->timer, "token-renewal");
        }
        if (r < 0)
                log_error_errno(r, "Failed to schedule token renewal: %m");
}

static void set_last_error(TokenManager *t, const TokenAnswer *a) {
        bool changed = !streq_ptr(t->last_error, a->error) || !streq_ptr(t->last_aadsts, a->aadsts);

        free(t->last_error);
        free(t->last_aadsts);
        free(t->last_description);
        t->last_error = a->error ? strdup(a->error) : NULL;
        t->last_aadsts = a->aadsts ? strdup(a->aadsts) : NULL;
        t->last_description = a->description ? strdup(a->description) : NULL;
        t->last_permanent = a->permanent;
        t->last_recheck = false;
        t->failed = true;

        /* Once per change, not once per retry: a login outage must not flood the journal. */
        if (changed) {
                _cleanup_free_ char *advice =
                        aadsts_means_not_consented(a->aadsts)
                                ? tenant_consent_advice(t->config->cloud_info->login_endpoint, t->tenant, t->config->client_id)
                                : NULL;
                log_struct(LOG_ERR, &(LogFields) { .message_id = MESSAGE_ID_TOKEN_FAILED, .tenant_id = t->tenant },
                           "Token request for tenant %s failed: %s%s%s%s%s%s", t->tenant, strempty(a->error),
                           a->aadsts ? " (" : "", strempty(a->aadsts), a->aadsts ? ")" : "", advice ? "; " : "",
                           advice ?: a->permanent ? "; check the tenant, ClientId= and the credential"
                                                  : "; will retry");
        }
}

static void on_fetch_done(HttpRequest *req, void *userdata) {
        TokenManager *t = userdata;
        TokenAnswer a = {};
        uint64_t retry_after = 0;
        int r;

        t->fetch = NULL;

        /* The login service may say when to come back (429, 503); asking earlier only adds to
         * its load. */
        if (req->result == CURLE_OK && req->retry_after)
                (void) parse_retry_after(req->retry_after, now_usec(CLOCK_REALTIME), &retry_after);

        if (req->result != CURLE_OK) {
                a.error = strdup(http_result_is_unreachable(req->result) ? "login_unreachable" : "login_transport_error");
                if (asprintf(&a.description, "%s", req->errbuf[0] ? req->errbuf : curl_easy_strerror(req->result)) < 0)
                        a.description = NULL;
                a.permanent = false;
        } else {
                r = token_answer_parse(req->status, req->body.data, req->body.size, &a);
                if (r < 0) {
                        log_oom();
                        a = (TokenAnswer) { .error = strdup("internal_error") };
                }
        }
        http_request_free(req);

        if (a.access_token) {
                uint64_t now = boottime_now(t);
                uint64_t margin = MIN(a.expires_in_usec / 10, 30 * USEC_PER_SEC);
                uint64_t renew = token_renewal_delay_usec(a.expires_in_usec, a.refresh_in_usec, random_u64());

                erase_and_free(t->token);
                t->token = TAKE_PTR(a.access_token);
                t->usable_until = now + a.expires_in_usec - margin;
                t->expires_realtime = now_usec(CLOCK_REALTIME) + a.expires_in_usec;
                t->failures = 0;
                if (t->failed)
                        log_struct(LOG_NOTICE, &(LogFields) { .message_id = MESSAGE_ID_TOKEN_RECOVERED, .tenant_id = t->tenant },
                                   "Token request for tenant %s succeeded again.", t->tenant);
                t->failed = false;
                t->last_error = mfree(t->last_error);
                t->last_aadsts = mfree(t->last_aadsts);
                t->last_description = mfree(t->last_description);
                log_debug("Acquired access token for tenant %s valid for %.1fs, renewing in %.1fs.", t->tenant,
                          (double) a.expires_in_usec / 1e6, (double) renew / 1e6);
                schedule_fetch(t, renew);
                token_answer_done(&a);
                waiters_notify(t, NULL);
                return;
        }

        set_last_error(t, &a);
        t->failures++;
        /* One draw, in a variable: MAX() evaluates its arguments twice, and a second random
         * draw would undo both floors. */
        uint64_t backoff = backoff_delay_usec(t->failures - 1, TOKEN_RETRY_BASE_USEC, TOKEN_RETRY_MAX_USEC,
                                              random_u64());
        uint64_t delay = a.permanent ? TOKEN_PERMANENT_RETRY_USEC
                                     : MAX(MAX(backoff, 100 * USEC_PER_MSEC),
                                           MIN(retry_after, TOKEN_PERMANENT_RETRY_USEC));
        schedule_fetch(t, delay);
        token_answer_done(&a);

        /* Waiters give up only when asking again cannot help; otherwise they wait for the
         * retry within their own deadline. */
        if (a.permanent || t->last_permanent) {
                _cleanup_(error_freep) Error *e = token_manager_error(t);
                if (e)
                        waiters_notify(t, e);
        }
}

/* The credential could not be used (a client assertion file that is missing or expired, a
 * managed identity endpoint that refused): the same life as a failed token request, with the
 * credential's own words as the reason. A problem on this host is not waited out: the requests
 * waiting now, and those that come until the retry succeeds, get it at once. */
static void credential_failed(TokenManager *t, const CredentialProblem *p) {
        bool changed = !streq_ptr(t->last_error, p->reason) || !streq_ptr(t->last_description, p->message);

        free(t->last_error);
        free(t->last_aadsts);
        free(t->last_description);
        t->last_error = strdup(p->reason);
        t->last_aadsts = NULL;
        t->last_description = p->message ? strdup(p->message) : NULL;
        t->last_permanent = !p->transient;
        t->last_recheck = p->recheck;
        t->failed = true;
        if (changed)
                log_struct(LOG_ERR, &(LogFields) { .message_id = MESSAGE_ID_TOKEN_FAILED, .tenant_id = t->tenant },
                           "Token request for tenant %s not sent: %s; will retry", t->tenant, strempty(p->message));
        t->failures++;
        schedule_fetch(t, MAX(backoff_delay_usec(t->failures - 1, TOKEN_RETRY_BASE_USEC, TOKEN_RETRY_MAX_USEC,
                                                 random_u64()),
                              100 * USEC_PER_MSEC));
        if (t->last_permanent) {
                _cleanup_(error_freep) Error *e = token_manager_error(t);
                if (e)
                        waiters_notify(t, e);
        }
}

static void on_credential_ready(const CredentialProblem *problem, void *userdata) {
        TokenManager *t = userdata;

        t->credential_wait = NULL; /* freed by the credential after this call */
        if (problem)
                credential_failed(t, problem);
        else
                token_fetch_start(t);
}

static void token_fetch_start(TokenManager *t) {
        _cleanup_free_ char *url = NULL;
        _cleanup_erase_ char *body = NULL;
        CredentialProblem problem = {};
        HttpRequest *req = NULL;
        int r;

        if (t->fetch || t->credential_wait || !t->credential)
                return;

        if (asprintf(&url, "%s/%s/oauth2/v2.0/token", t->config->login_endpoint, t->tenant) < 0) {
                log_oom();
                schedule_fetch(t, TOKEN_RETRY_BASE_USEC);
                return;
        }
        r = client_credential_request_body(t->credential, t->config->client_id, url, t->config->scope, &body,
                                           &problem);
        if (r == -EAGAIN) {
                r = client_credential_wait(t->credential, t->event, t->glue, on_credential_ready, t,
                                           &t->credential_wait);
                if (r >= 0)
                        return;
        }
        if (r < 0 && problem.reason) {
                credential_failed(t, &problem);
                credential_problem_done(&problem);
                return;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot build the token request: %m");
                schedule_fetch(t, TOKEN_RETRY_BASE_USEC);
                return;
        }
        HttpOptions o = {
                .ca_file = t->config->ca_file,
                .proxy = t->config->proxy,
                .no_proxy = t->config->no_proxy,
                .connect_timeout_usec = t->config->connect_timeout_usec,
                .timeout_usec = TOKEN_FETCH_TIMEOUT_USEC,
                .stall_timeout_usec = t->config->stall_timeout_usec,
                .answer_is_secret = true,
        };
        r = http_request_new(url, body, "application/x-www-form-urlencoded", NULL, NULL, &o, &req);
        if (r >= 0) {
                r = http_request_start(t->glue, req, on_fetch_done, t);
                if (r < 0)
                        http_request_free(req);
        }
        if (r < 0) {
                log_error_errno(r, "Failed to start token request: %m");
                schedule_fetch(t, TOKEN_RETRY_BASE_USEC);
                return;
        }
        t->fetch = req;
        t->fetches++;
        log_debug("Requesting access token from %s.", url);
}

int token_manager_new(sd_event *event, CurlGlue *glue, const Config *config, ClientCredential *credential,
                      const char *tenant, TokenManager **ret) {
        TokenManager *t = calloc(1, sizeof *t);

        if (!t)
                return -ENOMEM;
        t->tenant = strdup(tenant);
        if (!t->tenant) {
                free(t);
                return -ENOMEM;
        }
        t->event = sd_event_ref(event);
        t->glue = glue;
        t->config = config;
        t->credential = credential;
        *ret = t;
        return 0;
}

const char *token_manager_tenant(TokenManager *t) {
        return t->tenant;
}

bool token_manager_busy(TokenManager *t) {
        return t->waiters || t->fetch;
}

TokenManager *token_manager_free(TokenManager *t) {
        if (!t)
                return NULL;
        while (t->waiters)
                token_waiter_free(t->waiters);
        http_request_free(t->fetch);
        credential_waiter_free(t->credential_wait);
        sd_event_source_disable_unref(t->timer);
        sd_event_source_disable_unref(t->defer);
        erase_and_free(t->token);
        free(t->tenant);
        free(t->last_error);
        free(t->last_aadsts);
        free(t->last_description);
        sd_event_unref(t->event);
        free(t);
        return NULL;
}

void token_manager_start(TokenManager *t) {
        token_fetch_start(t);
}

void token_manager_set_config(TokenManager *t, const Config *config, ClientCredential *credential,
                              bool identity_changed) {
        /* A fetch of the old credential's assertion is of no use to the new one. */
        if (t->credential_wait) {
                t->credential_wait = credential_waiter_free(t->credential_wait);
                identity_changed = true;
        }
        t->credential = credential;
        t->config = config;
        if (identity_changed || t->failed) {
                /* The next token must come from the new identity; the current one stays in use
                 * until then. A failed state gets a fresh attempt at once. */
                t->failures = 0;
                t->last_permanent = false;
                if (!t->fetch)
                        schedule_fetch(t, 0);
        }
}

static int on_defer(sd_event_source *s, void *userdata) {
        TokenManager *t = userdata;

        (void) s;
        if (token_manager_peek(t))
                waiters_notify(t, NULL);
        else if (t->failed && t->last_recheck)
                token_fetch_start(t); /* answers the waiters at once if it is still unusable */
        else if (t->failed && t->last_permanent) {
                _cleanup_(error_freep) Error *e = token_manager_error(t);
                if (e)
                        waiters_notify(t, e);
        } else if (!t->failed)
                token_fetch_start(t);
        /* After a transient failure the retry timer is already set: waiting for it, rather
         * than asking again per waiter, is what keeps a login outage from becoming a storm. */
        return 0;
}

int token_manager_wait(TokenManager *t, token_ready_t cb, void *userdata, TokenWaiter **ret) {
        TokenWaiter *w = calloc(1, sizeof *w);
        int r;

        if (!w)
                return -ENOMEM;
        *w = (TokenWaiter) { .manager = t, .cb = cb, .userdata = userdata, .prev = t->waiters_tail };
        if (t->waiters_tail)
                t->waiters_tail->next = w;
        else
                t->waiters = w;
        t->waiters_tail = w;

        /* Answer from the loop, never from inside the caller's stack. */
        if (token_manager_peek(t) || (t->failed && t->last_permanent) || (!t->fetch && !t->failed)) {
                if (!t->defer) {
                        r = sd_event_add_defer(t->event, &t->defer, on_defer, t);
                        if (r < 0) {
                                token_waiter_free(w);
                                return r;
                        }
                        (void) sd_event_source_set_description(t->defer, "token-waiters");
                }
                (void) sd_event_source_set_enabled(t->defer, SD_EVENT_ONESHOT);
        }
        *ret = w;
        return 0;
}

void token_manager_invalidate(TokenManager *t, const char *token) {
        if (!t->token || !token || !streq(t->token, token))
                return; /* already replaced: the caller simply retries with the new one */
        log_info("Graph refused the access token of tenant %s; fetching a new one.", t->tenant);
        t->token = erase_and_free(t->token);
        t->usable_until = 0;
        token_fetch_start(t);
}

json_object *token_manager_status_json(TokenManager *t) {
        _cleanup_json_ json_object *j = json_object_new_object();
        char buf[32];

        /* NULL when memory ran out: json-c aborts on members added to an object it could not
         * create, so every step is checked. */
        if (json_member_add(j, "tenantId", json_object_new_string(t->tenant)) < 0 ||
            json_member_add(j, "state", json_object_new_string(token_state_to_string(token_manager_state(t)))) < 0 ||
            json_member_add_string(j, "expiresAt", t->token ? format_rfc3339_ms(t->expires_realtime, buf) : NULL) < 0 ||
            json_member_add(j, "fetches", json_object_new_int((int) t->fetches)) < 0)
                return NULL;
        if (t->last_error) {
                json_object *e = json_object_new_object();
                if (json_member_add(e, "error", json_object_new_string(t->last_error)) < 0 ||
                    json_member_add_string(e, "aadsts", t->last_aadsts) < 0 ||
                    json_member_add_string(e, "message", t->last_description) < 0) {
                        json_object_put(e);
                        return NULL;
                }
                if (json_member_add(j, "lastError", e) < 0)
                        return NULL;
        } else if (json_member_add_null(j, "lastError") < 0)
                return NULL;
        return TAKE_PTR(j);
}
