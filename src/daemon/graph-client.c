/* SPDX-License-Identifier: MIT */
/*
 * graph-client.c — see graph-client.h.
 *
 * A request moves QUEUED → (WAIT_TOKEN) → ON_WIRE → done, or ON_WIRE → BACKOFF → QUEUED for a
 * retry. It holds an in-flight slot only on the wire. Waiting for its tenant's token it holds
 * none, so a tenant whose login is down never keeps another tenant's cancels off the wire; it
 * counts against MaxQueued instead, like a queued request, and when the token comes it goes at
 * once if a slot is free, else back into the queue in its place by admission order. A request
 * in backoff gives its slot back so others can go. A retry goes to the front of the queue: it
 * was first in line before.
 *
 * Every send passes one gate: no send while Graph's Retry-After runs (the daemon-wide hold);
 * after a hold one request goes alone as a probe, so that a throttle that outlasted its
 * Retry-After costs one more request instead of MaxInFlight of them; and MaxRequestsPerSecond
 * as a token bucket. A request that finds the gate closed goes back to the front of the queue.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/random.h>

#include "graph-client.h"
#include "json-util.h"
#include "http.h"
#include "identity.h"
#include "log.h"
#include "util.h"

typedef enum RequestState {
        REQUEST_QUEUED,
        REQUEST_WAIT_TOKEN,
        REQUEST_ON_WIRE,
        REQUEST_BACKOFF,
} RequestState;

struct GraphRequest {
        GraphClient *client;
        RequestState state;
        char *tenant; /* whose token it is sent with (normalised) */
        uint64_t seq; /* admission order */
        char *url;
        char *body; /* NULL for GET */
        uint64_t deadline; /* CLOCK_MONOTONIC */
        unsigned attempt;
        bool refreshed_token;
        char *token_used; /* to tell the token manager which token Graph refused; wiped */
        char client_request_id[37];

        HttpRequest *http;
        TokenWaiter *waiter;
        sd_event_source *deadline_timer;
        sd_event_source *backoff_timer;
        Error *last_error; /* why the last attempt failed, reported if the deadline passes */

        graph_started_t started;
        graph_done_t cb;
        void *userdata;
        GraphRequest *prev, *next; /* queue links, or the list of started requests */
};

struct GraphClient {
        sd_event *event;
        CurlGlue *glue;
        TenantTokens *tokens;
        const Config *config;

        GraphRequest *queue_head, *queue_tail;
        unsigned n_queued;
        GraphRequest *active; /* everything not queued: waiting for a token, on the wire, backoff */
        unsigned n_slots;     /* ON_WIRE */
        unsigned n_waiting;   /* WAIT_TOKEN */
        uint64_t next_seq;
        unsigned attempts;    /* total HTTP attempts, for status */

        bool freeing;
        uint64_t hold_until; /* CLOCK_MONOTONIC: Graph asked us to wait until then */
        sd_event_source *hold_timer; /* wakes dispatch() when the gate may open again */
        bool probe_pending;  /* a hold was set: the next send after it goes alone */
        GraphRequest *probe; /* that send, while it is on the wire */

        /* MaxRequestsPerSecond=: send credit in µs of accrued time, at most one second's
         * worth, so bursts stay within one second of allowance. */
        uint64_t rate_credit_usec;
        uint64_t rate_updated; /* CLOCK_MONOTONIC of the last refill */
};

static uint64_t random_u64(void) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
                r = now_usec(CLOCK_MONOTONIC) * UINT64_C(2862933555777941757);
        return r;
}

static uint64_t mono_now(GraphClient *g) {
        uint64_t now;
        if (sd_event_now(g->event, CLOCK_MONOTONIC, &now) < 0)
                now = now_usec(CLOCK_MONOTONIC);
        return now;
}

static void list_remove(GraphRequest **head, GraphRequest **tail, GraphRequest *r) {
        if (r->prev)
                r->prev->next = r->next;
        else
                *head = r->next;
        if (r->next)
                r->next->prev = r->prev;
        else if (tail)
                *tail = r->prev;
        r->prev = r->next = NULL;
}

