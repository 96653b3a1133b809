/* SPDX-License-Identifier: MIT */
/*
 * assertion-file.h — ClientAssertionFile=: a JWT that another identity provider issued to this
 * workload (a projected Kubernetes service-account token, for example) and that the app
 * registration trusts through a federated identity credential. The daemon sends it as the
 * client_assertion of each token request. The file is rotated by someone else, so it is read
 * again whenever it changed (device, inode, size or modification time differ), at least every
 * CLIENT_ASSERTION_REREAD_USEC, and whenever the copy held is about to expire; a copy is never
 * used past its own exp. The signature is not checked here: the identity platform does that.
 */
#pragma once

#include <stdint.h>

#include "macro.h"
#include "time-util.h"

/* Projected service-account tokens are about 1-2 KiB; anything this large is not one. */
#define CLIENT_ASSERTION_MAX_BYTES (16 * 1024)
/* Read again at least this often even when the file looks unchanged: some rotators keep the
 * inode, size and (coarse) mtime. azure-identity re-reads every 10 minutes; Kubernetes rotates
 * at 80 % of a lifetime of at least an hour, so 5 minutes is well inside the margin. */
#define CLIENT_ASSERTION_REREAD_USEC (5 * 60 * USEC_PER_SEC)
/* An assertion this close to its exp is treated as expired: it could expire on the wire. */
#define CLIENT_ASSERTION_EXPIRY_MARGIN_SEC 30

typedef struct AssertionFile AssertionFile;

int assertion_file_new(const char *path, AssertionFile **ret);
AssertionFile *assertion_file_free(AssertionFile *f);
DEFINE_CLEANUP_FUNC(AssertionFile *, assertion_file_free);

/* The assertion to send now, owned by f and valid until the next call or assertion_file_free().
 * monotonic_now and realtime_now are in µs. On failure returns a negative errno and sets
 * *ret_message to "PATH: what is wrong" (-ENOMEM leaves it NULL); nothing is cached from a
 * file that failed. */
int assertion_file_get(AssertionFile *f, uint64_t monotonic_now, uint64_t realtime_now, const char **ret,
                       char **ret_message);

/* Whether s is a compact JWS (three base64url parts, the first two JSON objects) and, if so, its
 * payload's exp in Unix seconds. Returns 0, -EBADMSG with *ret_why set to a static phrase, or
 * -ENOMEM. No signature check. */
int jwt_peek_exp(const char *s, int64_t *ret_exp, const char **ret_why);
