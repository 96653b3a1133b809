/* SPDX-License-Identifier: MIT */
/*
 * log.h — the daemon's logging. Lines go to stderr with sd-daemon "<N>" priority prefixes
 * so journald files them at the right level; callers never pass secrets here. A function
 * either logs or returns an error, not both: the log_*_errno() forms return -abs(error) so
 * "return log_error_errno(r, ...)" reads naturally.
 *
 * When stderr is connected to the journal ($JOURNAL_STREAM names it), entries go to journald
 * over its native protocol instead, with structured fields (OPERATION_ID=, CALL_ID=,
 * TENANT_ID=, GRAPH_REQUEST_ID=, PEER_UID=, PEER_PID=, MESSAGE_ID=) that operators can filter on.
 */
#pragma once

#include <syslog.h>

#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);

/* Parses "emerg".."debug" (also "error", "warn") or a number 0..7; returns the level or -EINVAL. */
int log_level_from_string(const char *s);

/* Prefix every line with "<N>" (default on: journald understands it, terminals show it). */
void log_set_prefix_priority(bool b);

int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

/* Stable MESSAGE_ID= values (128-bit, as journalctl MESSAGE_ID= expects) for the events worth
 * filtering on. Documented in docs/operations.md and mediacanceld(8). */
#define MESSAGE_ID_TOKEN_FAILED "6b1c1d5e0a2f4b6f9d3e8a7c5b4f2e10"
#define MESSAGE_ID_TOKEN_RECOVERED "6b1c1d5e0a2f4b6f9d3e8a7c5b4f2e11"
#define MESSAGE_ID_THROTTLED "3f7a9c2e4d1b4e8a8c6f0b2d9e7a5c30"
#define MESSAGE_ID_PERMISSION_DENIED "9a4e2c7b1f3d4a6e8b0c5d2f7e9a1b40"
#define MESSAGE_ID_CANCEL_FAILED "c2d8e4f6a0b24c9e8f1a3b5d7c9e0f50"
#define MESSAGE_ID_OPERATION_UNKNOWN "d4b6a8c0e2f44a1c9e3b5d7f9a1c3e60"
#define MESSAGE_ID_STARTED "e1f3a5c7b9d14e2f8a0c2e4b6d8f0a70"
#define MESSAGE_ID_NOTIFICATION_REFUSED "56c1549200f74d3b90c6e4025d9c0624"
#define MESSAGE_ID_NOTIFICATION_KEYS_FAILED "8ca2b23deb114fbca4a11111420a7015"

/* Context for one entry; every member is optional (NULL / has_peer false). */
typedef struct LogFields {
        const char *message_id;
        const char *operation_id;
        const char *call_id;
        const char *tenant_id;
        const char *graph_request_id;
        bool has_peer;
        unsigned peer_uid;
        int peer_pid;
} LogFields;

int log_struct_internal(int level, int error, const LogFields *fields, const char *fmt, ...) _printf_(4, 5);

#define log_struct(level, fields, ...)                                                   \
        ({                                                                               \
                int _l_ = (level);                                                       \
                (log_get_max_level() >= _l_) ? log_struct_internal(_l_, 0, fields, __VA_ARGS__) \
                                             : 0;                                        \
        })

/* Decides between journal and stderr: call once at start, after parsing arguments. */
void log_open(void);

/* Where journal entries are sent; the default is journald's socket. For tests. */
void log_set_journal_socket(const char *path);

#define log_full_errno(level, error, ...)                                          \
        ({                                                                         \
                int _l_ = (level), _e_ = (error);                                  \
                _e_ = _e_ < 0 ? -_e_ : _e_;                                        \
                (log_get_max_level() >= _l_) ? log_internal(_l_, _e_, __VA_ARGS__) \
                                             : -_e_;                               \
        })

#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