static void queue_push(GraphClient *g, GraphRequest *r, bool front) {
        r->state = REQUEST_QUEUED;
        if (front) {
                r->next = g->queue_head;
                if (g->queue_head)
                        g->queue_head->prev = r;
                else
                        g->queue_tail = r;
                g->queue_head = r;
        } else {
                r->prev = g->queue_tail;
                if (g->queue_tail)
                        g->queue_tail->next = r;
                else
                        g->queue_head = r;
                g->queue_tail = r;
        }
        g->n_queued++;
}

static void active_push(GraphClient *g, GraphRequest *r) {
        r->next = g->active;
        if (g->active)
                g->active->prev = r;
        g->active = r;
}

/* Takes the request out of whatever list and state it is in, releasing its slot. */
static void request_detach(GraphRequest *r) {
        GraphClient *g = r->client;

        if (r->state == REQUEST_QUEUED) {
                list_remove(&g->queue_head, &g->queue_tail, r);
                g->n_queued--;
        } else {
                list_remove(&g->active, NULL, r);
                if (r->state == REQUEST_ON_WIRE)
                        g->n_slots--;
                else if (r->state == REQUEST_WAIT_TOKEN)
                        g->n_waiting--;
        }
        if (g->probe == r)
                g->probe = NULL; /* the next send probes instead */
        r->waiter = token_waiter_free(r->waiter);
        r->http = http_request_free(r->http);
        r->backoff_timer = sd_event_source_disable_unref(r->backoff_timer);
}

/* Back to the front of the queue from the wire before anything was sent, giving up the slot. */
static void request_requeue(GraphRequest *r) {
        request_detach(r);
        queue_push(r->client, r, true);
}

/* Back into the queue after waiting for a token, before every request admitted after it: the
 * waiters of one token are woken in admission order, and each must not overtake the others. */
static void request_requeue_in_order(GraphRequest *r) {
        GraphClient *g = r->client;
        GraphRequest *p = g->queue_head;

        request_detach(r);
        while (p && p->seq < r->seq)
                p = p->next;
        if (!p) {
                queue_push(g, r, false);
                return;
        }
        r->state = REQUEST_QUEUED;
        r->next = p;
        r->prev = p->prev;
        if (p->prev)
                p->prev->next = r;
        else
                g->queue_head = r;
        p->prev = r;
        g->n_queued++;
}

static void rate_refill(GraphClient *g, uint64_t now) {
        if (now > g->rate_updated) {
                g->rate_credit_usec = MIN(USEC_PER_SEC, g->rate_credit_usec + (now - g->rate_updated));
                g->rate_updated = now;
        }
}

static uint64_t rate_cost_usec(GraphClient *g) {
        return USEC_PER_SEC / g->config->max_requests_per_second;
}

/* Whether a request may be sent now. If not, *ret_wake is when to look again, UINT64_MAX
 * when only the probe's answer can open the gate. */
static bool gate_open(GraphClient *g, uint64_t now, uint64_t *ret_wake) {
        if (g->hold_until > now) {
                *ret_wake = g->hold_until;
                return false;
        }
        if (g->probe) {
                *ret_wake = UINT64_MAX;
                return false;
        }
        if (g->config->max_requests_per_second > 0) {
                uint64_t cost = rate_cost_usec(g);

                rate_refill(g, now);
                if (g->rate_credit_usec < cost) {
                        *ret_wake = now + (cost - g->rate_credit_usec);
                        return false;
                }
        }
        return true;
}

/* r goes through the open gate: spend its credit, and make it the probe if one is due. */
static void gate_pass(GraphClient *g, GraphRequest *r, uint64_t now) {
        if (g->config->max_requests_per_second > 0) {
                uint64_t cost = rate_cost_usec(g);

                rate_refill(g, now);
                g->rate_credit_usec = g->rate_credit_usec > cost ? g->rate_credit_usec - cost : 0;
        }
        if (g->probe_pending) {
                g->probe_pending = false;
                g->probe = r;
        }
}

