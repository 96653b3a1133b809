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

#define STORE_JOURNAL_NAME "operations.journal"

typedef struct Store Store;

/* Creates the directory (0700) if needed and opens the journal; fails clearly when the
 * directory cannot be written or another daemon holds the journal. */
int store_open(sd_event *event, const char *dir, Store **ret);

/* Stops the writer after flushing what was appended. */
Store *store_free(Store *s);
DEFINE_CLEANUP_FUNC(Store *, store_free);

/* Replays the journal: cb gets every record in order. A torn last record is cut off with a
 * warning; any other damage fails with a message naming the file and offset in *ret_error. */
int store_load(Store *s, int (*cb)(json_object *record, void *userdata), void *userdata, char **ret_error);

/* Queues a record; returns its sequence number (> 0) or a negative errno. */
int64_t store_append(Store *s, json_object *record);

/* Runs fn once every record appended so far is durable (at once when it already is). */
int store_defer(Store *s, void (*fn)(void *userdata), void *userdata);

/* Runs fn once the record with sequence number seq (and all before it) is durable, and after
 * everything deferred before. */
int store_defer_until(Store *s, uint64_t seq, void (*fn)(void *userdata), void *userdata);

/* Whether the journal has grown past COMPACT_FACTOR times live_records' share of it. */
bool store_wants_compaction(Store *s, size_t live_records);

/* Replaces the journal with these records (a JSON array, consumed), atomically. */
int store_compact(Store *s, json_object *records);

uint64_t store_journal_bytes(Store *s);
uint64_t store_syncs(Store *s);

/* The checksum used on each line; exposed for tests. */
uint32_t store_crc32(const void *data, size_t n);
