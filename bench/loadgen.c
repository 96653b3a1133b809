/* SPDX-License-Identifier: MIT */
/*
 * bench/loadgen.c — the benchmark's load generator. It owns the client side of every scenario
 * in bench/bench.py and measures each request on CLOCK_MONOTONIC from the moment it is handed
 * to the kernel to the moment its answer is read.
 *
 * Daemon mode (--socket): N connections to mediacanceld's socket, each keeping a window of W
 * pipelined `cancel` requests outstanding (a new one goes out as each answer comes back).
 * Direct mode (--direct): the same HTTPS requests straight to the stand-in with one libcurl
 * multi handle on epoll (curl_multi_socket_action, as the daemon does), N×W transfers kept in
 * flight, a token fetched once. It is the ceiling the daemon is measured against, so it does
 * what a careful libcurl client does: reuses easy handles and header lists, multiplexes HTTP/2.
 *
 * Either runs for --duration seconds (after --warmup) or sends --requests in total (a burst
 * when the window holds them all). It prints one JSON object: counts, throughput, latency
 * percentiles and, for bursts, the time from the first send to the last answer. --samples FILE
 * writes "send time (CLOCK_REALTIME µs) latency (µs)" per request for the renewal scenario.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLOTS 65535
#define READ_CHUNK (256 * 1024)

static struct {
        const char *socket_path;
        bool direct;
        const char *url_base; /* direct: Graph endpoint, e.g. https://127.0.0.1:8443/d100ms */
        const char *token_url;
        const char *client_id;
        const char *secret_file;
        const char *ca_file;
        unsigned connections;
        unsigned window;
        double duration;
        double warmup;
        uint64_t requests; /* 0: run for duration */
        const char *samples;
        double drain; /* how long to wait for answers still out after the end */
        long max_host_connections; /* direct: CURLMOPT_MAX_HOST_CONNECTIONS, 0 = unlimited */
} arg = {
        .max_host_connections = 16,
        .connections = 1,
        .window = 1,
        .duration = 5,
        .warmup = 0,
        .drain = 10,
};

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("loadgen: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(1);
}

/* ---- what every mode shares: the schedule and the results ---- */

typedef struct Sample {
        uint64_t sent_ns;
        uint32_t latency_us;
} Sample;

static struct {
        uint64_t start_ns, measure_from_ns, stop_sending_ns;
        uint64_t first_send_ns, last_send_ns, last_answer_ns;
        uint64_t sent, completed, counted, errors, in_flight;
        Sample *samples;
        size_t n_samples, allocated;
        uint64_t seq;
        bool stopping;
        char first_error[512];
} run;

static bool may_send(uint64_t now) {
        if (arg.requests > 0)
                return run.sent < arg.requests;
        return now < run.stop_sending_ns;
}

