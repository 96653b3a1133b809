/* SPDX-License-Identifier: MIT */
/*
 * credentials.c — which credential the application signs in with, and where its files are:
 * ClientSecretFile=, or CertificateFile= with PrivateKeyFile=, or a federated credential
 * (ClientAssertionFile=, ManagedIdentity=), or, when the configuration names none, the systemd
 * credentials client-secret, or client-certificate (with client-key) in $CREDENTIALS_DIRECTORY.
 * Exactly one may be in use. The files are checked for readability
 * only and never read here: token.c reads them when it needs them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "credentials.h"
#include "string-util.h"

#define CREDENTIAL_ORIGIN "credential " CREDENTIAL_CLIENT_SECRET

/* CertificateFile= is set: PrivateKeyFile= defaults to it (one PEM may hold both, in either
 * order), and both must be readable. As with the secret, only readability is checked here;
 * token.c parses them. */
static int finalize_certificate(const CredentialFiles *c, const char *source, char **ret_error) {
        if (!*c->private_key_file) {
                _cleanup_free_ char *k = strdup(*c->certificate_file), *o = NULL;

                if (!k || (*c->certificate_file_origin && !(o = strdup(*c->certificate_file_origin))))
                        return -ENOMEM;
                *c->private_key_file = TAKE_PTR(k);
                free(*c->private_key_file_origin);
                *c->private_key_file_origin = TAKE_PTR(o);
        }
        if (access(*c->certificate_file, R_OK) < 0)
                return set_error(ret_error, "%s: Cannot read CertificateFile=%s: %s.",
                                 *c->certificate_file_origin ?: source, *c->certificate_file, strerror(errno));
        if (access(*c->private_key_file, R_OK) < 0)
                return set_error(ret_error, "%s: Cannot read PrivateKeyFile=%s: %s.",
                                 *c->private_key_file_origin ?: source, *c->private_key_file, strerror(errno));
        return 0;
}

/* Neither ClientSecretFile= nor CertificateFile= is set, and the unit has credentials: a
 * client-certificate credential (with client-key, or the key in the same file) stands in for
 * CertificateFile=. Returns 1 when there is none, so that the caller reports the missing
 * secret as before. */
static int credentials_directory_certificate(const CredentialFiles *c, const char *creds, const char *sep) {
        _cleanup_free_ char *cert = NULL, *key = NULL, *cert_o = NULL, *key_o = NULL;

        cert = strprintf("%s%s" CREDENTIAL_CLIENT_CERTIFICATE, creds, sep);
        key = strprintf("%s%s" CREDENTIAL_CLIENT_KEY, creds, sep);
        if (!cert || !key)
                return -ENOMEM;
        if (access(cert, F_OK) < 0)
                return 1;
        if (access(key, F_OK) < 0) {
                free(key);
                key = strdup(cert);
                key_o = strdup("credential " CREDENTIAL_CLIENT_CERTIFICATE);
        } else
                key_o = strdup("credential " CREDENTIAL_CLIENT_KEY);
        cert_o = strdup("credential " CREDENTIAL_CLIENT_CERTIFICATE);
        if (!key || !key_o || !cert_o)
                return -ENOMEM;

        free(*c->certificate_file);
        *c->certificate_file = TAKE_PTR(cert);
        free(*c->certificate_file_origin);
        *c->certificate_file_origin = TAKE_PTR(cert_o);
        free(*c->private_key_file);
        *c->private_key_file = TAKE_PTR(key);
        free(*c->private_key_file_origin);
        *c->private_key_file_origin = TAKE_PTR(key_o);
        return 0;
}

/* A federated credential leaves nothing for a systemd credential to stand in for; one still
 * provided is a secret left behind by a migration, which the operator should know is unused. */
static int check_no_systemd_credential(const char *key, const char *source, char **ret_error) {
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        static const char *const names[] = { CREDENTIAL_CLIENT_SECRET, CREDENTIAL_CLIENT_CERTIFICATE };

        if (isempty(creds))
                return 0;
        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *p = strprintf("%s/%s", creds, names[i]);
                if (!p)
                        return -ENOMEM;
                if (access(p, F_OK) == 0)
                        return set_error(ret_error,
                                         "%s: both %s and the systemd credential %s are set; the application signs "
                                         "in with exactly one credential, remove one of them.",
                                         source, key, names[i]);
        }
        return 0;
}

