/* SPDX-License-Identifier: MIT */
/*
 * credential-file.h — opening a file that holds a credential (or decides whom the daemon trusts
 * with one) under the ownership and mode rules of docs/security.md, checked on the descriptor
 * that is then read. Shared by client-credential.c (secret, key, CA bundle) and
 * assertion-file.c (ClientAssertionFile=). No logging: the caller says why in its own words
 * and decides how often.
 */
#pragma once

typedef enum CheckedFile {
        CHECKED_FILE_PUBLIC,  /* the certificate: no owner or mode rule, symlinks followed */
        CHECKED_FILE_SECRET,  /* the client secret, the private key: no symlink */
        CHECKED_FILE_ROTATED, /* the client assertion: secret rules, but symlinks followed, since
                               * Kubernetes rotates a projected token by swapping a symlink */
        CHECKED_FILE_TRUST,   /* the CA bundle */
} CheckedFile;

/* Opens path read-only. On failure returns a negative errno and sets *ret_message (unless
 * ret_message is NULL) to a sentence naming path and what: "PATH: the file holding the WHAT
 * ...". -ENOMEM leaves *ret_message NULL. */
int credential_file_open(const char *path, const char *what, CheckedFile kind, int *ret_fd, char **ret_message);