static void record(uint64_t sent_ns, uint64_t now, bool error, const char *line, size_t len) {
        run.completed++;
        run.in_flight--;
        run.last_answer_ns = now;
        if (error) {
                run.errors++;
                if (!run.first_error[0])
                        snprintf(run.first_error, sizeof run.first_error, "%.*s", (int) (len > 400 ? 400 : len), line);
        }
        /* Only requests sent inside the measured window count; with --requests, all do. */
        if (arg.requests == 0 && (sent_ns < run.measure_from_ns || sent_ns >= run.stop_sending_ns))
                return;
        run.counted++;
        if (error)
                return;
        if (run.n_samples == run.allocated) {
                run.allocated = run.allocated ? run.allocated * 2 : 65536;
                run.samples = realloc(run.samples, run.allocated * sizeof *run.samples);
                if (!run.samples)
                        die("out of memory");
        }
        run.samples[run.n_samples++] = (Sample) { sent_ns, (uint32_t) ((now - sent_ns) / 1000) };
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

static uint32_t pct(const uint32_t *v, size_t n, double p) {
        if (n == 0)
                return 0;
        size_t i = (size_t) ceil(p / 100.0 * (double) n);
        return v[i == 0 ? 0 : i - 1];
}

static void report(const char *mode) {
        size_t n = run.n_samples;
        uint32_t *lat = malloc((n ? n : 1) * sizeof *lat);
        uint64_t end = run.last_answer_ns ? run.last_answer_ns : now_ns();
        double seconds;

        if (!lat)
                die("out of memory");
        for (size_t i = 0; i < n; i++)
                lat[i] = run.samples[i].latency_us;
        qsort(lat, n, sizeof *lat, cmp_u32);
        if (arg.requests > 0)
                seconds = (double) (end - run.first_send_ns) / 1e9;
        else
                seconds = (double) (run.stop_sending_ns - run.measure_from_ns) / 1e9;

        double mean = 0;
        for (size_t i = 0; i < n; i++)
                mean += lat[i];
        mean = n ? mean / (double) n : 0;

        printf("{\"mode\":\"%s\",\"connections\":%u,\"window\":%u,\"concurrency\":%u,"
               "\"sent\":%" PRIu64 ",\"completed\":%" PRIu64 ",\"counted\":%" PRIu64 ",\"errors\":%" PRIu64
               ",\"unanswered\":%" PRIu64 ",\"seconds\":%.6f,\"throughput\":%.1f,"
               "\"mean_us\":%.1f,\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,\"p999_us\":%u,\"max_us\":%u",
               mode, arg.connections, arg.window, arg.connections * arg.window, run.sent, run.completed,
               run.counted, run.errors, run.in_flight, seconds, seconds > 0 ? (double) run.counted / seconds : 0,
               mean, pct(lat, n, 50), pct(lat, n, 90), pct(lat, n, 99), pct(lat, n, 99.9), n ? lat[n - 1] : 0);
        if (arg.requests > 0)
                printf(",\"makespan_ms\":%.3f", (double) (end - run.first_send_ns) / 1e6);
        if (run.first_error[0]) {
                printf(",\"first_error\":\"");
                for (const char *p = run.first_error; *p; p++)
                        if (*p == '"' || *p == '\\')
                                printf("\\%c", *p);
                        else if ((unsigned char) *p >= 0x20)
                                putchar(*p);
                printf("\"");
        }
        printf("}\n");
        fflush(stdout);
        free(lat);

        if (arg.samples) {
                struct timespec rt;
                clock_gettime(CLOCK_REALTIME, &rt);
                /* CLOCK_REALTIME of a monotonic instant, so the renewal log of the stand-in lines up. */
                int64_t offset = ((int64_t) rt.tv_sec * 1000000000 + rt.tv_nsec) - (int64_t) now_ns();
                FILE *f = fopen(arg.samples, "we");
                if (!f)
                        die("cannot write %s: %m", arg.samples);
                for (size_t i = 0; i < n; i++)
                        fprintf(f, "%" PRId64 " %u\n", ((int64_t) run.samples[i].sent_ns + offset) / 1000,
                                run.samples[i].latency_us);
                fclose(f);
        }
}

static void call_id(uint64_t seq, char buf[static 40]) {
        snprintf(buf, 40, "%08" PRIx32 "-0000-4000-8000-%012" PRIx64, (uint32_t) (seq * 2654435761u), seq);
}

/* ---- daemon mode ---- */

typedef struct Conn {
        int fd;
        unsigned index;
        char *out;
        size_t out_len, out_alloc;
        char *in;
        size_t in_len;
        uint64_t *sent_ns; /* per slot; 0 when free */
        unsigned n_free;
        unsigned *free_slots;
        bool want_out;
} Conn;

static void conn_queue_request(Conn *c, unsigned slot, uint64_t now) {
        char cid[40], line[256];
        uint64_t seq = run.seq++;
        uint64_t id = (seq << 16) | (uint64_t) (c->index * arg.window + slot);

        call_id(seq, cid);
        int n = snprintf(line, sizeof line,
                         "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"cancel\",\"params\":{\"callId\":\"%s\","
                         "\"clientContext\":\"bench-%" PRIu64 "\"}}\n",
                         id, cid, seq);
        if (c->out_len + (size_t) n > c->out_alloc) {
                c->out_alloc = (c->out_alloc + (size_t) n) * 2;
                c->out = realloc(c->out, c->out_alloc);
                if (!c->out)
                        die("out of memory");
        }
        memcpy(c->out + c->out_len, line, (size_t) n);
        c->out_len += (size_t) n;
        c->sent_ns[slot] = now;
        run.last_send_ns = now;
        if (!run.first_send_ns)
                run.first_send_ns = now;
        run.sent++;
        run.in_flight++;
}

static void conn_fill(Conn *c, uint64_t now) {
        while (c->n_free > 0 && may_send(now))
                conn_queue_request(c, c->free_slots[--c->n_free], now);
}

static void conn_flush(int ep, Conn *c) {
        while (c->out_len > 0) {
                ssize_t k = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        die("send: %m");
                }
                memmove(c->out, c->out + k, c->out_len - (size_t) k);
                c->out_len -= (size_t) k;
        }
        bool want = c->out_len > 0;
        if (want != c->want_out) {
                struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
                if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
                        die("epoll_ctl: %m");
                c->want_out = want;
        }
}