static void request_free(GraphRequest *r) {
        sd_event_source_disable_unref(r->deadline_timer);
        free(r->url);
        free(r->body);
        erase_and_free(r->token_used);
        error_free(r->last_error);
        free(r->tenant);
        free(r);
}

static void dispatch(GraphClient *g);

/* The single exit: detach, call back, free, let the next one go. */
static void request_finish(GraphRequest *r, GraphAnswer *answer, const Error *err) {
        GraphClient *g = r->client;

        request_detach(r);
        r->cb(r, answer, err, r->userdata);
        request_free(r);
        dispatch(g);
}

/* err is never NULL (errors.h): a constructor that ran out of memory gave error_oom(). */
static void request_fail(GraphRequest *r, Error *err) {
        request_finish(r, NULL, err);
        error_free(err);
}

static void request_set_last_error(GraphRequest *r, Error *e) {
        error_free(r->last_error);
        r->last_error = e;
}

static void request_send(GraphRequest *r, const char *token);

static void on_token(const char *token, const Error *error, void *userdata) {
        GraphRequest *r = userdata;
        GraphClient *g = r->client;
        uint64_t wake;

        r->waiter = NULL; /* freed by the token manager */
        if (error) {
                request_finish(r, NULL, error);
                return;
        }
        /* It needs a slot again, and a hold or the rate limit may have begun while it waited. */
        if (g->freeing || g->n_slots >= g->config->max_in_flight || !gate_open(g, mono_now(g), &wake)) {
                request_requeue_in_order(r);
                dispatch(g);
                return;
        }
        g->n_waiting--;
        g->n_slots++;
        r->state = REQUEST_ON_WIRE;
        request_send(r, token);
}

/* From the wire (holding a slot, nothing sent) to waiting for tm's token, holding none. */
static void request_wait_token(GraphRequest *r, TokenManager *tm) {
        GraphClient *g = r->client;
        int k;

        if (r->state == REQUEST_ON_WIRE)
                g->n_slots--;
        r->state = REQUEST_WAIT_TOKEN;
        g->n_waiting++;
        k = token_manager_wait(tm, on_token, r, &r->waiter);
        if (k < 0)
                request_fail(r, error_new(ERROR_INTERNAL, NULL, "Cannot wait for a token: %s", strerror(-k)));
}

static void request_start(GraphRequest *r) {
        GraphClient *g = r->client;
        TokenManager *tm = NULL;
        const char *token;
        Error *e;

        r->state = REQUEST_ON_WIRE; /* holds the slot until it goes, or waits for its token */
        g->n_slots++;
        active_push(g, r);
        if (r->started) {
                graph_started_t started = r->started;
                r->started = NULL; /* once, not again for retries */
                started(r, r->userdata);
        }
        e = tenant_tokens_get(g->tokens, r->tenant, &tm);
        if (e) {
                request_fail(r, e);
                return;
        }
        token = token_manager_peek(tm);
        if (token) {
                request_send(r, token);
                return;
        }
        request_wait_token(r, tm);
}

static void dispatch(GraphClient *g) {
        uint64_t now = mono_now(g), wake = UINT64_MAX;

        if (g->freeing)
                return;
        while (g->queue_head && g->n_slots < g->config->max_in_flight) {
                GraphRequest *r = g->queue_head;

                if (!gate_open(g, now, &wake)) {
                        if (wake != UINT64_MAX) {
                                (void) sd_event_source_set_time(g->hold_timer, wake);
                                (void) sd_event_source_set_enabled(g->hold_timer, SD_EVENT_ONESHOT);
                        }
                        return;
                }
                list_remove(&g->queue_head, &g->queue_tail, r);
                g->n_queued--;
                request_start(r);
        }
}

static int on_hold_over(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        dispatch(userdata);
        return 0;
}

