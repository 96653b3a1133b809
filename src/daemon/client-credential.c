/* SPDX-License-Identifier: MIT */
/*
 * client-credential.c — see client-credential.h. With a certificate every token request carries
 * a freshly signed assertion, so a captured request body is worth nothing once the assertion's
 * ten minutes are over.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client-credential.h"
#include "identity.h"
#include "jwt.h"
#include "log.h"
#include "time-util.h"
#include "util.h"

#define CREDENTIAL_SECRET_MAX_BYTES 4096
#define CREDENTIAL_PEM_MAX_BYTES (64 * 1024) /* a certificate chain and a 4096-bit key fit easily */
#define CREDENTIAL_CERT_EXPIRY_WARN_SEC (7 * 24 * 3600)

struct ClientCredential {
        char *secret;               /* exactly one of secret and certificate is set */
        JwtCredential *certificate;
};

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

/* The rule ssh applies to private keys, for every file that holds a credential (the client
 * secret, the certificate's private key): it must belong to root or to the daemon's user, and
 * grant group and others nothing, or someone else on the host may hold the app's identity.
 * Files in $CREDENTIALS_DIRECTORY are exempt: systemd made them for this service and may grant
 * access with its own owner, group or ACL. The rule is checked with fstat() on the descriptor
 * that is then read, opened without following a symlink: a check by path followed by an open
 * by path could look at one file and read another.
 *
 * The CA bundle (CAFile=) holds nothing secret, but whoever can write it can impersonate the
 * login and Graph endpoints and collect the secret or the token: it must belong to root or to
 * the daemon's user and be writable by nobody else. libcurl opens it by its path at each new
 * connection, so this catches a careless chmod or a file in the wrong hands, at start and at
 * every reload; it cannot pin the file against its owner (docs/security.md). */
typedef enum CheckedFile {
        CHECKED_FILE_PUBLIC, /* the certificate: no owner or mode rule, symlinks followed */
        CHECKED_FILE_SECRET, /* the client secret, the private key */
        CHECKED_FILE_TRUST,  /* the CA bundle */
} CheckedFile;

static int open_checked_file(const char *path, const char *what, CheckedFile kind, int *ret_fd) {
        bool secret = kind == CHECKED_FILE_SECRET;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        r = open_regular_file(path, kind == CHECKED_FILE_PUBLIC, &fd, &st);
        if (r == -ELOOP)
                return log_error_errno(r, "%s: the file holding the %s is a symbolic link; refusing to follow it. "
                                       "Point the setting at the file itself.", path, what);
        if (r == -EBADFD)
                return log_error_errno(r, "%s: the %s is not a regular file.", path, what);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the %s: %m", path, what);
        if (kind == CHECKED_FILE_PUBLIC || (secret && in_credentials_directory(path))) {
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return log_error_errno(EPERM,
                                       "%s: the file holding the %s belongs to uid %u; it must belong to root or "
                                       "to the daemon's user (uid %u)%s.",
                                       path, what, (unsigned) st.st_uid, (unsigned) geteuid(),
                                       secret ? ", or come as a systemd credential" : "");
        if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)))
                return log_error_errno(EPERM,
                                       "%s: the file holding the %s has mode %04o, so group or others may use it; "
                                       "refusing it (like ssh with private keys). Run \"chmod go= %s\" (mode 0600 "
                                       "or 0400), or provide it as a systemd credential.",
                                       path, what, (unsigned) (st.st_mode & 07777), path);
        if (!secret && (st.st_mode & (S_IWGRP | S_IWOTH)))
                return log_error_errno(EPERM,
                                       "%s: the file holding the %s has mode %04o, so group or others may change "
                                       "it, and with it whom the daemon trusts with the credential. Run "
                                       "\"chmod go-w %s\".",
                                       path, what, (unsigned) (st.st_mode & 07777), path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int load_secret(const Config *c, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        int r = open_checked_file(c->client_secret_file, "client secret", CHECKED_FILE_SECRET, &fd);
        if (r < 0)
                return r;

        r = read_secret_fd(fd, CREDENTIAL_SECRET_MAX_BYTES, ret);
        if (r == -EFBIG)
                return log_error_errno(r, "%s: the client secret file is larger than %d bytes.",
                                       c->client_secret_file, CREDENTIAL_SECRET_MAX_BYTES);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s: the client secret file is empty or not text.", c->client_secret_file);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the client secret: %m", c->client_secret_file);
        return 0;
}

/* The certificate is public: only the key is held to the credential rule. */
static int read_pem(const char *path, const char *what, CheckedFile kind, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = open_checked_file(path, what, kind, &fd);
        if (r < 0)
                return r;
        r = read_secret_fd(fd, CREDENTIAL_PEM_MAX_BYTES, ret);
        if (r == -EFBIG)
                return log_error_errno(r, "%s: the %s file is larger than %d bytes.", path, what, CREDENTIAL_PEM_MAX_BYTES);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s: the %s file is empty or not text (PEM is expected).", path, what);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the %s: %m", path, what);
        return 0;
}