static void conn_handle_line(Conn *c, char *line, size_t len, uint64_t now) {
        char *p = memmem(line, len, "\"id\":", 5);
        if (!p)
                return; /* a notification */
        char *end;
        uint64_t id = strtoull(p + 5, &end, 10);
        if (end == p + 5)
                die("reply without a numeric id: %.*s", (int) len, line);
        unsigned slot = (unsigned) (id & 0xffff) - c->index * arg.window;
        if (slot >= arg.window || !c->sent_ns[slot])
                die("reply to an unknown request: %.*s", (int) len, line);
        bool error = strncmp(end, ",\"error\"", 8) == 0;
        record(c->sent_ns[slot], now, error, line, len);
        c->sent_ns[slot] = 0;
        c->free_slots[c->n_free++] = slot;
}

static void conn_read(Conn *c) {
        for (;;) {
                ssize_t k = recv(c->fd, c->in + c->in_len, READ_CHUNK - c->in_len, MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        die("recv: %m");
                }
                if (k == 0)
                        die("the daemon closed connection %u", c->index);
                c->in_len += (size_t) k;
                uint64_t now = now_ns();
                size_t start = 0;
                for (;;) {
                        char *nl = memchr(c->in + start, '\n', c->in_len - start);
                        if (!nl)
                                break;
                        conn_handle_line(c, c->in + start, (size_t) (nl - (c->in + start)), now);
                        start = (size_t) (nl - c->in) + 1;
                }
                memmove(c->in, c->in + start, c->in_len - start);
                c->in_len -= start;
                if (c->in_len == READ_CHUNK)
                        die("a reply line longer than %d bytes", READ_CHUNK);
                if ((size_t) k < READ_CHUNK / 2)
                        return;
        }
}

