/* SPDX-License-Identifier: MIT */
/*
 * config.h — the daemon's configuration: a systemd-style INI file plus drop-ins, parsed into
 * one plain struct. Parsing is pure (text in, struct or "FILE:LINE: message" out) so that unit
 * tests and the fuzzer can drive it without touching the file system.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

#define CONFIG_DEFAULT_PATH "/etc/mediacancel/mediacanceld.conf"
#define CONFIG_DEFAULT_SOCKET_PATH "/run/mediacancel/mediacanceld.sock"

typedef struct Config {
        /* The main file config_load() read (or the first file config_load_file() read), for the
         * messages of config_finalize() that are about the whole configuration, not one line. */
        char *source;

        /* [Identity] */
        char *tenant_id;
        char *client_id;
        char *client_secret_file;
        char *client_secret_file_origin; /* "FILE:LINE" where it was set, for error messages */
        char *login_endpoint;            /* https://…, no trailing slash */

        /* [Graph] */
        char *graph_endpoint; /* https://…, no trailing slash */
        char *api_version;    /* "v1.0" or "beta" */
        char *calls_path;     /* "/communications/calls", "/app/calls", "/applications/{appId}/calls" */
        char *ca_file;
        uint64_t request_timeout_usec;
        uint64_t connect_timeout_usec;
        uint64_t attempt_timeout_usec;
        unsigned max_attempts;
        uint64_t retry_base_usec;
        uint64_t retry_max_usec;
        unsigned max_in_flight;
        unsigned max_queued;

        /* [Socket] */
        char *socket_path;
        size_t max_request_bytes;
        unsigned max_connections;
        unsigned max_connections_per_user;
        unsigned max_in_flight_per_connection;
        uint64_t idle_timeout_usec;
        size_t max_output_bytes;

        /* [Operations] */
        uint64_t completion_timeout_usec;
        uint64_t retention_usec;
        unsigned max_operations;
} Config;

/* A Config holding every default. */
int config_new(Config **ret);
Config *config_free(Config *c);
DEFINE_CLEANUP_FUNC(Config *, config_free);

/* Applies the INI text to c, overriding what is already set. On a bad line returns -EINVAL and
 * sets *ret_error to "FILENAME:LINE: message" naming the key. */
int config_parse_text(Config *c, const char *filename, const char *text, size_t len, char **ret_error);

/* Reads one file and applies it. A missing file returns -ENOENT with *ret_error set. */
int config_load_file(Config *c, const char *path, char **ret_error);

/* Cross-key checks once every file is read: required keys present, endpoints https, known
 * ApiVersion and CallsPath form, ClientSecretFile resolved (from $CREDENTIALS_DIRECTORY when
 * unset) and readable. */
int config_finalize(Config *c, char **ret_error);

/* Defaults, then PATH, then PATH.d/x.conf in lexical order, then config_finalize(). */
int config_load(const char *path, Config **ret, char **ret_error);

/* Parses a time span: "30" (seconds), "1.5", "250ms", "30s", "2min", "1h", "500us".
 * Returns 0 and the value in microseconds, or -EINVAL / -ERANGE. */
int parse_timespan_sec(const char *s, uint64_t *ret_usec);

/* Parses a size: "1048576", "64K", "1M", "1G" (powers of 1024). */
int parse_size(const char *s, size_t *ret);
