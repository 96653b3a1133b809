/* SPDX-License-Identifier: MIT */
/*
 * notification-keys.c — see notification-keys.h. One fetch at a time, in two steps (the
 * OpenID document, then its jwks_uri); the end of a fetch, good or bad, is the one place that
 * schedules the next and tells the waiters. The jwks_uri is read from the document every time
 * rather than kept: the reference says it is not confirmed and may change (identity.md 4.1).
 */
#include <errno.h>
#include <string.h>

#include "http.h"
#include "json-util.h"
#include "log.h"
#include "notification-keys.h"
#include "string-util.h"
#include "util.h"

/* After a failed fetch: 1 s, doubling, at most this long, and never longer than the refresh
 * interval itself. */
#define KEYS_RETRY_BASE_USEC (1 * USEC_PER_SEC)
#define KEYS_RETRY_MAX_USEC (5 * USEC_PER_MINUTE)
#define KEYS_FETCH_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define OPENID_DOCUMENT_MAX_BYTES (64 * 1024)

struct KeysWaiter {
        NotificationKeys *keys; /* NULL once called or cancelled */
        keys_waiter_t cb;
        void *userdata;
        KeysWaiter *prev, *next;
};

struct NotificationKeys {
        sd_event *event;
        CurlGlue *glue;
        const Config *config;
        KeySet *keys;
        uint64_t fetched_mono;  /* CLOCK_MONOTONIC of the last good fetch */
        uint64_t unknown_kid_mono; /* the last refresh asked for by an unknown kid */
        char *last_error;
        unsigned failures;
        HttpRequest *request;
        bool fetching_jwks; /* request is the second step */
        bool started;
        sd_event_source *timer;
        KeysWaiter *waiters;
};

static void fetch_start(NotificationKeys *k);

static uint64_t now_mono(NotificationKeys *k) {
        uint64_t now = 0;
        (void) sd_event_now(k->event, CLOCK_MONOTONIC, &now);
        return now;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        NotificationKeys *k = userdata;

        (void) s;
        (void) usec;
        fetch_start(k);
        return 0;
}

static void schedule(NotificationKeys *k, uint64_t delay) {
        uint64_t when = now_mono(k) + delay;

        if (k->timer) {
                (void) sd_event_source_set_time(k->timer, when);
                (void) sd_event_source_set_enabled(k->timer, SD_EVENT_ONESHOT);
                return;
        }
        if (sd_event_add_time(k->event, &k->timer, CLOCK_MONOTONIC, when, USEC_PER_SEC, on_timer, k) < 0) {
                log_warning("Cannot schedule the next fetch of the notification signing keys.");
                return;
        }
        (void) sd_event_source_set_description(k->timer, "notification-keys");
}

static void waiters_notify(NotificationKeys *k) {
        /* Detached first: a callback may wait again (for the next fetch). */
        KeysWaiter *list = TAKE_PTR(k->waiters);

        while (list) {
                KeysWaiter *w = list;
                list = w->next;
                if (list)
                        list->prev = NULL;
                w->keys = NULL;
                w->prev = w->next = NULL;
                keys_waiter_t cb = w->cb;
                void *userdata = w->userdata;
                free(w);
                cb(userdata);
        }
}

/* The single end of a fetch: keys or an error (a sentence for status and the log). */
static void fetch_finish(NotificationKeys *k, KeySet *keys, const char *error) {
        k->request = NULL;
        k->fetching_jwks = false;
        if (keys) {
                size_t n = key_set_count(keys);
                key_set_free(k->keys);
                k->keys = keys;
                k->fetched_mono = now_mono(k);
                if (k->last_error)
                        log_notice("Notification signing keys fetched again (%zu keys).", n);
                else
                        log_debug("Notification signing keys fetched (%zu keys).", n);
                k->last_error = mfree(k->last_error);
                k->failures = 0;
                schedule(k, k->config->keys_refresh_usec);
        } else {
                /* Logged when it starts failing, not for every retry. */
                if (!k->last_error || !streq(k->last_error, error))
                        log_struct(LOG_WARNING, &(LogFields) { .message_id = MESSAGE_ID_NOTIFICATION_KEYS_FAILED },
                                   "Cannot fetch the notification signing keys: %s%s", error,
                                   k->keys ? " (the last good keys stay in use)" : "");
                free(k->last_error);
                k->last_error = strdup(error);
                k->failures++;
                uint64_t delay = KEYS_RETRY_BASE_USEC << MIN(k->failures - 1, 16u);
                schedule(k, MIN(MIN(delay, KEYS_RETRY_MAX_USEC), k->config->keys_refresh_usec));
        }
        waiters_notify(k);
}