static int run_daemon(void) {
        unsigned n = arg.connections;
        Conn *conns = calloc(n, sizeof *conns);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (!conns || ep < 0)
                die("setup: %m");
        if (strlen(arg.socket_path) >= sizeof sa.sun_path)
                die("socket path too long");
        strcpy(sa.sun_path, arg.socket_path);

        for (unsigned i = 0; i < n; i++) {
                Conn *c = &conns[i];
                c->index = i;
                c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (c->fd < 0 || connect(c->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                        die("connect %s: %m", arg.socket_path);
                c->in = malloc(READ_CHUNK);
                c->sent_ns = calloc(arg.window, sizeof *c->sent_ns);
                c->free_slots = malloc(arg.window * sizeof *c->free_slots);
                if (!c->in || !c->sent_ns || !c->free_slots)
                        die("out of memory");
                for (unsigned s = 0; s < arg.window; s++)
                        c->free_slots[c->n_free++] = arg.window - 1 - s;
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
                        die("epoll_ctl: %m");
        }

        run.start_ns = now_ns();
        run.measure_from_ns = run.start_ns + (uint64_t) (arg.warmup * 1e9);
        run.stop_sending_ns = run.measure_from_ns + (uint64_t) (arg.duration * 1e9);
        for (unsigned i = 0; i < n; i++) {
                conn_fill(&conns[i], run.start_ns);
                conn_flush(ep, &conns[i]);
        }

        for (;;) {
                struct epoll_event evs[64];
                uint64_t now = now_ns();

                if (run.in_flight == 0 && !may_send(now))
                        break;
                if (!may_send(now) && now > run.last_send_ns + (uint64_t) ((arg.requests ? arg.duration : 0) * 1e9) +
                                                       (uint64_t) (arg.drain * 1e9))
                        break; /* answers that never come are reported as unanswered */
                int k = epoll_wait(ep, evs, 64, 100);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        die("epoll_wait: %m");
                }
                for (int i = 0; i < k; i++) {
                        Conn *c = evs[i].data.ptr;
                        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                                conn_read(c);
                        if (evs[i].events & EPOLLOUT)
                                conn_flush(ep, c);
                }
                now = now_ns();
                for (int i = 0; i < k; i++) {
                        Conn *c = evs[i].data.ptr;
                        conn_fill(c, now);
                        conn_flush(ep, c);
                }
                if (k == 0)
                        for (unsigned i = 0; i < n; i++) {
                                conn_fill(&conns[i], now);
                                conn_flush(ep, &conns[i]);
                        }
        }
        report("daemon");
        return run.errors > 0 || run.in_flight > 0;
}

/* ---- direct mode ---- */

typedef struct Transfer {
        CURL *easy;
        struct curl_slist *headers;
        char *request_id_header; /* the slist entry rewritten in place for each request */
        char url[512];
        char body[128];
        uint64_t sent_ns;
        char response[2048];
        size_t response_len;
} Transfer;

static struct {
        CURLM *multi;
        int ep;
        long timeout_ms; /* -1: none */
        uint64_t timer_at_ns;
        char *token;
        Transfer *transfers;
        Transfer **idle;
        unsigned n_idle;
} d = { .timeout_ms = -1 };

static size_t on_write(char *p, size_t size, size_t n, void *userdata) {
        Transfer *t = userdata;
        size_t len = size * n, room = sizeof t->response - 1 - t->response_len;
        memcpy(t->response + t->response_len, p, len < room ? len : room);
        t->response_len += len < room ? len : room;
        return len;
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        struct epoll_event ev = { .data.fd = fd };

        (void) easy;
        (void) userp;
        if (what == CURL_POLL_REMOVE) {
                (void) epoll_ctl(d.ep, EPOLL_CTL_DEL, fd, NULL);
                curl_multi_assign(d.multi, fd, NULL);
                return 0;
        }
        ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
        if (epoll_ctl(d.ep, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
                die("epoll_ctl(%d): %m", fd);
        if (!socketp)
                curl_multi_assign(d.multi, fd, (void *) 1);
        return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        (void) multi;
        (void) userp;
        d.timeout_ms = timeout_ms;
        if (timeout_ms >= 0)
                d.timer_at_ns = now_ns() + (uint64_t) timeout_ms * 1000000u;
        return 0;
}

static char *read_secret(const char *path) {
        FILE *f = fopen(path, "re");
        static char buf[4096];
        if (!f)
                die("cannot read %s: %m", path);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
        buf[n] = '\0';
        return buf;
}

static void common_options(CURL *e) {
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "loadgen");
        if (arg.ca_file)
                curl_easy_setopt(e, CURLOPT_CAINFO, arg.ca_file);
}

/* Once, blocking: the token is not part of what is measured. */
static void fetch_token(void) {
        CURL *e = curl_easy_init();
        Transfer t = {};
        char *id = curl_easy_escape(e, arg.client_id, 0), *secret = curl_easy_escape(e, read_secret(arg.secret_file), 0);
        char *scope = curl_easy_escape(e, arg.url_base, 0), body[8192];
        long status = 0;

        snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=%s&scope=%s%%2F.default",
                 id, secret, scope);
        common_options(e);
        curl_easy_setopt(e, CURLOPT_URL, arg.token_url);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
        CURLcode c = curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (c != CURLE_OK || status != 200)
                die("token request failed: %s, HTTP %ld", curl_easy_strerror(c), status);
        char *p = strstr(t.response, "\"access_token\":\"");
        if (!p)
                die("no access_token in %s", t.response);
        p += strlen("\"access_token\":\"");
        char *q = strchr(p, '"');
        if (!q)
                die("bad token answer");
        d.token = strndup(p, (size_t) (q - p));
        curl_free(id);
        curl_free(secret);
        curl_free(scope);
        curl_easy_cleanup(e);
}

static void transfer_setup(Transfer *t) {
        char hdr[8192];

        t->easy = curl_easy_init();
        if (!t->easy)
                die("curl_easy_init failed");
        common_options(t->easy);
        t->headers = curl_slist_append(NULL, "Accept: application/json");
        t->headers = curl_slist_append(t->headers, "Expect:");
        t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", d.token);
        t->headers = curl_slist_append(t->headers, hdr);
        t->headers = curl_slist_append(t->headers, "client-request-id: 00000000-0000-4000-8000-000000000000");
        struct curl_slist *last = t->headers;
        while (last->next)
                last = last->next;
        t->request_id_header = last->data + strlen("client-request-id: ");
        curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
        curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
}

static void transfer_start(Transfer *t, uint64_t now) {
        char cid[40];
        uint64_t seq = run.seq++;

        call_id(seq, cid);
        snprintf(t->url, sizeof t->url, "%s/v1.0/communications/calls/%s/cancelMediaProcessing", arg.url_base, cid);
        int n = snprintf(t->body, sizeof t->body, "{\"clientContext\":\"bench-%" PRIu64 "\"}", seq);
        /* Same length every time: a UUID-shaped id written over the previous one. */
        snprintf(t->request_id_header, 37, "%08" PRIx64 "-0000-4000-8000-%012" PRIx64, seq & 0xffffffffu, seq);
        curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long) n);
        t->response_len = 0;
        t->sent_ns = now;
        run.last_send_ns = now;
        if (!run.first_send_ns)
                run.first_send_ns = now;
        run.sent++;
        run.in_flight++;
        if (curl_multi_add_handle(d.multi, t->easy) != CURLM_OK)
                die("curl_multi_add_handle failed");
}

