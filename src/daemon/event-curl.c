/* SPDX-License-Identifier: MIT */
/*
 * event-curl.c — see event-curl.h. Each socket curl asks about gets one sd-event io source,
 * stored with curl_multi_assign() so a readiness event maps straight back to its socket; one
 * sd-event timer follows curl's requested timeout. After every call into curl, finished
 * transfers are collected with curl_multi_info_read() and handed to their owners.
 */
#include <errno.h>
#include <stdint.h>

#include "event-curl.h"
#include "log.h"
#include "memory-trim.h"

/* 8 connections × curl's 100 streams each: three times MaxInFlight's default of 256, so a
 * server that allows fewer streams per connection still gets every slot on the wire. */
#define CURL_GLUE_MAX_HOST_CONNECTIONS_H2 8

/* Idle easy handles kept for reuse. Each holds ~40 KiB (curl's receive and upload buffers), so
 * the pool is sized for the handles that turn over within one loop iteration at saturation,
 * not for MaxInFlight. */
#define CURL_GLUE_POOL_MAX 64
/* What the pool keeps once a burst is over (see memory-trim.h): enough for a steady trickle. */
#define CURL_GLUE_POOL_KEEP_IDLE 8

struct CurlGlue {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        sd_event_source *kick; /* defer source: curl asked to be called again at once */
        unsigned running;
        bool capped; /* a server multiplexed: connections per host are capped */
        unsigned n_transfers;
        struct Transfer *transfers; /* every easy handle we added, so teardown can find them */
        MemoryTrim *trim; /* gives a burst's buffers back to the kernel once it is over */
};

static struct {
        unsigned n_glues;
        unsigned n;
        CURL *easy[CURL_GLUE_POOL_MAX];
} pool;

typedef struct Transfer {
        CurlGlue *glue;
        CURL *easy;
        curl_glue_done_t done;
        void *userdata;
        struct Transfer *prev, *next;
} Transfer;

static void transfer_unlink_free(CurlGlue *g, Transfer *t) {
        if (t->prev)
                t->prev->next = t->next;
        else
                g->transfers = t->next;
        if (t->next)
                t->next->prev = t->prev;
        (void) curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
        (void) curl_multi_remove_handle(g->multi, t->easy);
        g->n_transfers--;
        memory_trim_note(g->trim, g->n_transfers);
        free(t);
}

/* Over HTTP/2, a transfer that finds every connection to its host full of streams makes curl
 * open a new connection, and so does the next one while that one is still in its handshake: a
 * burst of 1,000 opened ~900 TLS connections and took seconds. Once a server has shown that it
 * multiplexes, cap the connections per host; transfers beyond what they carry wait for a stream
 * instead. Until then (and for HTTP/1.1 servers, one request per connection) there is no cap,
 * so MaxInFlight= still means requests on the wire. */
static void glue_learn_multiplexing(CurlGlue *g, CURL *easy) {
        long version = 0;

        if (curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version) != CURLE_OK ||
            version != CURL_HTTP_VERSION_2_0)
                return;
        g->capped = true;
        (void) curl_multi_setopt(g->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) CURL_GLUE_MAX_HOST_CONNECTIONS_H2);
}

static void glue_check_finished(CurlGlue *g) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(g->multi, &left))) {
                Transfer *t = NULL;
                CURL *easy = msg->easy_handle;
                CURLcode result = msg->data.result;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                if (!g->capped && result == CURLE_OK)
                        glue_learn_multiplexing(g, easy);
                (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);
                if (t) {
                        curl_glue_done_t done = t->done;
                        void *ud = t->userdata;
                        transfer_unlink_free(g, t);
                        done(g, easy, result, ud);
                } else
                        (void) curl_multi_remove_handle(g->multi, easy);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CurlGlue *g = userdata;
        int action = 0, running = 0;

        (void) s;
        if (revents & (EPOLLIN | EPOLLHUP))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;

        CURLMcode mc = curl_multi_socket_action(g->multi, fd, action, &running);
        if (mc != CURLM_OK)
                log_debug("curl_multi_socket_action(fd=%d) failed: %s", fd, curl_multi_strerror(mc));
        g->running = (unsigned) running;
        glue_check_finished(g);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        CurlGlue *g = userdata;
        int running = 0;

        (void) s;
        (void) usec;
        CURLMcode mc = curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        if (mc != CURLM_OK)
                log_debug("curl_multi_socket_action(timeout) failed: %s", curl_multi_strerror(mc));
        g->running = (unsigned) running;
        glue_check_finished(g);
        return 0;
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        CurlGlue *g = userp;
        sd_event_source *io = socketp;
        uint32_t events = 0;
        int r;

        (void) easy;
        if (what == CURL_POLL_REMOVE) {
                if (io) {
                        (void) curl_multi_assign(g->multi, fd, NULL);
                        sd_event_source_disable_unref(io);
                }
                return 0;
        }

        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;

        if (io) {
                r = sd_event_source_set_io_events(io, events);
                if (r >= 0)
                        r = sd_event_source_set_enabled(io, SD_EVENT_ON);
        } else {
                r = sd_event_add_io(g->event, &io, fd, events, on_io, g);
                if (r >= 0) {
                        (void) sd_event_source_set_description(io, "curl-io");
                        if (curl_multi_assign(g->multi, fd, io) != CURLM_OK) {
                                sd_event_source_disable_unref(io);
                                r = -EIO;
                        }
                }
        }
        if (r < 0) {
                log_error_errno(r, "Failed to watch curl socket %d: %m", fd);
                return -1;
        }
        return 0;
}

