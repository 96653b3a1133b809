/* SPDX-License-Identifier: MIT */
/*
 * credential-file.c — see credential-file.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "credential-file.h"
#include "string-util.h"
#include "util.h"

/* Whether path names a file directly inside $CREDENTIALS_DIRECTORY (which is flat: credential
 * names cannot contain "/", so anything deeper, or with "..", is not one of systemd's). */
static bool in_credentials_directory(const char *path) {
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        size_t n;

        if (isempty(creds) || creds[0] != '/')
                return false;
        n = strlen(creds);
        while (n > 1 && creds[n - 1] == '/')
                n--;
        return strncmp(path, creds, n) == 0 && path[n] == '/' && path[n + 1] != '\0' && path[n + 1] != '.' &&
               !strchr(path + n + 1, '/');
}

static int fail(int r, char **ret_message, char *message) {
        if (!message)
                return -ENOMEM;
        if (ret_message)
                *ret_message = message;
        else
                free(message);
        return r;
}

/* The rule ssh applies to private keys, for every file that holds a credential (the client
 * secret, the certificate's private key, the client assertion): it must belong to root or to
 * the daemon's user, and grant group and others nothing, or someone else on the host may hold
 * the app's identity. Files in $CREDENTIALS_DIRECTORY are exempt: systemd made them for this
 * service and may grant access with its own owner, group or ACL. The rule is checked with
 * fstat() on the descriptor that is then read: a check by path followed by an open by path
 * could look at one file and read another. The secret and the key are opened without following
 * a symlink; the client assertion follows one, because that is how Kubernetes swaps in a new
 * projected token, and the rule holds for the file the link leads to.
 *
 * The CA bundle (CAFile=) holds nothing secret, but whoever can write it can impersonate the
 * login and Graph endpoints and collect the secret or the token: it must belong to root or to
 * the daemon's user and be writable by nobody else. libcurl opens it by its path at each new
 * connection, so this catches a careless chmod or a file in the wrong hands, at start and at
 * every reload; it cannot pin the file against its owner (docs/security.md). */
int credential_file_open(const char *path, const char *what, CheckedFile kind, int *ret_fd, char **ret_message) {
        bool secret = kind == CHECKED_FILE_SECRET || kind == CHECKED_FILE_ROTATED;
        bool follow = kind == CHECKED_FILE_PUBLIC || kind == CHECKED_FILE_ROTATED;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        r = open_regular_file(path, follow, &fd, &st);
        if (r == -ELOOP && !follow)
                return fail(r, ret_message,
                            strprintf("%s: the file holding the %s is a symbolic link; refusing to follow it. "
                                      "Point the setting at the file itself.", path, what));
        if (r == -EBADFD)
                return fail(r, ret_message, strprintf("%s: the %s is not a regular file.", path, what));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(r, ret_message, strprintf("%s: cannot read the %s: %s", path, what, strerror(-r)));
        if (kind == CHECKED_FILE_PUBLIC || (secret && in_credentials_directory(path))) {
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return fail(-EPERM, ret_message,
                            strprintf("%s: the file holding the %s belongs to uid %u; it must belong to root or "
                                      "to the daemon's user (uid %u)%s.",
                                      path, what, (unsigned) st.st_uid, (unsigned) geteuid(),
                                      secret ? ", or come as a systemd credential" : ""));
        if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)))
                return fail(-EPERM, ret_message,
                            strprintf("%s: the file holding the %s has mode %04o, so group or others may use it; "
                                      "refusing it (like ssh with private keys). Run \"chmod go= %s\" (mode 0600 "
                                      "or 0400), or provide it as a systemd credential.",
                                      path, what, (unsigned) (st.st_mode & 07777), path));
        if (!secret && (st.st_mode & (S_IWGRP | S_IWOTH)))
                return fail(-EPERM, ret_message,
                            strprintf("%s: the file holding the %s has mode %04o, so group or others may change "
                                      "it, and with it whom the daemon trusts with the credential. Run "
                                      "\"chmod go-w %s\".",
                                      path, what, (unsigned) (st.st_mode & 07777), path));
        *ret_fd = TAKE_FD(fd);
        return 0;
}
