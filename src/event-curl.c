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

struct CurlGlue {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        unsigned running;
        unsigned n_transfers;
        struct Transfer *transfers; /* every easy handle we added, so teardown can find them */
};

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
        free(t);
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

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        CurlGlue *g = userp;
        int r;

        (void) multi;
        if (timeout_ms < 0)
                return sd_event_source_set_enabled(g->timer, SD_EVENT_OFF) < 0 ? -1 : 0;

        /* CLOCK_MONOTONIC: curl's timeouts are durations; suspend should not fire them early. */
        uint64_t now;
        (void) sd_event_now(g->event, CLOCK_MONOTONIC, &now);
        r = sd_event_source_set_time(g->timer, now + (uint64_t) timeout_ms * 1000);
        if (r >= 0)
                r = sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT);
        return r < 0 ? -1 : 0;
}

int curl_glue_new(sd_event *event, CurlGlue **ret) {
        CurlGlue *g = calloc(1, sizeof *g);
        int r;

        if (!g)
                return -ENOMEM;
        g->event = sd_event_ref(event);
        g->multi = curl_multi_init();
        if (!g->multi) {
                curl_glue_free(g);
                return -ENOMEM;
        }
        r = sd_event_add_time(event, &g->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_timer, g);
        if (r < 0) {
                curl_glue_free(g);
                return r;
        }
        (void) sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(g->timer, "curl-timer");

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
        sd_event_source_disable_unref(g->timer);
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