static int start_get(NotificationKeys *k, const char *url, http_done_t done) {
        HttpOptions o = {
                .ca_file = k->config->ca_file,
                .proxy = k->config->proxy,
                .no_proxy = k->config->no_proxy,
                .connect_timeout_usec = k->config->connect_timeout_usec,
                .timeout_usec = KEYS_FETCH_TIMEOUT_USEC,
                .stall_timeout_usec = k->config->stall_timeout_usec,
        };
        HttpRequest *req = NULL;
        int r;

        r = http_request_new(url, NULL, NULL, NULL, NULL, &o, &req);
        if (r < 0)
                return r;
        r = http_request_start(k->glue, req, done, k);
        if (r < 0) {
                http_request_free(req);
                return r;
        }
        k->request = req;
        return 0;
}

/* What went wrong with a GET, as a sentence; NULL when it brought a 200. */
static char *transfer_error(HttpRequest *req, const char *what) {
        char *s = NULL;

        if (req->result != CURLE_OK)
                s = strprintf("%s: %s", what, req->errbuf[0] ? req->errbuf : curl_easy_strerror(req->result));
        else if (req->status != 200)
                s = strprintf("%s: HTTP %ld", what, req->status);
        else
                return NULL;
        return s ?: strdup("out of memory");
}

static void on_jwks_done(HttpRequest *req, void *userdata) {
        NotificationKeys *k = userdata;
        _cleanup_free_ char *error = transfer_error(req, "key set"), *why = NULL;
        KeySet *keys = NULL;

        if (!error) {
                int r = key_set_parse(req->body.data, req->body.size, &keys, &why);
                if (r < 0)
                        error = r == -ENOMEM ? strdup("out of memory") : strprintf("key set: %s", strempty(why));
        }
        http_request_free(req);
        fetch_finish(k, keys, error ?: "out of memory");
}

static void on_document_done(HttpRequest *req, void *userdata) {
        NotificationKeys *k = userdata;
        _cleanup_free_ char *error = transfer_error(req, "OpenID document"), *jwks_uri = NULL;

        if (!error) {
                _cleanup_json_ json_object *doc = NULL;
                json_object *v = NULL;
                json_tokener *tok = req->body.size <= OPENID_DOCUMENT_MAX_BYTES ? json_tokener_new_ex(16) : NULL;
                if (tok) {
                        doc = json_tokener_parse_ex(tok, req->body.data, (int) req->body.size);
                        json_tokener_free(tok);
                }
                if (!doc || !json_object_is_type(doc, json_type_object) ||
                    !json_object_object_get_ex(doc, "jwks_uri", &v) || !json_object_is_type(v, json_type_string))
                        error = strdup("OpenID document: no jwks_uri");
                else if (strncasecmp(json_object_get_string(v), "https://", 8) != 0 ||
                         strpbrk(json_object_get_string(v), " \t\r\n"))
                        error = strdup("OpenID document: jwks_uri is not an https:// URL");
                else
                        jwks_uri = strdup(json_object_get_string(v));
                if (!error && !jwks_uri)
                        error = strdup("out of memory");
        }
        http_request_free(req);
        k->request = NULL;
        if (!error) {
                int r = start_get(k, jwks_uri, on_jwks_done);
                if (r >= 0) {
                        k->fetching_jwks = true;
                        return;
                }
                error = strprintf("key set: cannot start the request: %s", strerror(-r));
        }
        fetch_finish(k, NULL, error ?: "out of memory");
}

