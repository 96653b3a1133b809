/* SPDX-License-Identifier: MIT */
/*
 * store.c — see store.h.
 *
 * Line format: eight lower-case hex digits of the CRC-32 of the JSON text, one space, the
 * JSON text, '\n'. A crash can only tear the last line (appends are sequential), so a bad last
 * line is cut off; a bad line with good lines after it is real damage and stops the daemon.
 *
 * What a record's JSON says is record.c's business; this file only frames, checks and orders
 * lines.
 *
 * The directory is trusted: whatever is in it is replayed at every start, and a file there is
 * opened for writing as the daemon's user. So store_open() opens the directory once, refuses one
 * that someone else could write to (or that another user's symlink leads to), and every file in
 * it is opened relative to that descriptor with O_NOFOLLOW: a planted "operations.journal ->
 * /etc/passwd" is an error, not a file truncated by the next compaction.
 *
 * Threading: the loop thread appends bytes to `pending` under the lock and signals a writer
 * that waits for work; the writer thread swaps `pending` out, writes and fdatasyncs it,
 * publishes `synced_seq` and pokes an eventfd; the loop thread then runs deferred callbacks
 * in order. When records kept arriving during a sync, the writer pauses for the sync delay
 * before the next one, so a busy journal syncs a few hundred times a second instead of as
 * often as the disk allows. Nothing else is shared.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "util.h"

#define COMPACT_FACTOR 4
#define COMPACT_MIN_BYTES (1024 * 1024)
/* A sync that carried at least this many records means the journal is busy. */
#define SYNC_GROUP_MIN 4
/* A record nobody waits for is synced with the next one somebody does, and within this long. */
#define LAZY_SYNC_USEC (100 * UINT64_C(1000))

typedef struct Deferred {
        uint64_t seq;
        void (*fn)(void *userdata);
        void *userdata;
        struct Deferred *next;
} Deferred;

struct Store {
        sd_event *event;
        char *dir;
        char *path;
        int dfd; /* the state directory, as checked by open_state_directory() */
        int fd;
        int efd;
        sd_event_source *efd_source;

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        /* Under lock: */
        Buffer pending;
        uint64_t pending_seq;
        Buffer rewrite;
        bool rewrite_pending;
        uint64_t synced_seq;
        uint64_t urgent_seq; /* sync promptly up to here: records someone waits for */
        uint64_t lazy_since; /* CLOCK_MONOTONIC µs of the oldest pending record nobody waits for; 0: none */
        uint64_t syncs;
        bool writer_waiting;
        bool loop_waiting;  /* the loop has output deferred until some record is durable */
        bool stop;
        int write_error;

        uint64_t sync_delay_usec; /* under lock: JournalSyncDelaySec=, changed by reloads */

        /* Loop thread only: */
        uint64_t appended_seq;
        uint64_t seen_synced;
        uint64_t journal_bytes;
        uint64_t records;
        Deferred *deferred_head, *deferred_tail;
        int reported_error;
};

/* CRC-32 (IEEE 802.3, reflected), eight bytes per step with eight tables ("slicing by 8"):
 * start-up checks every byte of the journal before READY=1, and the byte-at-a-time form was
 * a fifth of that time. */
static uint32_t crc_table[8][256];

static void crc_table_init(void) {
        for (uint32_t i = 0; i < 256; i++) {
                uint32_t x = i;
                for (int k = 0; k < 8; k++)
                        x = (x & 1) ? 0xedb88320u ^ (x >> 1) : x >> 1;
                crc_table[0][i] = x;
        }
        for (uint32_t i = 0; i < 256; i++)
                for (int t = 1; t < 8; t++)
                        crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t store_crc32(const void *data, size_t n) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        const uint8_t *p = data;
        uint32_t c = 0xffffffffu;

        (void) pthread_once(&once, crc_table_init);
        for (; n >= 8; n -= 8, p += 8) {
                uint32_t lo = c ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);
                c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
                    crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
                    crc_table[0][p[7]];
        }
        for (; n > 0; n--, p++)
                c = crc_table[0][(c ^ *p) & 0xff] ^ (c >> 8);
        return c ^ 0xffffffffu;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

