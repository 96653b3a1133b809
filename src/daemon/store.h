/* SPDX-License-Identifier: MIT */
/*
 * store.h — the durable journal of operations: one append-only file of checksummed JSON
 * records in StateDirectory=, written and fdatasync'ed by one writer thread so the event loop
 * never waits on the disk, group-committed (everything appended while a sync runs goes in the
 * next one). Anything that reports a state change to a client is deferred with store_defer()
 * until the records before it are on disk. Compaction rewrites the file atomically.
 */
#pragma once

#include <json-c/json.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "util.h"

#define STORE_JOURNAL_NAME "operations.journal"

typedef struct Store Store;

/* Creates the directory (0700) if needed and opens the journal; fails clearly when the
 * directory cannot be written, another daemon holds the journal, the directory is writable by
 * group or others or belongs to another user (or is another user's symlink), or the journal is
 * a symlink or not a regular file. */
int store_open(sd_event *event, const char *dir, Store **ret);

/* Stops the writer after flushing what was appended. */
Store *store_free(Store *s);
DEFINE_CLEANUP_FUNC(Store *, store_free);

/* Gets one record's JSON text (writable, not NUL-terminated). -EBADMSG: the record makes no
 * sense, which is damage like a bad CRC; other errors stop the load. */
typedef int (*store_record_t)(char *json, size_t len, void *userdata);

/* Replays the journal: cb gets every record in order. A torn last record is cut off with a
 * warning; any other damage fails with a message naming the file and offset in *ret_error. */
int store_load(Store *s, store_record_t cb, void *userdata, char **ret_error);

/* Queues a record (one line of JSON text); returns its sequence number (> 0) or a negative
 * errno. An urgent record is synced at once (with whatever accumulated); another one waits
 * until a record after it is urgent, someone defers output on it (store_defer*()), or it is
 * 100 ms old — whichever comes first. */
int64_t store_append(Store *s, const char *json, size_t len, bool urgent);

/* Appends one record in the journal's line format (CRC, space, JSON, newline) to b; returns
 * the bytes added. For building a compaction snapshot. */
int store_frame(Buffer *b, const char *json, size_t len);

/* How long a busy journal lets records gather between syncs (JournalSyncDelaySec=). */
void store_set_sync_delay(Store *s, uint64_t usec);

/* Runs fn once every record appended so far is durable (at once when it already is). */
int store_defer(Store *s, void (*fn)(void *userdata), void *userdata);

/* Runs fn once the record with sequence number seq (and all before it) is durable, and after
 * everything deferred before. */
int store_defer_until(Store *s, uint64_t seq, void (*fn)(void *userdata), void *userdata);

/* Whether the journal has grown past COMPACT_FACTOR times live_records' share of it. */
bool store_wants_compaction(Store *s, size_t live_records);

/* Replaces the journal with a snapshot of records framed by store_frame() (taken over, and
 * *snapshot emptied), atomically. */
int store_compact(Store *s, Buffer *snapshot, size_t records);

uint64_t store_journal_bytes(Store *s);
uint64_t store_syncs(Store *s);

/* The checksum used on each line; exposed for tests. */
uint32_t store_crc32(const void *data, size_t n);
