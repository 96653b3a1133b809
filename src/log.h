/* SPDX-License-Identifier: MIT */
/*
 * log.h — the daemon's logging. Lines go to stderr with sd-daemon "<N>" priority prefixes
 * so journald files them at the right level; callers never pass secrets here. A function
 * either logs or returns an error, not both: the log_*_errno() forms return -abs(error) so
 * "return log_error_errno(r, ...)" reads naturally.
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