#define STORE_TEMP_NAME "." STORE_JOURNAL_NAME ".tmp"

/* Writer thread side of a compaction: temp file, fsync, rename over, fsync the directory, and
 * continue appending to the new file. The temp file is always a new file: a stale one (a crash
 * mid-compaction) or anything planted under its name is unlinked first, and O_EXCL|O_NOFOLLOW
 * then fail rather than write through whatever took the name in between. */
static int rewrite_journal(Store *s, const Buffer *b) {
        int fd, r;

        if (unlinkat(s->dfd, STORE_TEMP_NAME, 0) < 0 && errno != ENOENT)
                return -errno;
        fd = openat(s->dfd, STORE_TEMP_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        r = write_all(fd, b->data ?: "", b->size);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(s->dfd, STORE_TEMP_NAME, s->dfd, STORE_JOURNAL_NAME) < 0)
                r = -errno;
        if (r < 0) {
                close(fd);
                (void) unlinkat(s->dfd, STORE_TEMP_NAME, 0);
                return r;
        }
        (void) fsync(s->dfd);
        /* The new file takes over the lock and the appends. */
        (void) flock(fd, LOCK_EX | LOCK_NB);
        int old = s->fd;
        s->fd = fd;
        (void) lseek(fd, 0, SEEK_END);
        close(old);
        return 0;
}

static void *writer_main(void *userdata) {
        Store *s = userdata;
        Buffer batch = {}, rewrite = {};

        pthread_mutex_lock(&s->lock);
        for (;;) {
                for (;;) {
                        if (s->stop || s->rewrite_pending || (s->pending.size > 0 && s->urgent_seq > s->synced_seq))
                                break;
                        s->writer_waiting = true;
                        if (s->pending.size == 0) {
                                pthread_cond_wait(&s->cond, &s->lock);
                                continue;
                        }
                        /* Only records nobody waits for: they go with the next urgent one, or
                         * when the oldest has waited LAZY_SYNC_USEC. */
                        uint64_t due = s->lazy_since + LAZY_SYNC_USEC;
                        if (now_usec(CLOCK_MONOTONIC) >= due)
                                break;
                        struct timespec ts = { .tv_sec = (time_t) (due / 1000000),
                                               .tv_nsec = (long) (due % 1000000) * 1000 };
                        (void) pthread_cond_timedwait(&s->cond, &s->lock, &ts);
                }
                s->writer_waiting = false;
                if (s->pending.size == 0 && !s->rewrite_pending && s->stop)
                        break;

                bool do_rewrite = s->rewrite_pending;
                if (do_rewrite) {
                        rewrite = s->rewrite;
                        s->rewrite = (Buffer) {};
                        s->rewrite_pending = false;
                }
                Buffer tmp = batch;
                batch = s->pending;
                s->pending = tmp;
                s->pending.size = 0;
                s->lazy_since = 0;
                uint64_t seq = s->pending_seq;
                pthread_mutex_unlock(&s->lock);

                int r = 0;
                if (do_rewrite) {
                        r = rewrite_journal(s, &rewrite);
                        buffer_done(&rewrite);
                }
                if (r >= 0 && batch.size > 0)
                        r = write_all(s->fd, batch.data, batch.size);
                if (r >= 0 && fdatasync(s->fd) < 0)
                        r = -errno;

                pthread_mutex_lock(&s->lock);
                if (r < 0) {
                        /* Put the bytes back in front and try again shortly: nothing that was
                         * acknowledged may go missing because the disk had a bad moment. */
                        Buffer merged = {};
                        if (buffer_append(&merged, batch.data, batch.size) >= 0 &&
                            buffer_append(&merged, s->pending.data ?: "", s->pending.size) >= 0) {
                                buffer_done(&s->pending);
                                s->pending = merged;
                        } else
                                buffer_done(&merged);
                        bool changed = s->write_error != r;
                        s->write_error = r;
                        batch.size = 0;
                        pthread_mutex_unlock(&s->lock);
                        if (changed) { /* so the loop logs it */
                                uint64_t one = 1;
                                (void) !write(s->efd, &one, sizeof one);
                        }
                        sleep(1);
                        pthread_mutex_lock(&s->lock);
                        continue;
                }
                bool recovered = s->write_error != 0;
                s->write_error = 0;
                /* Busy: that sync carried a group and more records arrived while it ran. Let
                 * more gather before the next one (JournalSyncDelaySec=): each sync costs the
                 * disk a flush and this thread a wake-up, whatever it carries. A lone record
                 * (one cancel at a time, whose next record may well be waiting already) is
                 * synced at once, or the delay would land on that cancel's answer. */
                bool busy = seq - s->synced_seq >= SYNC_GROUP_MIN && s->pending.size > 0 && !s->stop;
                s->synced_seq = seq;
                s->syncs++;
                batch.size = 0;
                /* The loop hears of a sync only when it has output waiting for one (or an error
                 * to report as gone): waking it for nothing costs a cancel in flight the time of
                 * a wake-up on a busy CPU. */
                bool poke = s->loop_waiting || recovered;
                uint64_t delay = s->sync_delay_usec; /* a reload may change it */
                pthread_mutex_unlock(&s->lock);
                if (poke) {
                        uint64_t one = 1;
                        (void) !write(s->efd, &one, sizeof one);
                }
                if (busy && delay > 0) {
                        struct timespec ts = { .tv_sec = (time_t) (delay / 1000000),
                                               .tv_nsec = (long) (delay % 1000000) * 1000 };
                        (void) clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
                }
                pthread_mutex_lock(&s->lock);
        }
        pthread_mutex_unlock(&s->lock);
        buffer_done(&batch);
        return NULL;
}