static void direct_collect(void) {
        CURLMsg *m;
        int left;

        while ((m = curl_multi_info_read(d.multi, &left))) {
                Transfer *t = NULL;
                long status = 0;
                uint64_t now = now_ns();

                if (m->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &t);
                curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                bool error = m->data.result != CURLE_OK || status != 200;
                if (error && m->data.result != CURLE_OK)
                        snprintf(t->response, sizeof t->response, "curl: %s", curl_easy_strerror(m->data.result));
                curl_multi_remove_handle(d.multi, t->easy);
                record(t->sent_ns, now, error, t->response, strlen(t->response));
                d.idle[d.n_idle++] = t;
        }
        uint64_t now = now_ns();
        while (d.n_idle > 0 && may_send(now))
                transfer_start(d.idle[--d.n_idle], now);
}

static void direct_loop(void) {
        int running = 0;

        for (;;) {
                struct epoll_event evs[64];
                uint64_t now = now_ns();
                int wait_ms = 100;

                if (run.in_flight == 0 && !may_send(now))
                        break;
                if (!may_send(now) && now > run.last_send_ns + (uint64_t) ((arg.requests ? arg.duration : 0) * 1e9) +
                                                       (uint64_t) (arg.drain * 1e9))
                        break;
                if (d.timeout_ms >= 0) {
                        wait_ms = d.timer_at_ns <= now ? 0 : (int) ((d.timer_at_ns - now + 999999) / 1000000);
                        if (wait_ms > 100)
                                wait_ms = 100;
                }
                int k = epoll_wait(d.ep, evs, 64, wait_ms);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        die("epoll_wait: %m");
                }
                for (int i = 0; i < k; i++) {
                        int action = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                                     (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                                     (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
                        curl_multi_socket_action(d.multi, evs[i].data.fd, action, &running);
                }
                if (d.timeout_ms >= 0 && now_ns() >= d.timer_at_ns) {
                        d.timeout_ms = -1;
                        curl_multi_socket_action(d.multi, CURL_SOCKET_TIMEOUT, 0, &running);
                }
                direct_collect();
        }
}

/* One cancel before the clock starts, so a connection to Graph exists as it does in a daemon
 * that has been running (the daemon-mode scenarios warm it the same way). */
static void prime(void) {
        uint64_t saved = arg.requests;

        arg.requests = 1;
        direct_collect();
        direct_loop();
        arg.requests = saved;
        if (run.errors)
                die("the first cancel failed: %s", run.first_error);
        free(run.samples);
        run = (typeof(run)) { .seq = run.seq };
}

static int run_direct(void) {
        unsigned n = arg.connections * arg.window;

        if (!arg.url_base || !arg.token_url || !arg.client_id || !arg.secret_file)
                die("--direct needs --url, --token-url, --client-id and --secret-file");
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                die("curl_global_init failed");
        fetch_token();

        d.multi = curl_multi_init();
        d.ep = epoll_create1(EPOLL_CLOEXEC);
        d.transfers = calloc(n, sizeof *d.transfers);
        d.idle = calloc(n, sizeof *d.idle);
        if (!d.multi || d.ep < 0 || !d.transfers || !d.idle)
                die("setup failed");
        curl_multi_setopt(d.multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
        curl_multi_setopt(d.multi, CURLMOPT_TIMERFUNCTION, timer_cb);
        curl_multi_setopt(d.multi, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX);
        curl_multi_setopt(d.multi, CURLMOPT_MAXCONNECTS, 256L);
        /* Without a cap, a burst opens one connection (and TLS handshake) per transfer that does
         * not fit on the connections already there; with it, transfers wait for a stream. */
        curl_multi_setopt(d.multi, CURLMOPT_MAX_HOST_CONNECTIONS, arg.max_host_connections);
        for (unsigned i = 0; i < n; i++) {
                transfer_setup(&d.transfers[i]);
                d.idle[d.n_idle++] = &d.transfers[n - 1 - i];
        }

        prime();
        run.start_ns = now_ns();
        run.measure_from_ns = run.start_ns + (uint64_t) (arg.warmup * 1e9);
        run.stop_sending_ns = run.measure_from_ns + (uint64_t) (arg.duration * 1e9);
        direct_collect(); /* starts the first window */
        direct_loop();
        report("direct");
        return run.errors > 0 || run.in_flight > 0;
}

static void help(void) {
        printf("Usage: loadgen --socket PATH [OPTIONS]\n"
               "       loadgen --direct --url GRAPH_ENDPOINT --token-url URL --client-id ID --secret-file F [OPTIONS]\n"
               "\n"
               "  -n, --connections N   connections to the daemon (direct: multiplied by the window) [1]\n"
               "  -w, --window W        requests outstanding per connection [1]\n"
               "  -d, --duration SEC    measured time; with --requests, extra time to wait for answers [5]\n"
               "      --warmup SEC      unmeasured time before it [0]\n"
               "  -r, --requests N      send N requests in total instead of running for a duration\n"
               "      --ca FILE         CA bundle for the stand-in (direct)\n"
               "      --samples FILE    write send time (realtime µs) and latency (µs) per request\n"
               "      --drain SEC       how long to wait for the last answers [10]\n"
               "      --max-host-connections N  direct: connections to the stand-in at most, 0 = no cap [16]\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_DIRECT = 0x100, ARG_URL, ARG_TOKEN_URL, ARG_CLIENT_ID, ARG_SECRET, ARG_CA, ARG_WARMUP, ARG_SAMPLES, ARG_DRAIN, ARG_MAXCONN };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "direct", no_argument, NULL, ARG_DIRECT },
                { "url", required_argument, NULL, ARG_URL },
                { "token-url", required_argument, NULL, ARG_TOKEN_URL },
                { "client-id", required_argument, NULL, ARG_CLIENT_ID },
                { "secret-file", required_argument, NULL, ARG_SECRET },
                { "ca", required_argument, NULL, ARG_CA },
                { "connections", required_argument, NULL, 'n' },
                { "window", required_argument, NULL, 'w' },
                { "duration", required_argument, NULL, 'd' },
                { "warmup", required_argument, NULL, ARG_WARMUP },
                { "requests", required_argument, NULL, 'r' },
                { "samples", required_argument, NULL, ARG_SAMPLES },
                { "drain", required_argument, NULL, ARG_DRAIN },
                { "max-host-connections", required_argument, NULL, ARG_MAXCONN },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "s:n:w:d:r:h", options, NULL)) >= 0)
                switch (c) {
                case 's': arg.socket_path = optarg; break;
                case ARG_DIRECT: arg.direct = true; break;
                case ARG_URL: arg.url_base = optarg; break;
                case ARG_TOKEN_URL: arg.token_url = optarg; break;
                case ARG_CLIENT_ID: arg.client_id = optarg; break;
                case ARG_SECRET: arg.secret_file = optarg; break;
                case ARG_CA: arg.ca_file = optarg; break;
                case 'n': arg.connections = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'w': arg.window = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'd': arg.duration = strtod(optarg, NULL); break;
                case ARG_WARMUP: arg.warmup = strtod(optarg, NULL); break;
                case 'r': arg.requests = strtoull(optarg, NULL, 10); break;
                case ARG_SAMPLES: arg.samples = optarg; break;
                case ARG_DRAIN: arg.drain = strtod(optarg, NULL); break;
                case ARG_MAXCONN: arg.max_host_connections = strtol(optarg, NULL, 10); break;
                case 'h': help(); return 0;
                default: return 2;
                }
        if (arg.connections == 0 || arg.window == 0 || (uint64_t) arg.connections * arg.window > MAX_SLOTS)
                die("connections × window must be 1..%d", MAX_SLOTS);
        if (arg.requests > 0 && arg.duration == 5)
                arg.duration = 0; /* with --requests, --duration only extends the wait */
        signal(SIGPIPE, SIG_IGN);
        if (arg.direct)
                return run_direct();
        if (!arg.socket_path)
                die("--socket or --direct is required (see --help)");
        return run_daemon();
}