static int on_backoff_over(sd_event_source *s, uint64_t usec, void *userdata) {
        GraphRequest *r = userdata;
        GraphClient *g = r->client;

        (void) s;
        (void) usec;
        r->backoff_timer = sd_event_source_disable_unref(r->backoff_timer);
        list_remove(&g->active, NULL, r);
        queue_push(g, r, true);
        dispatch(g);
        return 0;
}

static Error *throttled_error(uint64_t retry_after_usec, const char *request_id) {
        json_object *data = json_object_new_object();

        if (json_member_add(data, "retryAfterMs", json_object_new_int64((int64_t) (retry_after_usec / 1000))) < 0 ||
            json_member_add_string(data, "requestId", request_id) < 0) {
                json_object_put(data);
                return error_oom();
        }
        return error_new(ERROR_THROTTLED, data, "Graph kept throttling until the request deadline.");
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        GraphRequest *r = userdata;
        GraphClient *g = r->client;
        uint64_t now = mono_now(g);

        (void) s;
        (void) usec;
        if (r->state == REQUEST_WAIT_TOKEN) {
                TokenManager *tm = tenant_tokens_find(g->tokens, r->tenant);
                request_fail(r, tm ? token_manager_error(tm)
                                   : error_new(ERROR_TOKEN_UNAVAILABLE, NULL, "No access token for tenant %s.", r->tenant));
                return 0;
        }
        if ((r->state == REQUEST_QUEUED || r->state == REQUEST_BACKOFF) && g->hold_until > now) {
                /* Held back by Graph's Retry-After, perhaps without an attempt of its own: the
                 * caller should hear that Graph is throttling, and for how much longer. */
                request_fail(r, throttled_error(g->hold_until - now, NULL));
                return 0;
        }
        if (r->last_error && r->last_error->class != ERROR_GRAPH) {
                Error *e = TAKE_PTR(r->last_error);
                request_fail(r, e);
                return 0;
        }
        json_object *data = json_object_new_object();
        if (json_member_add(data, "attempts", json_object_new_int((int) r->attempt)) < 0) {
                json_object_put(data);
                request_fail(r, error_oom());
                return 0;
        }
        request_fail(r, error_new(ERROR_TIMEOUT, data, "No final answer from Graph within RequestTimeoutSec=%.0fs.",
                                  (double) r->client->config->request_timeout_usec / 1e6));
        return 0;
}

/* Schedules another attempt after delay, or gives up if attempts or the deadline run out. */
static void request_retry_or_fail(GraphRequest *r, uint64_t delay, GraphAnswer *answer) {
        GraphClient *g = r->client;
        uint64_t now = mono_now(g);

        if (r->attempt >= g->config->max_attempts || now + delay >= r->deadline) {
                if (answer && answer->error && answer->http_status != 429) {
                        request_finish(r, answer, answer->error);
                        return;
                }
                request_fail(r, TAKE_PTR(r->last_error));
                return;
        }

        list_remove(&g->active, NULL, r);
        g->n_slots--;
        r->state = REQUEST_BACKOFF;
        active_push(g, r);
        r->http = http_request_free(r->http);
        int k = sd_event_add_time(g->event, &r->backoff_timer, CLOCK_MONOTONIC, now + delay, 0, on_backoff_over, r);
        if (k < 0) {
                request_fail(r, error_new(ERROR_INTERNAL, NULL, "Cannot schedule a retry: %s", strerror(-k)));
                return;
        }
        dispatch(g);
}

/* A hold just began: requests handed to curl that are still connecting have not reached
 * Graph yet, and sending them now would only earn more 429s (Graph counts requests made while
 * throttled). They go back to the queue, as if never attempted. */
static void hold_pull_back(GraphClient *g) {
        GraphRequest *next;

        for (GraphRequest *r = g->active; r; r = next) {
                next = r->next;
                if (r->state != REQUEST_ON_WIRE || !r->http || http_request_sent(r->http))
                        continue;
                log_debug("Graph request %s had not left yet; holding it back.", r->client_request_id);
                r->attempt--;
                g->attempts--;
                request_requeue(r);
        }
}