static void run_deferred(Store *s) {
        uint64_t synced;
        int err;

        pthread_mutex_lock(&s->lock);
        synced = s->synced_seq;
        err = s->write_error;
        pthread_mutex_unlock(&s->lock);

        if (err != s->reported_error) {
                if (err < 0)
                        log_error_errno(err, "Cannot write the journal %s: %m; holding replies until it can.", s->path);
                else
                        log_notice("The journal %s is writable again.", s->path);
                s->reported_error = err;
        }
        s->seen_synced = synced;
        while (s->deferred_head && s->deferred_head->seq <= synced) {
                Deferred *d = s->deferred_head;
                s->deferred_head = d->next;
                if (!s->deferred_head)
                        s->deferred_tail = NULL;
                d->fn(d->userdata);
                free(d);
        }
        /* Callbacks may have deferred more; whatever is queued now is what the writer must
         * tell us about. */
        pthread_mutex_lock(&s->lock);
        s->loop_waiting = s->deferred_head != NULL;
        pthread_mutex_unlock(&s->lock);
}

static int on_synced(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        uint64_t n;

        (void) es;
        (void) revents;
        (void) !read(fd, &n, sizeof n);
        run_deferred(userdata);
        return 0;
}

/* Opens the state directory, creating it (0700) if needed, and refuses one that someone other
 * than root or the daemon's user could write to: they could plant the journal there. A symlink
 * to the directory is fine when root or the daemon's user made it — with DynamicUser=, systemd
 * makes /var/lib/NAME a symlink to /var/lib/private/NAME — but not another user's. */
static int open_state_directory(const char *dir, int *ret_dfd) {
        _cleanup_close_ int dfd = -EBADF;
        uid_t uid = geteuid();
        struct stat st;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create the state directory %s: %m", dir);
        if (lstat(dir, &st) < 0)
                return log_error_errno(errno, "Cannot access the state directory %s: %m", dir);
        if (S_ISLNK(st.st_mode) && st.st_uid != 0 && st.st_uid != uid)
                return log_error_errno(EPERM,
                                       "The state directory %s is a symbolic link that belongs to uid %u, not to root "
                                       "or the daemon's user (uid %u); refusing to follow it.",
                                       dir, (unsigned) st.st_uid, (unsigned) uid);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return log_error_errno(errno, "Cannot open the state directory %s: %m", dir);
        if (fstat(dfd, &st) < 0)
                return log_error_errno(errno, "Cannot stat the state directory %s: %m", dir);
        if (st.st_uid != 0 && st.st_uid != uid)
                return log_error_errno(EPERM,
                                       "The state directory %s belongs to uid %u; it must belong to root or to the "
                                       "daemon's user (uid %u).",
                                       dir, (unsigned) st.st_uid, (unsigned) uid);
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return log_error_errno(EPERM,
                                       "The state directory %s has mode %04o, so group or others may create files in "
                                       "it; refusing to keep the journal there. Run \"chmod go-w %s\".",
                                       dir, (unsigned) (st.st_mode & 07777), dir);
        *ret_dfd = TAKE_FD(dfd);
        return 0;
}