static int on_kick(sd_event_source *s, void *userdata) {
        return on_timer(s, 0, userdata);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        CurlGlue *g = userp;
        int r;

        (void) multi;
        if (timeout_ms < 0) {
                (void) sd_event_source_set_enabled(g->kick, SD_EVENT_OFF);
                return sd_event_source_set_enabled(g->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        }
        if (timeout_ms == 0) {
                /* "Now" (every new transfer starts so): run on the next loop iteration, without a
                 * timerfd round trip. */
                (void) sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
                return sd_event_source_set_enabled(g->kick, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
        }
        (void) sd_event_source_set_enabled(g->kick, SD_EVENT_OFF);

        /* CLOCK_MONOTONIC: curl's timeouts are durations; suspend should not fire them early. */
        uint64_t now;
        (void) sd_event_now(g->event, CLOCK_MONOTONIC, &now);
        r = sd_event_source_set_time(g->timer, now + (uint64_t) timeout_ms * 1000);
        if (r >= 0)
                r = sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT);
        return r < 0 ? -1 : 0;
}

static void pool_shrink(void *userdata) {
        (void) userdata;
        while (pool.n > CURL_GLUE_POOL_KEEP_IDLE)
                curl_easy_cleanup(pool.easy[--pool.n]);
}

int curl_glue_new(sd_event *event, CurlGlue **ret) {
        CurlGlue *g = calloc(1, sizeof *g);
        int r;

        if (!g)
                return -ENOMEM;
        pool.n_glues++; /* curl_glue_free() counts it down, also on the error paths below */
        g->event = sd_event_ref(event);
        g->multi = curl_multi_init();
        if (!g->multi) {
                curl_glue_free(g);
                return -ENOMEM;
        }
        /* Accuracy 1 µs: sd-event's default (0 = 250 ms) lets it coalesce the wake-up up to a
         * quarter second late, and curl's timer is what moves every transfer along. */
        r = sd_event_add_time(event, &g->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, g);
        if (r >= 0)
                r = sd_event_add_defer(event, &g->kick, on_kick, g);
        if (r >= 0)
                r = memory_trim_new(event, MEMORY_TRIM_BUSY_THRESHOLD, MEMORY_TRIM_QUIET_USEC, pool_shrink, NULL,
                                    &g->trim);
        if (r < 0) {
                curl_glue_free(g);
                return r;
        }
        (void) sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(g->timer, "curl-timer");
        (void) sd_event_source_set_enabled(g->kick, SD_EVENT_OFF);
        (void) sd_event_source_set_description(g->kick, "curl-kick");

        if (curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX) != CURLM_OK) {
                curl_glue_free(g);
                return -EIO;
        }
        /* Keep enough idle connections for bursts over HTTP/1.1 so they are reused, not re-handshaked. */
        (void) curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, 256L);
        *ret = g;
        return 0;
}

CurlGlue *curl_glue_free(CurlGlue *g) {
        if (!g)
                return NULL;
        if (g->multi) {
                /* Transfers still running belong to callers that are being torn down as well. */
                while (g->transfers)
                        transfer_unlink_free(g, g->transfers);
                curl_multi_cleanup(g->multi);
        }
        if (--pool.n_glues == 0)
                while (pool.n > 0)
                        curl_easy_cleanup(pool.easy[--pool.n]);
        sd_event_source_disable_unref(g->timer);
        sd_event_source_disable_unref(g->kick);
        memory_trim_free(g->trim);
        sd_event_unref(g->event);
        free(g);
        return NULL;
}

int curl_glue_add(CurlGlue *g, CURL *easy, curl_glue_done_t done, void *userdata) {
        Transfer *t = malloc(sizeof *t);

        if (!t)
                return -ENOMEM;
        *t = (Transfer) { .glue = g, .easy = easy, .done = done, .userdata = userdata, .next = g->transfers };
        if (curl_easy_setopt(easy, CURLOPT_PRIVATE, t) != CURLE_OK ||
            curl_multi_add_handle(g->multi, easy) != CURLM_OK) {
                (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                free(t);
                return -EIO;
        }
        if (g->transfers)
                g->transfers->prev = t;
        g->transfers = t;
        g->n_transfers++;
        memory_trim_note(g->trim, g->n_transfers);
        return 0;
}

void curl_glue_remove(CurlGlue *g, CURL *easy) {
        Transfer *t = NULL;

        if (!g || !easy)
                return;
        (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);
        if (t)
                transfer_unlink_free(g, t);
}

unsigned curl_glue_running(CurlGlue *g) {
        return g->n_transfers;
}

CURL *curl_glue_easy_get(void) {
        if (pool.n > 0)
                return pool.easy[--pool.n];
        return curl_easy_init();
}

void curl_glue_easy_put(CURL *easy) {
        if (!easy)
                return;
        if (pool.n_glues == 0 || pool.n >= CURL_GLUE_POOL_MAX) {
                curl_easy_cleanup(easy);
                return;
        }
        /* Every option back to its default: nothing of this request leaks into the next. */
        curl_easy_reset(easy);
        pool.easy[pool.n++] = easy;
}
