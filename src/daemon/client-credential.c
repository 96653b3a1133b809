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

#include "assertion-file.h"
#include "client-credential.h"
#include "credential-file.h"
#include "identity.h"
#include "jwt.h"
#include "log.h"
#include "managed-identity.h"
#include "time-util.h"
#include "util.h"

#define CREDENTIAL_SECRET_MAX_BYTES 4096
#define CREDENTIAL_PEM_MAX_BYTES (64 * 1024) /* a certificate chain and a 4096-bit key fit easily */
#define CREDENTIAL_CERT_EXPIRY_WARN_SEC (7 * 24 * 3600)

struct ClientCredential {
        char *secret;               /* exactly one of these is set */
        JwtCredential *certificate;
        AssertionFile *assertion_file;
        ManagedIdentity *managed_identity;
};


/* The file rules are credential-file.c's; this says why, once per load. */
static int open_checked_file(const char *path, const char *what, CheckedFile kind, int *ret_fd) {
        _cleanup_free_ char *message = NULL;
        int r = credential_file_open(path, what, kind, ret_fd, &message);

        if (r < 0 && !message)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "%s", message);
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
        if (c->managed_identity) {
                r = managed_identity_new(c, &cc->managed_identity);
                if (r < 0)
                        return log_oom();
                log_info("Signing in with the %s%s managed identity as a federated credential, its token from %s "
                         "(%s%s).",
                         streq(c->managed_identity, "system") ? "system-assigned" : "user-assigned ",
                         streq(c->managed_identity, "system") ? "" : c->managed_identity,
                         managed_identity_url(cc->managed_identity),
                         managed_identity_get_source(cc->managed_identity) == MANAGED_IDENTITY_ARC
                                 ? "the Azure Arc agent"
                                 : "the Azure Instance Metadata Service",
                         streq_ptr(c->managed_identity_source, "auto") ? ", ManagedIdentitySource=auto" : "");
        } else if (c->client_assertion_file) {
                r = assertion_file_new(c->client_assertion_file, &cc->assertion_file);
                if (r < 0)
                        return log_oom();
                log_info("Signing in with the client assertion in %s (ClientAssertionFile=).", c->client_assertion_file);
        } else if (c->certificate_file)
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
        assertion_file_free(cc->assertion_file);
        managed_identity_free(cc->managed_identity);
        free(cc);
        return NULL;
}

bool client_credential_config_changed(const Config *a, const Config *b) {
        return !streq_ptr(a->client_secret_file, b->client_secret_file) ||
               !streq_ptr(a->certificate_file, b->certificate_file) ||
               !streq_ptr(a->private_key_file, b->private_key_file) ||
               !streq_ptr(a->client_assertion_file, b->client_assertion_file) ||
               !streq_ptr(a->managed_identity, b->managed_identity) ||
               !streq_ptr(a->managed_identity_source, b->managed_identity_source) ||
               !streq_ptr(a->managed_identity_endpoint, b->managed_identity_endpoint);
}

/* The file is read at most once per token request, and only when it changed or the copy held
 * is due: the daemon asks for a token once an hour or so, and after a Graph 401. */
static int assertion_file_body(ClientCredential *cc, const char *client_id, const char *scope, char **ret,
                               CredentialProblem *ret_problem) {
        _cleanup_free_ char *message = NULL;
        const char *assertion;
        int r;

        r = assertion_file_get(cc->assertion_file, now_usec(CLOCK_BOOTTIME), now_usec(CLOCK_REALTIME), &assertion,
                               &message);
        if (r == -ENOMEM || (r < 0 && !message))
                return -ENOMEM;
        if (r < 0) {
                *ret_problem = (CredentialProblem) {
                        .reason = "client_assertion_unavailable",
                        .message = TAKE_PTR(message),
                        .recheck = true,
                };
                return r;
        }
        return token_request_body_assertion(client_id, assertion, scope, ret);
}

int client_credential_request_body(ClientCredential *cc, const char *client_id, const char *token_url,
                                   const char *scope, char **ret, CredentialProblem *ret_problem) {
        _cleanup_erase_ char *assertion = NULL;
        int r;

        if (cc->assertion_file)
                return assertion_file_body(cc, client_id, scope, ret, ret_problem);
        if (cc->managed_identity) {
                const char *token = managed_identity_peek(cc->managed_identity);
                if (!token)
                        return -EAGAIN;
                return token_request_body_assertion(client_id, token, scope, ret);
        }
        if (!cc->certificate)
                return token_request_body(client_id, cc->secret, scope, ret);
        /* aud is the exact URL the request goes to: the platform compares it verbatim. */
        r = jwt_credential_assertion(cc->certificate, client_id, token_url, &assertion);
        if (r < 0)
                return r;
        return token_request_body_assertion(client_id, assertion, scope, ret);
}


int client_credential_wait(ClientCredential *cc, sd_event *event, CurlGlue *glue, credential_ready_t cb,
                           void *userdata, CredentialWaiter **ret) {
        if (!cc->managed_identity)
                return -EINVAL; /* nothing else is fetched */
        return managed_identity_wait(cc->managed_identity, event, glue, cb, userdata, ret);
}