int store_open(sd_event *event, const char *dir, Store **ret) {
        _cleanup_(store_freep) Store *s = NULL;
        struct stat st;
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return log_oom();
        s->fd = s->efd = s->dfd = -EBADF;
        pthread_mutex_init(&s->lock, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        (void) pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* lazy deadlines are monotonic */
        pthread_cond_init(&s->cond, &attr);
        pthread_condattr_destroy(&attr);
        s->event = sd_event_ref(event);
        s->dir = strdup(dir);
        if (!s->dir || asprintf(&s->path, "%s/%s", dir, STORE_JOURNAL_NAME) < 0)
                return log_oom();

        r = open_state_directory(dir, &s->dfd);
        if (r < 0)
                return r;
        s->fd = openat(s->dfd, STORE_JOURNAL_NAME, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
        if (s->fd < 0 && errno == ELOOP)
                return log_error_errno(errno, "The journal %s is a symbolic link; refusing to follow it (the journal "
                                       "is a regular file the daemon creates itself).", s->path);
        if (s->fd < 0)
                return log_error_errno(errno, "Cannot open the journal %s: %m (is StateDirectory= writable?)", s->path);
        if (fstat(s->fd, &st) < 0)
                return log_error_errno(errno, "Cannot stat the journal %s: %m", s->path);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(EBADFD, "The journal %s is not a regular file; refusing it.", s->path);
        if (flock(s->fd, LOCK_EX | LOCK_NB) < 0)
                return log_error_errno(errno, "The journal %s is in use by another mediacanceld.", s->path);
        /* fdatasync() of the file does not make a newly created file's name durable. */
        if (fsync(s->dfd) < 0)
                return log_error_errno(errno, "Cannot sync the state directory %s: %m", dir);

        s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->efd < 0)
                return log_error_errno(errno, "eventfd() failed: %m");
        r = sd_event_add_io(event, &s->efd_source, s->efd, EPOLLIN, on_synced, s);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the journal writer: %m");
        (void) sd_event_source_set_description(s->efd_source, "journal-synced");

        *ret = TAKE_PTR(s);
        return 0;
}

static int start_writer(Store *s) {
        int r;

        if (s->thread_started)
                return 0;
        r = -pthread_create(&s->thread, NULL, writer_main, s);
        if (r < 0)
                return log_error_errno(r, "Cannot start the journal writer: %m");
        s->thread_started = true;
        return 0;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        if (s->thread_started) {
                pthread_mutex_lock(&s->lock);
                s->stop = true;
                pthread_cond_signal(&s->cond);
                pthread_mutex_unlock(&s->lock);
                pthread_join(s->thread, NULL);
                run_deferred(s);
        }
        while (s->deferred_head) {
                Deferred *d = s->deferred_head;
                s->deferred_head = d->next;
                free(d);
        }
        sd_event_source_disable_unref(s->efd_source);
        if (s->efd >= 0)
                close(s->efd);
        if (s->fd >= 0)
                close(s->fd);
        if (s->dfd >= 0)
                close(s->dfd);
        buffer_done(&s->pending);
        buffer_done(&s->rewrite);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        sd_event_unref(s->event);
        free(s->dir);
        free(s->path);
        free(s);
        return NULL;
}

/* A line's CRC and JSON text; -EBADMSG when the CRC does not match. */
static int check_line(char *line, size_t len, char **ret_json, size_t *ret_len) {
        uint32_t crc = 0;

        if (len < 11 || line[8] != ' ')
                return -EBADMSG;
        for (int i = 0; i < 8; i++) {
                char ch = line[i];
                unsigned v = ch >= '0' && ch <= '9' ? (unsigned) (ch - '0')
                             : ch >= 'a' && ch <= 'f' ? (unsigned) (ch - 'a' + 10)
                             : ch >= 'A' && ch <= 'F' ? (unsigned) (ch - 'A' + 10)
                                                      : 16;
                if (v > 15)
                        return -EBADMSG;
                crc = crc << 4 | v;
        }
        if (store_crc32(line + 9, len - 9) != crc)
                return -EBADMSG;
        *ret_json = line + 9;
        *ret_len = len - 9;
        return 0;
}

int store_load(Store *s, store_record_t cb, void *userdata, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        struct stat st;
        size_t off = 0, n;
        int r;

        if (fstat(s->fd, &st) < 0)
                return log_error_errno(errno, "Cannot stat %s: %m", s->path);
        n = (size_t) st.st_size;
        data = malloc(n + 1);
        if (!data)
                return log_oom();
        for (size_t got = 0; got < n;) {
                ssize_t k = pread(s->fd, data + got, n - got, (off_t) got);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "Cannot read %s: %m", s->path);
                }
                if (k == 0) {
                        n = got;
                        break;
                }
                got += (size_t) k;
        }

        while (off < n) {
                char *nl = memchr(data + off, '\n', n - off);
                size_t len = nl ? (size_t) (nl - (data + off)) : n - off;
                char *json = NULL;
                size_t json_len = 0;

                r = nl ? check_line(data + off, len, &json, &json_len) : -EBADMSG;
                if (r >= 0) {
                        r = cb(json, json_len, userdata);
                        if (r == -ENOMEM)
                                return log_oom();
                        if (r < 0 && r != -EBADMSG) {
                                if (ret_error)
                                        (void) !asprintf(ret_error, "%s: record at offset %zu cannot be restored: %s",
                                                         s->path, off, strerror(-r));
                                return r;
                        }
                }
                if (r < 0) {
                        bool last = !nl || off + len + 1 >= n;
                        if (!last) {
                                if (ret_error)
                                        (void) !asprintf(ret_error,
                                                         "%s: damaged record at offset %zu (of %zu bytes); refusing to start "
                                                         "rather than lose history. Inspect or move the file aside.",
                                                         s->path, off, n);
                                return -EBADMSG;
                        }
                        log_warning("%s: the last record (offset %zu, %zu bytes) is incomplete, probably from a crash "
                                    "while writing; dropping it.",
                                    s->path, off, n - off);
                        if (ftruncate(s->fd, (off_t) off) < 0 || fdatasync(s->fd) < 0)
                                return log_error_errno(errno, "Cannot truncate %s: %m", s->path);
                        n = off;
                        break;
                }
                s->records++;
                off += len + 1;
        }
        s->journal_bytes = n;
        return start_writer(s);
}