/* Expiry is the usual way certificate credentials break, and the platform's refusal does not
 * say so plainly; a warning at every (re)load gives the operator a week's notice. */
static void warn_certificate_expiry(const Config *c, const JwtCredential *cred) {
        int64_t not_after = jwt_credential_not_after(cred);
        int64_t now = (int64_t) (now_usec(CLOCK_REALTIME) / USEC_PER_SEC);
        char buf[32];

        format_rfc3339_ms(not_after > 0 ? (uint64_t) not_after * USEC_PER_SEC : 0, buf);
        if (not_after <= now)
                log_warning("%s: the certificate expired at %s; the identity platform refuses assertions "
                            "signed for it. Upload a new certificate to the app registration and point "
                            "CertificateFile= at it.",
                            c->certificate_file, buf);
        else if (not_after - now <= CREDENTIAL_CERT_EXPIRY_WARN_SEC)
                log_warning("%s: the certificate expires at %s, in %.1f days; upload its successor to the app "
                            "registration and point CertificateFile= at it before then.",
                            c->certificate_file, buf, (double) (not_after - now) / 86400.0);
}

static int load_certificate(const Config *c, JwtCredential **ret) {
        _cleanup_erase_ char *cert = NULL, *key = NULL;
        _cleanup_free_ char *reason = NULL;
        _cleanup_(jwt_credential_freep) JwtCredential *cred = NULL;
        int r;

        r = read_pem(c->certificate_file, "certificate", CHECKED_FILE_PUBLIC, &cert);
        if (r < 0)
                return r;
        r = read_pem(c->private_key_file, "private key", CHECKED_FILE_SECRET, &key);
        if (r < 0)
                return r;

        r = jwt_credential_new(cert, strlen(cert), key, strlen(key), &cred, &reason);
        if (r == -EINVAL && reason)
                return log_error_errno(r, "%s%s%s: %s.", c->certificate_file,
                                       streq(c->certificate_file, c->private_key_file) ? "" : ", ",
                                       streq(c->certificate_file, c->private_key_file) ? "" : c->private_key_file,
                                       reason);
        if (r < 0)
                return log_error_errno(r, "%s: cannot load the certificate: %m", c->certificate_file);

        /* Not fatal: the platform's AADSTS700027 will say the same, but only here can the
         * message name the two files. */
        if (!jwt_credential_key_matches(cred))
                log_warning("%s: the private key in %s does not belong to this certificate; the identity "
                            "platform will refuse the assertions (AADSTS700027).",
                            c->certificate_file, c->private_key_file);
        warn_certificate_expiry(c, cred);
        log_info("Signing in with the certificate %s (x5t#S256 %s).", c->certificate_file,
                 jwt_credential_thumbprint(cred));
        *ret = TAKE_PTR(cred);
        return 0;
}

int client_credential_load(const Config *c, ClientCredential **ret) {
        _cleanup_(client_credential_freep) ClientCredential *cc = NULL;
        int r;

        if (c->ca_file) {
                _cleanup_close_ int fd = -EBADF;
                r = open_checked_file(c->ca_file, "CA bundle (CAFile=)", CHECKED_FILE_TRUST, &fd);
                if (r < 0)
                        return r;
        }
        cc = calloc(1, sizeof *cc);
        if (!cc)
                return log_oom();
        if (c->certificate_file)
                r = load_certificate(c, &cc->certificate);
        else
                r = load_secret(c, &cc->secret);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(cc);
        return 0;
}

ClientCredential *client_credential_free(ClientCredential *cc) {
        if (!cc)
                return NULL;
        erase_and_free(cc->secret);
        jwt_credential_free(cc->certificate);
        free(cc);
        return NULL;
}

bool client_credential_config_changed(const Config *a, const Config *b) {
        return !streq_ptr(a->client_secret_file, b->client_secret_file) ||
               !streq_ptr(a->certificate_file, b->certificate_file) ||
               !streq_ptr(a->private_key_file, b->private_key_file);
}

int client_credential_request_body(const ClientCredential *cc, const char *client_id, const char *token_url,
                                   const char *scope, char **ret) {
        _cleanup_erase_ char *assertion = NULL;
        int r;

        if (!cc->certificate)
                return token_request_body(client_id, cc->secret, scope, ret);
        /* aud is the exact URL the request goes to: the platform compares it verbatim. */
        r = jwt_credential_assertion(cc->certificate, client_id, token_url, &assertion);
        if (r < 0)
                return r;
        return token_request_body_assertion(client_id, assertion, scope, ret);
}