static void fetch_start(NotificationKeys *k) {
        int r;

        if (k->request)
                return;
        if (k->timer)
                (void) sd_event_source_set_enabled(k->timer, SD_EVENT_OFF);
        r = start_get(k, k->config->openid_configuration_url, on_document_done);
        if (r < 0) {
                _cleanup_free_ char *e = strprintf("OpenID document: cannot start the request: %s", strerror(-r));
                fetch_finish(k, NULL, e ?: "out of memory");
        }
}

int notification_keys_new(sd_event *event, CurlGlue *glue, const Config *config, NotificationKeys **ret) {
        NotificationKeys *k = calloc(1, sizeof *k);

        if (!k)
                return -ENOMEM;
        k->event = sd_event_ref(event);
        k->glue = glue;
        k->config = config;
        *ret = k;
        return 0;
}

NotificationKeys *notification_keys_free(NotificationKeys *k) {
        if (!k)
                return NULL;
        while (k->waiters)
                keys_waiter_cancel(k->waiters);
        http_request_free(k->request);
        sd_event_source_disable_unref(k->timer);
        sd_event_unref(k->event);
        key_set_free(k->keys);
        free(k->last_error);
        free(k);
        return NULL;
}

void notification_keys_set_config(NotificationKeys *k, const Config *config) {
        k->config = config;
}

void notification_keys_start(NotificationKeys *k) {
        if (k->started)
                return;
        k->started = true;
        fetch_start(k);
}

const KeySet *notification_keys_current(NotificationKeys *k) {
        if (!k->keys)
                return NULL;
        if (now_mono(k) - k->fetched_mono > k->config->keys_max_age_usec) {
                log_struct(LOG_WARNING, &(LogFields) { .message_id = MESSAGE_ID_NOTIFICATION_KEYS_FAILED },
                           "The last good notification signing keys are older than KeysMaxAgeSec=; no longer used.");
                k->keys = key_set_free(k->keys);
                return NULL;
        }
        return k->keys;
}

bool notification_keys_refresh_for_unknown_kid(NotificationKeys *k) {
        uint64_t now = now_mono(k);

        if (k->request)
                return true; /* under way already: its result will do */
        if (k->unknown_kid_mono != 0 && now - k->unknown_kid_mono < k->config->unknown_key_refresh_usec)
                return false;
        k->unknown_kid_mono = now;
        k->started = true;
        fetch_start(k);
        return k->request != NULL;
}

int notification_keys_wait(NotificationKeys *k, keys_waiter_t cb, void *userdata, KeysWaiter **ret) {
        KeysWaiter *w = calloc(1, sizeof *w);

        if (!w)
                return -ENOMEM;
        *w = (KeysWaiter) { .keys = k, .cb = cb, .userdata = userdata, .next = k->waiters };
        if (k->waiters)
                k->waiters->prev = w;
        k->waiters = w;
        *ret = w;
        return 0;
}

void keys_waiter_cancel(KeysWaiter *w) {
        if (!w)
                return;
        if (w->keys) {
                if (w->prev)
                        w->prev->next = w->next;
                else
                        w->keys->waiters = w->next;
                if (w->next)
                        w->next->prev = w->prev;
        }
        free(w);
}

json_object *notification_keys_status_json(NotificationKeys *k) {
        _cleanup_json_ json_object *j = json_object_new_object();
        const KeySet *ks = notification_keys_current(k);

        if (!j || json_member_add(j, "count", json_object_new_int64((int64_t) key_set_count(ks))) < 0)
                return NULL;
        if (ks) {
                if (json_member_add(j, "ageSec", json_object_new_int64((int64_t) ((now_mono(k) - k->fetched_mono) / USEC_PER_SEC))) < 0)
                        return NULL;
        } else if (json_member_add_null(j, "ageSec") < 0)
                return NULL;
        if ((k->last_error ? json_member_add_string(j, "lastError", k->last_error)
                           : json_member_add_null(j, "lastError")) < 0 ||
            json_member_add(j, "fetching", json_object_new_boolean(k->request != NULL)) < 0)
                return NULL;
        return TAKE_PTR(j);
}