int store_frame(Buffer *b, const char *json, size_t len) {
        static const char hex[] = "0123456789abcdef";
        uint32_t crc = store_crc32(json, len);
        char head[9];
        int r;

        for (int i = 7; i >= 0; i--, crc >>= 4)
                head[i] = hex[crc & 0xf];
        head[8] = ' ';
        if ((r = buffer_append(b, head, sizeof head)) < 0 || (r = buffer_append(b, json, len)) < 0 ||
            (r = buffer_append(b, "\n", 1)) < 0)
                return r;
        return (int) (len + 10);
}

int64_t store_append(Store *s, const char *json, size_t len, bool urgent) {
        int r;

        r = start_writer(s);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        bool was_empty = s->pending.size == 0;
        r = store_frame(&s->pending, json, len);
        if (r >= 0) {
                s->pending_seq = ++s->appended_seq;
                if (urgent)
                        s->urgent_seq = s->appended_seq;
                else if (s->lazy_since == 0)
                        s->lazy_since = MAX(now_usec(CLOCK_MONOTONIC), (uint64_t) 1);
        }
        /* Only a writer that waits for work needs waking: for a record someone will wait for,
         * or for the first one nobody does (it then sleeps until that one is due). One that is
         * writing, syncing or letting records gather takes these with the next batch.
         * Signalled after unlocking, so that it does not wake only to block on the lock we
         * hold; it re-checks its condition under the lock, so no wake-up is lost. */
        bool wake = r >= 0 && (urgent || was_empty) && s->writer_waiting;
        pthread_mutex_unlock(&s->lock);
        if (wake)
                pthread_cond_signal(&s->cond);
        if (r < 0)
                return r;
        s->journal_bytes += (uint64_t) r;
        s->records++;
        return (int64_t) s->appended_seq;
}