static const char *json_string_member(json_object *o, const char *key) {
        json_object *v = NULL;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* Graph's 7504 says that the token's tenant may not reach this call: the call lives in
 * another tenant, or this tenant never consented to the calling permissions. Only the caller
 * (which tenant) or that tenant's administrator (consent) can change that, so the message says
 * both, with the admin consent URL. On OOM the plain Graph error stays. */
static void explain_tenant_error(GraphClient *g, GraphRequest *r, GraphAnswer *a) {
        const char *login = g->config->cloud_info->login_endpoint;
        _cleanup_free_ char *url = admin_consent_url(login, r->tenant, g->config->client_id);
        _cleanup_(error_freep) Error *e = error_copy(a->error);
        char *message = NULL;

        if (!url || error_is_oom(e) ||
            asprintf(&message,
                     "%s. The token of tenant %s may not act on this call: either the call belongs to another tenant "
                     "(send the cancel with that tenant as tenantId), or the application is not consented in tenant "
                     "%s, and an administrator of tenant %s must grant it admin consent for the calling permissions "
                     "at %s",
                     e->message, r->tenant, r->tenant, r->tenant, url) < 0)
                return;
        free(e->message);
        e->message = message;
        if (error_data_set(e, "tenantId", json_object_new_string(r->tenant)) < 0 ||
            error_data_set(e, "adminConsentUrl", json_object_new_string(url)) < 0)
                return;
        error_free(a->error);
        a->error = TAKE_PTR(e);
}

static void on_http_done(HttpRequest *h, void *userdata) {
        GraphRequest *r = userdata;
        GraphClient *g = r->client;
        GraphAnswer a = {};
        int k;

        /* Whatever the probe's answer, it is in: a new hold (below) calls for a new probe, any
         * other answer lets everyone go again. */
        if (g->probe == r)
                g->probe = NULL;

        if (h->result != CURLE_OK) {
                bool unreachable = http_result_is_unreachable(h->result);
                json_object *data = json_object_new_object();
                if (json_member_add(data, "curlCode", json_object_new_int((int) h->result)) < 0) {
                        /* Without its curlCode it is still the right error. */
                        json_object_put(data);
                        data = NULL;
                }
                request_set_last_error(r, error_new(unreachable ? ERROR_GRAPH_UNREACHABLE : ERROR_TIMEOUT, data,
                                                    "%s: %s", unreachable ? "Cannot reach Graph" : "Graph request failed",
                                                    h->errbuf[0] ? h->errbuf : curl_easy_strerror(h->result)));
                log_debug("Graph request %s attempt %u failed: %s", r->client_request_id, r->attempt,
                          h->errbuf[0] ? h->errbuf : curl_easy_strerror(h->result));
                request_retry_or_fail(r, backoff_delay_usec(r->attempt - 1, g->config->retry_base_usec,
                                                            g->config->retry_max_usec, random_u64()), NULL);
                return;
        }

        k = graph_answer_parse(h->status, h->location, h->request_id, h->retry_after, h->body.data, h->body.size,
                               now_usec(CLOCK_REALTIME), &a);
        if (k < 0) {
                request_fail(r, error_oom());
                return;
        }

        if (h->status == 401 && !r->refreshed_token) {
                /* The token may have been revoked or expired early: one fresh token, one retry. */
                TokenManager *tm = NULL;
                Error *e = tenant_tokens_get(g->tokens, r->tenant, &tm);

                r->refreshed_token = true;
                r->http = http_request_free(r->http);
                graph_answer_done(&a);
                if (e) {
                        request_fail(r, e);
                        return;
                }
                token_manager_invalidate(tm, r->token_used);
                request_wait_token(r, tm);
                dispatch(g); /* a slot is free, and this may have been the probe */
                return;
        }

        if (graph_status_is_retryable(h->status)) {
                uint64_t delay = a.retry_after_usec;

                if (delay > 0 && (h->status == 429 || h->status == 503)) {
                        /* Graph counts requests we make while throttled: hold everyone. */
                        uint64_t until = mono_now(g) + delay;
                        if (until > g->hold_until) {
                                if (g->hold_until <= mono_now(g))
                                        log_struct(LOG_WARNING, &(LogFields) { .message_id = MESSAGE_ID_THROTTLED, .graph_request_id = a.request_id },
                                                   "Graph is throttling (HTTP %ld): holding requests for %.3fs.",
                                                    h->status, (double) delay / 1e6);
                                g->hold_until = until;
                        }
                        g->probe_pending = true;
                        hold_pull_back(g);
                }
                if (delay == 0)
                        delay = backoff_delay_usec(r->attempt - 1, g->config->retry_base_usec,
                                                   g->config->retry_max_usec, random_u64());
                if (h->status == 429)
                        request_set_last_error(r, throttled_error(delay, a.request_id));
                else
                        request_set_last_error(r, error_copy(a.error));
                request_retry_or_fail(r, delay, &a);
                graph_answer_done(&a);
                return;
        }

        if (a.error && graph_code_means_not_consented(h->status, json_string_member(a.error->data, "graphCode"),
                                                      a.error->message))
                explain_tenant_error(g, r, &a);
        request_finish(r, &a, a.error);
        graph_answer_done(&a);
}

static void request_send(GraphRequest *r, const char *token) {
        GraphClient *g = r->client;
        uint64_t now = mono_now(g);
        HttpOptions o = {
                .ca_file = g->config->ca_file,
                .proxy = g->config->proxy,
                .no_proxy = g->config->no_proxy,
                .connect_timeout_usec = g->config->connect_timeout_usec,
                .timeout_usec = MIN(g->config->attempt_timeout_usec, r->deadline > now ? r->deadline - now : 1000),
                .stall_timeout_usec = g->config->stall_timeout_usec,
        };
        int k;

        gate_pass(g, r, now);
        r->state = REQUEST_ON_WIRE;
        erase_and_free(r->token_used);
        r->token_used = strdup(token);
        if (!r->token_used) {
                request_fail(r, error_oom());
                return;
        }
        k = http_request_new(r->url, r->body, "application/json", token, r->client_request_id, &o, &r->http);
        if (k >= 0)
                k = http_request_start(g->glue, r->http, on_http_done, r);
        if (k < 0) {
                request_fail(r, error_new(ERROR_INTERNAL, NULL, "Cannot start the Graph request: %s", strerror(-k)));
                return;
        }
        r->attempt++;
        g->attempts++;
}

static int request_submit(GraphClient *g, const char *tenant, char *url, char *body, graph_started_t started,
                          graph_done_t cb, void *userdata, GraphRequest **ret) {
        TokenManager *tm = tenant_tokens_find(g->tokens, tenant);
        char *tenant_copy = NULL;
        GraphRequest *r;
        uint64_t wake;
        int k;

        /* MaxQueued= bounds whatever has to wait: for a slot, for its tenant's token, for
         * Graph's Retry-After or for MaxRequestsPerSecond=. A request that can go at once does
         * not queue. */
        bool can_go = !g->queue_head && g->n_slots < g->config->max_in_flight && tm && token_manager_peek(tm) &&
                      gate_open(g, mono_now(g), &wake);
        if (!can_go && g->n_queued + g->n_waiting >= g->config->max_queued) {
                free(url);
                free(body);
                return -ENOBUFS;
        }
        r = calloc(1, sizeof *r);
        tenant_copy = strdup(tenant);
        if (!r || !tenant_copy) {
                free(r);
                free(tenant_copy);
                free(url);
                free(body);
                return -ENOMEM;
        }
        *r = (GraphRequest) { .client = g, .tenant = tenant_copy, .seq = g->next_seq++, .url = url, .body = body,
                             .started = started, .cb = cb, .userdata = userdata };
        /* Unique, so Graph's logs and ours can be matched. */
        if (uuid_random(r->client_request_id) < 0) {
                static uint64_t n;
                snprintf(r->client_request_id, sizeof r->client_request_id, "00000000-0000-4000-8000-%012" PRIx64,
                         ++n & UINT64_C(0xffffffffffff));
        }
        r->deadline = mono_now(g) + g->config->request_timeout_usec;
        k = sd_event_add_time(g->event, &r->deadline_timer, CLOCK_MONOTONIC, r->deadline, 0, on_deadline, r);
        if (k < 0) {
                request_free(r);
                return k;
        }
        (void) sd_event_source_set_description(r->deadline_timer, "graph-deadline");
        queue_push(g, r, false);
        if (ret)
                *ret = r;
        dispatch(g);
        return 0;
}

int graph_client_cancel(GraphClient *g, const char *tenant, const char *call_id, const char *client_context, int all,
                        graph_started_t started, graph_done_t cb, void *userdata, GraphRequest **ret) {
        char *url = NULL, *body = NULL;
        int k;

        k = graph_cancel_url(g->config, call_id, &url);
        if (k < 0)
                return k;
        k = graph_cancel_body(client_context, all, &body);
        if (k < 0) {
                free(url);
                return k;
        }
        return request_submit(g, tenant, url, body, started, cb, userdata, ret);
}

int graph_client_get_operation(GraphClient *g, const char *tenant, const char *call_id, const char *op_id,
                               graph_done_t cb, void *userdata, GraphRequest **ret) {
        char *url = NULL;
        int k = graph_operation_url(g->config, call_id, op_id, &url);

        if (k < 0)
                return k;
        return request_submit(g, tenant, url, NULL, NULL, cb, userdata, ret);
}

void graph_request_abandon(GraphRequest *r) {
        GraphClient *g;

        if (!r)
                return;
        g = r->client;
        request_detach(r);
        request_free(r);
        dispatch(g);
}

void graph_client_fail_all(GraphClient *g, const Error *err) {
        g->freeing = true; /* nothing new goes out from here on */
        while (g->queue_head) {
                GraphRequest *r = g->queue_head;
                request_detach(r);
                r->cb(r, NULL, err, r->userdata);
                request_free(r);
        }
        while (g->active) {
                GraphRequest *r = g->active;
                request_detach(r);
                r->cb(r, NULL, err, r->userdata);
                request_free(r);
        }
}

int graph_client_new(sd_event *event, CurlGlue *glue, TenantTokens *tokens, const Config *config,
                     GraphClient **ret) {
        GraphClient *g = calloc(1, sizeof *g);
        int k;

        if (!g)
                return -ENOMEM;
        *g = (GraphClient) { .event = sd_event_ref(event), .glue = glue, .tokens = tokens, .config = config };
        g->rate_credit_usec = USEC_PER_SEC;
        g->rate_updated = mono_now(g);
        k = sd_event_add_time(event, &g->hold_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_hold_over, g);
        if (k < 0) {
                graph_client_free(g);
                return k;
        }
        (void) sd_event_source_set_enabled(g->hold_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(g->hold_timer, "graph-gate");
        *ret = g;
        return 0;
}

GraphClient *graph_client_free(GraphClient *g) {
        if (!g)
                return NULL;
        g->freeing = true;
        while (g->queue_head)
                graph_request_abandon(g->queue_head);
        while (g->active)
                graph_request_abandon(g->active);
        sd_event_source_disable_unref(g->hold_timer);
        sd_event_unref(g->event);
        free(g);
        http_headers_cache_clear(); /* they hold the last token */
        return NULL;
}

void graph_client_set_config(GraphClient *g, const Config *config) {
        g->config = config;
        dispatch(g);
}

unsigned graph_client_in_flight(GraphClient *g) {
        return g->n_slots;
}

unsigned graph_client_queued(GraphClient *g) {
        return g->n_queued + g->n_waiting;
}

unsigned graph_client_waiting_for_token(GraphClient *g) {
        return g->n_waiting;
}

unsigned graph_client_attempts(GraphClient *g) {
        return g->attempts;
}

uint64_t graph_client_hold_usec(GraphClient *g) {
        uint64_t now = mono_now(g);

        return g->hold_until > now ? g->hold_until - now : 0;
}