int credentials_resolve(const CredentialFiles *c, const char *source, char **ret_error) {
        /* The app signs in with one credential. Accepting both and picking one would leave
         * the operator guessing which is in use when the other expires. */
        if (*c->private_key_file && !*c->certificate_file)
                return set_error(ret_error,
                                 "%s: PrivateKeyFile=%s is set but CertificateFile= is not; the key is "
                                 "only used together with its certificate.",
                                 *c->private_key_file_origin ?: source, *c->private_key_file);
        /* Every key that names a credential, in this order, so that the message for the two
         * classic ones reads as it always has. */
        struct {
                const char *key, *where;
        } set[4];
        size_t n = 0;
        if (*c->client_secret_file)
                set[n++] = (typeof(set[0])) { "ClientSecretFile=", *c->client_secret_file_origin ?: *c->client_secret_file };
        if (*c->certificate_file)
                set[n++] = (typeof(set[0])) { "CertificateFile=", *c->certificate_file_origin ?: *c->certificate_file };
        if (*c->client_assertion_file)
                set[n++] = (typeof(set[0])) { "ClientAssertionFile=",
                                              *c->client_assertion_file_origin ?: *c->client_assertion_file };
        if (c->managed_identity)
                set[n++] = (typeof(set[0])) { "ManagedIdentity=", c->managed_identity_origin ?: c->managed_identity };
        if (n == 2)
                return set_error(ret_error,
                                 "%s: both %s (%s) and %s (%s) are set; the application signs in with exactly "
                                 "one credential, remove one of them.",
                                 source, set[0].key, set[0].where, set[1].key, set[1].where);
        if (n > 2) {
                _cleanup_free_ char *list = NULL;
                for (size_t i = 0; i < n; i++) {
                        char *l = strprintf("%s%s%s (%s)", strempty(list), i == 0 ? "" : i + 1 == n ? " and " : ", ",
                                            set[i].key, set[i].where);
                        if (!l)
                                return -ENOMEM;
                        free(list);
                        list = l;
                }
                return set_error(ret_error,
                                 "%s: %s are all set; the application signs in with exactly one credential, "
                                 "remove all but one of them.",
                                 source, list);
        }
        if (c->managed_identity_endpoint && !c->managed_identity)
                return set_error(ret_error,
                                 "%s: ManagedIdentityEndpoint=%s is set but ManagedIdentity= is not; the endpoint "
                                 "is only asked for a managed identity's token.",
                                 source, c->managed_identity_endpoint);
        if (c->managed_identity_source_set && !c->managed_identity)
                return set_error(ret_error,
                                 "%s: ManagedIdentitySource= is set but ManagedIdentity= is not.", source);
        if (*c->client_assertion_file || c->managed_identity)
                return check_no_systemd_credential(n == 1 ? set[0].key : "", source, ret_error);
        if (*c->certificate_file)
                return finalize_certificate(c, source, ret_error);

        if (!*c->client_secret_file) {
                const char *creds = getenv("CREDENTIALS_DIRECTORY");
                _cleanup_free_ char *p = NULL, *o = NULL;
                int r, secret_errno;

                if (isempty(creds))
                        return set_error(ret_error,
                                         "%s: no client credential: set ClientSecretFile= or CertificateFile=, or "
                                         "provide the credential " CREDENTIAL_CLIENT_SECRET " or "
                                         CREDENTIAL_CLIENT_CERTIFICATE ".",
                                         source);

                p = strprintf("%s%s" CREDENTIAL_CLIENT_SECRET, creds,
                              creds[strlen(creds) - 1] == '/' ? "" : "/");
                o = strdup(CREDENTIAL_ORIGIN);
                if (!p || !o)
                        return -ENOMEM;

                secret_errno = access(p, R_OK) < 0 ? errno : 0;
                r = credentials_directory_certificate(c, creds, creds[strlen(creds) - 1] == '/' ? "" : "/");
                if (r < 0)
                        return r;
                if (r == 0) {
                        if (secret_errno == 0)
                                return set_error(ret_error,
                                                 "%s: both credentials " CREDENTIAL_CLIENT_SECRET " and "
                                                 CREDENTIAL_CLIENT_CERTIFICATE " are provided; the application "
                                                 "signs in with exactly one, remove one of them.",
                                                 source);
                        return finalize_certificate(c, source, ret_error);
                }

                /* $CREDENTIALS_DIRECTORY is set whenever the unit has any credential, so a
                 * missing client-secret is reported as the missing secret it is. */
                if (secret_errno != 0)
                        return set_error(ret_error,
                                         "%s: no client credential: set ClientSecretFile= or CertificateFile=, or "
                                         "provide the credential " CREDENTIAL_CLIENT_SECRET " or "
                                         CREDENTIAL_CLIENT_CERTIFICATE " (cannot read %s: %s).",
                                         source, p, strerror(secret_errno));

                free(*c->client_secret_file);
                *c->client_secret_file = TAKE_PTR(p);
                free(*c->client_secret_file_origin);
                *c->client_secret_file_origin = TAKE_PTR(o);
                return 0;
        }

        /* Only readability is checked: the secret's contents are not config's business and are
         * never loaded here, but a typo in the path should stop the daemon at start-up rather
         * than at the first cancel. */
        if (access(*c->client_secret_file, R_OK) < 0)
                return set_error(ret_error, "%s: Cannot read ClientSecretFile=%s: %s.",
                                 *c->client_secret_file_origin ?: source, *c->client_secret_file,
                                 strerror(errno));

        return 0;
}