void store_set_sync_delay(Store *s, uint64_t usec) {
        pthread_mutex_lock(&s->lock);
        s->sync_delay_usec = usec;
        pthread_mutex_unlock(&s->lock);
}

int store_defer_until(Store *s, uint64_t seq, void (*fn)(void *userdata), void *userdata) {
        Deferred *d;

        seq = MIN(seq, s->appended_seq);
        /* Nothing ahead of it in the queue and its record is on disk: no need to wait. A
         * callback queued behind others waits for them, so output keeps its order. */
        if (!s->deferred_head) {
                uint64_t synced;
                pthread_mutex_lock(&s->lock);
                synced = s->synced_seq;
                pthread_mutex_unlock(&s->lock);
                if (synced >= seq) {
                        fn(userdata);
                        return 0;
                }
        }
        d = malloc(sizeof *d);
        if (!d)
                return -ENOMEM;
        /* Someone waits for seq now: a record appended as nobody's business becomes urgent. */
        bool wake = false, synced_meanwhile;
        pthread_mutex_lock(&s->lock);
        s->loop_waiting = true;
        if (s->urgent_seq < seq) {
                s->urgent_seq = seq;
                wake = s->writer_waiting;
        }
        /* A sync that finished before loop_waiting was set did not poke us. */
        synced_meanwhile = s->synced_seq >= seq;
        pthread_mutex_unlock(&s->lock);
        if (wake)
                pthread_cond_signal(&s->cond);
        *d = (Deferred) { .seq = seq, .fn = fn, .userdata = userdata };
        if (s->deferred_tail)
                s->deferred_tail->next = d;
        else
                s->deferred_head = d;
        s->deferred_tail = d;
        if (synced_meanwhile && s->efd >= 0) {
                uint64_t one = 1;
                (void) !write(s->efd, &one, sizeof one);
        }
        return 0;
}

int store_defer(Store *s, void (*fn)(void *userdata), void *userdata) {
        return store_defer_until(s, s->appended_seq, fn, userdata);
}

bool store_wants_compaction(Store *s, size_t live) {
        if (s->journal_bytes < COMPACT_MIN_BYTES || s->records == 0)
                return false;
        uint64_t avg = s->journal_bytes / s->records;
        return s->journal_bytes > COMPACT_FACTOR * MAX((uint64_t) live, (uint64_t) 1) * avg;
}

int store_compact(Store *s, Buffer *snapshot, size_t records) {
        Buffer b = *snapshot;
        int r;

        *snapshot = (Buffer) {};
        r = start_writer(s);
        if (r < 0) {
                buffer_done(&b);
                return r;
        }
        pthread_mutex_lock(&s->lock);
        /* Everything appended so far is in the snapshot: drop it from the queue, or it would be
         * written after the snapshot and roll states back on the next load. */
        s->pending.size = 0;
        buffer_done(&s->rewrite);
        s->rewrite = b;
        s->rewrite_pending = true;
        s->pending_seq = s->appended_seq;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        log_info("Compacting the journal: %" PRIu64 " bytes in %" PRIu64 " records to %zu bytes in %zu records.",
                 s->journal_bytes, s->records, b.size, records);
        s->journal_bytes = b.size;
        s->records = records;
        return 0;
}

uint64_t store_journal_bytes(Store *s) {
        return s->journal_bytes;
}

uint64_t store_syncs(Store *s) {
        pthread_mutex_lock(&s->lock);
        uint64_t n = s->syncs;
        pthread_mutex_unlock(&s->lock);
        return n;
}
