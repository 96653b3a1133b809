/* SPDX-License-Identifier: MIT */
/*
 * config.c — what mediacanceld.conf may say and what it means: the Config struct's defaults,
 * the keys, their types and ranges, and the checks that involve several keys. Every key is one
 * row of config_items[] (section, name, parser, field offset, range, default), so defaults,
 * "empty value resets", range checks and error wording are the same for every key and a new key
 * is one line. The INI syntax is ini.c's, the value syntax time-util.c's and parse-util.c's;
 * finding the files is config-files.c's, finding the credential credentials.c's. Besides the
 * NSS look-ups of [Access] names, nothing here touches the file system but config_finalize(),
 * through credentials_resolve().
 */
#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "config.h"
#include "credentials.h"
#include "ini.h"
#include "record.h"
#include "parse-util.h"
#include "string-util.h"
#include "validate.h"

/* Longest path that fits sockaddr_un.sun_path with its terminating NUL (107 on Linux). */
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *) 0)->sun_path) - 1)

static bool has_control_or_space(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || *s == 0x7f)
                        return true;
        return false;
}

/* ---- the key table ---- */

typedef struct ConfigItem ConfigItem;

/* Stores value in the field item->offset of c. value == NULL (only for keys without a default)
 * unsets the field. origin is "FILE:LINE", or NULL for defaults. On a bad value returns -EINVAL
 * and an allocated reason ("\"abc\" is not a time span") that the caller wraps into
 * "FILE:LINE: Invalid value for Key=: reason.". The field is written only on success. */
typedef int (*ConfigParser)(const ConfigItem *item, Config *c, const char *value, const char *origin,
                            char **ret_reason);

struct ConfigItem {
        const char *section;
        const char *key;
        ConfigParser parse;
        size_t offset;
        uint64_t min, max;   /* numbers: the range; strings: the length range (max 0: none) */
        const void *data;    /* parser specific: the allowed values of config_parse_choice() */
        const char *def;     /* the default in file syntax; NULL: unset */
};

#define FIELD(c, item, type) ((type *) ((char *) (c) + (item)->offset))

static int set_string(char **field, const char *value) {
        char *copy = NULL;

        if (value) {
                copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
        }
        free(*field);
        *field = copy;
        return 0;
}

/* TenantId and ClientId: a GUID or a domain name. Restricting the characters means the values
 * can be put into URLs and form bodies later without any escaping. */
static int config_parse_name(const ConfigItem *item, Config *c, const char *value, const char *origin,
                             char **ret_reason) {
        (void) origin;

        if (!value)
                return set_string(FIELD(c, item, char *), NULL);

        size_t n = strlen(value);
        if (n < item->min || n > item->max || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                           "abcdefghijklmnopqrstuvwxyz"
                                                           "0123456789.-") != n)
                return set_error(ret_reason,
                                 "\"%s\" is not a GUID or domain name (%" PRIu64 "-%" PRIu64
                                 " characters of A-Z, a-z, 0-9, \".\" and \"-\")",
                                 value, item->min, item->max);

        return set_string(FIELD(c, item, char *), value);
}

static int check_path(const ConfigItem *item, const char *value, char **ret_reason) {
        size_t max = item->max > 0 ? (size_t) item->max : PATH_MAX - 1;

        if (value[0] != '/')
                return set_error(ret_reason, "\"%s\" is not an absolute path", value);
        for (const char *p = value; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 0x7f)
                        return set_error(ret_reason, "the path contains control characters");
        if (strlen(value) > max)
                return set_error(ret_reason, "\"%s\" is longer than %zu bytes", value, max);
        return 0;
}

static int config_parse_path(const ConfigItem *item, Config *c, const char *value, const char *origin,
                             char **ret_reason) {
        int r;

        (void) origin;

        if (value) {
                r = check_path(item, value, ret_reason);
                if (r < 0)
                        return r;
        }
        return set_string(FIELD(c, item, char *), value);
}

bool id_list_contains(const IdList *l, uint32_t id) {
        for (size_t i = 0; i < l->n; i++)
                if (l->ids[i] == id)
                        return true;
        return false;
}

/* AllowUsers= and friends: space-separated names or numeric ids, resolved now so that a typo
 * is an error at start (or reload) rather than a silent denial later. Assignments add to the
 * list; an empty one clears it. item->data is "user" or "group". */
static int config_parse_ids(const ConfigItem *item, Config *c, const char *value, const char *origin,
                            char **ret_reason) {
        IdList *l = FIELD(c, item, IdList);
        bool users = streq(item->data, "user");
        _cleanup_free_ char *copy = NULL;
        char *save = NULL;

        (void) origin;
        if (!value) {
                l->ids = mfree(l->ids);
                l->n = 0;
                return 0;
        }
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
                char *end;
                unsigned long id;

                errno = 0;
                id = strtoul(w, &end, 10);
                if (*w >= '0' && *w <= '9') {
                        if (errno != 0 || *end != '\0' || id >= UINT32_MAX)
                                return set_error(ret_reason, "\"%s\" is not a valid %s id", w, (const char *) item->data);
                } else if (users) {
                        struct passwd pw, *res = NULL;
                        char buf[4096];
                        if (getpwnam_r(w, &pw, buf, sizeof buf, &res) != 0 || !res)
                                return set_error(ret_reason, "unknown user \"%s\"", w);
                        id = res->pw_uid;
                } else {
                        struct group gr, *res = NULL;
                        char buf[16384];
                        if (getgrnam_r(w, &gr, buf, sizeof buf, &res) != 0 || !res)
                                return set_error(ret_reason, "unknown group \"%s\"", w);
                        id = res->gr_gid;
                }
                if (id_list_contains(l, (uint32_t) id))
                        continue;
                uint32_t *n = realloc(l->ids, (l->n + 1) * sizeof(uint32_t));
                if (!n)
                        return -ENOMEM;
                n[l->n++] = (uint32_t) id;
                l->ids = n;
        }
        return 0;
}

/* Where each credential path was set. */
static char **credential_origin(Config *c, const ConfigItem *item) {
        if (item->offset == offsetof(Config, certificate_file))
                return &c->certificate_file_origin;
        if (item->offset == offsetof(Config, private_key_file))
                return &c->private_key_file_origin;
        if (item->offset == offsetof(Config, client_assertion_file))
                return &c->client_assertion_file_origin;
        return &c->client_secret_file_origin;
}

/* ClientSecretFile=, CertificateFile= and PrivateKeyFile= also remember where they were set,
 * so that config_finalize() and the code that later reads the file can point at the line to
 * fix. */
static int config_parse_secret_path(const ConfigItem *item, Config *c, const char *value,
                                    const char *origin, char **ret_reason) {
        _cleanup_free_ char *o = NULL;
        int r;

        if (value) {
                r = check_path(item, value, ret_reason);
                if (r < 0)
                        return r;
                if (origin) {
                        o = strdup(origin);
                        if (!o)
                                return -ENOMEM;
                }
        }

        r = set_string(FIELD(c, item, char *), value);
        if (r < 0)
                return r;

        char **origin_field = credential_origin(c, item);
        free(*origin_field);
        *origin_field = TAKE_PTR(o);
        return 0;
}

/* ManagedIdentity=: "system" for the host's system-assigned identity, or the client ID (a GUID)
 * of a user-assigned one, which goes into the endpoint's query as it is. */
static int config_parse_managed_identity(const ConfigItem *item, Config *c, const char *value,
                                         const char *origin, char **ret_reason) {
        _cleanup_free_ char *o = NULL;
        int r;

        if (value && !streq(value, "system") && !guid_is_valid(value))
                return set_error(ret_reason,
                                 "\"%s\" is neither \"system\" nor a user-assigned identity's client ID (a GUID)",
                                 value);
        if (value && origin && !(o = strdup(origin)))
                return -ENOMEM;
        r = set_string(FIELD(c, item, char *), value);
        if (r < 0)
                return r;
        free(c->managed_identity_origin);
        c->managed_identity_origin = TAKE_PTR(o);
        return 0;
}

/* What every URL key checks: no user information (first, and without echoing the value: it
 * may hold a password), no whitespace or control characters, the scheme (any case), no query or
 * fragment, and a host of the URL alphabet. On success *ret_host points just after the scheme
 * and *ret_host_len is the host's length (with any port). */
static int check_url(const char *value, const char *scheme, const char *why_scheme, const char **ret_host,
                     size_t *ret_host_len, char **ret_reason) {
        size_t scheme_len = strlen(scheme);

        if (strchr(value, '@'))
                return set_error(ret_reason, "URLs with user information (user@host) are not supported");
        if (has_control_or_space(value))
                return set_error(ret_reason, "the URL contains whitespace or control characters");
        if (strncasecmp(value, scheme, scheme_len) != 0)
                return set_error(ret_reason, "\"%s\" must be an %s URL%s", value, scheme, why_scheme);
        if (strpbrk(value, "?#"))
                return set_error(ret_reason, "\"%s\" must not contain a query or fragment", value);

        const char *host = value + scheme_len;
        size_t host_len = strcspn(host, "/");
        if (host_len == 0)
                return set_error(ret_reason, "\"%s\" has no host", value);
        if (strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_:[]") < host_len)
                return set_error(ret_reason, "\"%s\" has an invalid host", value);
        *ret_host = host;
        *ret_host_len = host_len;
        return 0;
}

/* ManagedIdentityEndpoint=: the managed identity endpoints speak plain HTTP on this host or on
 * the link-local metadata address. The scheme and shape are checked here; where it may lead is
 * checked by http.c on the address it connects to (HttpOptions.plain_local_only), which a name
 * cannot get around. */
static int config_parse_local_url(const ConfigItem *item, Config *c, const char *value, const char *origin,
                                  char **ret_reason) {
        const char *host;
        size_t host_len;
        int r;

        (void) origin;

        if (!value)
                return set_string(FIELD(c, item, char *), NULL);
        r = check_url(value, "http://",
                      " (the managed identity endpoints are plain HTTP on this host or at the link-local metadata "
                      "address)",
                      &host, &host_len, ret_reason);
        if (r < 0)
                return r;
        if (host[host_len] != '/' || host[host_len + 1] == '\0')
                return set_error(ret_reason,
                                 "\"%s\" has no path; give the whole token URL, such as "
                                 "http://169.254.169.254/metadata/identity/oauth2/token",
                                 value);
        char *u = strprintf("http://%s", host);
        if (!u)
                return -ENOMEM;
        char **field = FIELD(c, item, char *);
        free(*field);
        *field = u;
        return 0;
}

/* https:// only: the endpoints receive the client secret and bearer tokens. The result has no
 * trailing slash so that callers can append "/path" without doubling it. */
static int config_parse_url(const ConfigItem *item, Config *c, const char *value, const char *origin,
                            char **ret_reason) {
        const char *host;
        size_t host_len;
        int r;

        (void) origin;

        if (!value)
                return set_string(FIELD(c, item, char *), NULL);
        r = check_url(value, "https://", "", &host, &host_len, ret_reason);
        if (r < 0)
                return r;

        /* Normalize the scheme's case and drop trailing slashes. */
        size_t len = strlen(host);
        while (len > host_len && host[len - 1] == '/')
                len--;

        char *s = strprintf("https://%.*s", (int) len, host);
        if (!s)
                return -ENOMEM;

        char **field = FIELD(c, item, char *);
        free(*field);
        *field = s;
        return 0;
}

/* Whether host (len bytes, from a URL) is this machine: 127.0.0.0/8 as a dotted quad, [::1] or
 * localhost. Only the literal forms: a name other than localhost would need a resolver, and
 * the resolver's answer can change after the check. */
static bool host_is_loopback(const char *host, size_t len) {
        char buf[16];
        unsigned o[4];
        int n = 0;

        if ((len == 9 && strncasecmp(host, "localhost", 9) == 0) || (len == 5 && strncmp(host, "[::1]", 5) == 0))
                return true;
        if (len >= sizeof buf || strspn(host, "0123456789.") < len)
                return false;
        memcpy(buf, host, len);
        buf[len] = '\0';
        /* Any 127.x.y.z is loopback, however the last three are read (a resolver may take a
         * leading 0 as octal); a first part of "0177" is refused rather than guessed at. */
        return sscanf(buf, "%u.%u.%u.%u%n", &o[0], &o[1], &o[2], &o[3], &n) == 4 && (size_t) n == len &&
               o[0] == 127 && o[1] <= 255 && o[2] <= 255 && o[3] <= 255;
}

/* Proxy=: every request the daemon makes goes through this proxy, login and Graph alike, in a
 * CONNECT tunnel, so TLS to the endpoints stays end to end. https:// anywhere; http:// only on
 * this host: a cleartext hop over the network shows the endpoints named in CONNECT to anyone on
 * the path, who can also answer in the proxy's place. No user information (a password does not
 * belong in this file), no path, query or fragment (a proxy URL has none). The result has no
 * trailing slash. */
static int config_parse_proxy(const ConfigItem *item, Config *c, const char *value, const char *origin,
                              char **ret_reason) {
        static const char https[] = "https://", http[] = "http://";
        size_t scheme_len;

        (void) origin;

        if (!value)
                return set_string(FIELD(c, item, char *), NULL);

        /* Checked first and without echoing the value: user information may hold a password. */
        if (strchr(value, '@'))
                return set_error(ret_reason, "proxy URLs with user information (user@host) are not supported");
        if (has_control_or_space(value))
                return set_error(ret_reason, "the URL contains whitespace or control characters");
        if (strncasecmp(value, https, strlen(https)) == 0)
                scheme_len = strlen(https);
        else if (strncasecmp(value, http, strlen(http)) == 0)
                scheme_len = strlen(http);
        else
                return set_error(ret_reason, "\"%s\" must be an https:// URL, or http:// to a proxy on this host",
                                 value);

        const char *host = value + scheme_len;
        size_t len = strlen(host);
        if (len > 0 && host[len - 1] == '/')
                len--;
        if (memchr(host, '/', len) || strpbrk(host, "?#"))
                return set_error(ret_reason, "\"%s\" must not have a path, query or fragment", value);
        /* The host, then :port. */
        size_t host_len = len;
        const char *colon = NULL;
        if (host[0] == '[') {
                const char *close = memchr(host, ']', len);
                if (!close)
                        return set_error(ret_reason, "\"%s\" has an invalid host", value);
                host_len = (size_t) (close - host) + 1;
                if (host_len < len) {
                        if (host[host_len] != ':')
                                return set_error(ret_reason, "\"%s\" has an invalid host", value);
                        colon = host + host_len;
                }
        } else if ((colon = memchr(host, ':', len)))
                host_len = (size_t) (colon - host);
        if (host_len == 0 || strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_:[]") <
                                     host_len)
                return set_error(ret_reason, "\"%s\" has an invalid host", value);
        if (colon) {
                const char *port = colon + 1;
                size_t port_len = len - (size_t) (port - host);
                unsigned long v = 0;
                bool ok = port_len > 0 && port_len <= 5;
                for (size_t i = 0; ok && i < port_len; i++) {
                        ok = ascii_isdigit(port[i]);
                        v = v * 10 + (unsigned long) (port[i] - '0');
                }
                if (!ok || v == 0 || v > 65535)
                        return set_error(ret_reason, "\"%s\" has an invalid port", value);
        }
        if (scheme_len == strlen(http) && !host_is_loopback(host, host_len))
                return set_error(ret_reason,
                                 "\"%s\": an http:// proxy must be on this host (127.0.0.0/8, [::1] or "
                                 "localhost), since the way to it is not encrypted; use an https:// URL "
                                 "for a proxy elsewhere",
                                 value);

        char *r = strprintf("%s%.*s", scheme_len == strlen(https) ? https : http, (int) len, host);
        if (!r)
                return -ENOMEM;
        char **field = FIELD(c, item, char *);
        free(*field);
        *field = r;
        return 0;
}

/* NoProxy=: hosts that the daemon reaches directly although Proxy= is set, in libcurl's
 * CURLOPT_NOPROXY syntax: names (a name also matches its subdomains), IP addresses or CIDR
 * ranges, separated by commas or spaces, or "*" for all. Only those characters, so nothing
 * else can reach curl. */
static int config_parse_host_list(const ConfigItem *item, Config *c, const char *value, const char *origin,
                                  char **ret_reason) {
        (void) origin;

        if (value && strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_:[]/*, ") !=
                             strlen(value))
                return set_error(ret_reason,
                                 "\"%s\" is not a list of host names, IP addresses or CIDR ranges separated by "
                                 "commas",
                                 value);
        return set_string(FIELD(c, item, char *), value);
}

static char **strv_free(char **l) {
        for (char **p = l; p && *p; p++)
                free(*p);
        free(l);
        return NULL;
}

/* Issuers=: space-separated https:// URLs, compared verbatim with a token's iss (so no
 * normalisation: "https://api.botframework.com" and ".../" are different issuers). A value
 * replaces the list; an empty one puts back the cloud's default. */
static int config_parse_issuers(const ConfigItem *item, Config *c, const char *value, const char *origin,
                                char **ret_reason) {
        char ***field = FIELD(c, item, char **);
        _cleanup_free_ char *copy = NULL;
        char **l = NULL, *save = NULL;
        size_t n = 0;

        (void) origin;
        if (!value) {
                *field = strv_free(*field);
                return 0;
        }
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (strncmp(w, "https://", 8) != 0 || w[8] == '\0' || strlen(w) > item->max ||
                    has_control_or_space(w)) {
                        strv_free(l);
                        return set_error(ret_reason, "\"%s\" is not an https:// issuer of at most %" PRIu64 " characters", w,
                                         item->max);
                }
                if (n >= 16) {
                        strv_free(l);
                        return set_error(ret_reason, "more than 16 issuers");
                }
                char **nl = realloc(l, (n + 2) * sizeof(char *));
                if (!nl) {
                        strv_free(l);
                        return -ENOMEM;
                }
                l = nl;
                l[n] = strdup(w);
                l[n + 1] = NULL;
                if (!l[n]) {
                        strv_free(l);
                        return -ENOMEM;
                }
                n++;
        }
        if (n == 0) {
                strv_free(l);
                return set_error(ret_reason, "no issuer given");
        }
        strv_free(*field);
        *field = l;
        return 0;
}

/* Issuers= when set, else the cloud's (cloud.c); NULL when neither says (config_finalize()
 * refuses that with Authentication=jwt). */
const char *const *config_notification_issuers(const Config *c) {
        if (c->notification_issuers)
                return (const char *const *) c->notification_issuers;
        return c->cloud_info ? c->cloud_info->notification_issuers : NULL;
}

bool config_notifications_need_token(const Config *c) {
        return !streq_ptr(c->notification_authentication, "peer");
}

/* One of a fixed list of strings (item->data, NULL-terminated). */
static int config_parse_choice(const ConfigItem *item, Config *c, const char *value, const char *origin,
                               char **ret_reason) {
        const char *const *choices = item->data;

        (void) origin;

        if (!value)
                return set_string(FIELD(c, item, char *), NULL);

        for (size_t i = 0; choices[i]; i++)
                if (streq(value, choices[i]))
                        return set_string(FIELD(c, item, char *), value);

        /* List what is allowed: the user should not need the documentation to fix the line. */
        size_t total = 1;
        for (size_t i = 0; choices[i]; i++)
                total += strlen(choices[i]) + 4;
        _cleanup_free_ char *list = malloc(total);
        if (!list)
                return -ENOMEM;
        list[0] = '\0';
        for (size_t i = 0; choices[i]; i++) {
                if (i > 0)
                        strcat(list, choices[i + 1] ? ", " : " or ");
                strcat(list, choices[i]);
        }

        return set_error(ret_reason, "\"%s\" is not one of %s", value, list);
}

static int parse_timespan_item(const ConfigItem *item, Config *c, const char *value, uint64_t unit,
                               char **ret_reason) {
        uint64_t v;
        int r;

        assert(value); /* every time span has a default */

        r = parse_timespan(value, unit, &v);
        if (r == -EINVAL)
                return set_error(ret_reason, "\"%s\" is not a time span", value);
        if (r < 0 || v < item->min || v > item->max) {
                char a[32], b[32];

                format_timespan(a, sizeof a, item->min);
                format_timespan(b, sizeof b, item->max);
                return set_error(ret_reason, "\"%s\" is out of range %s..%s", value, a, b);
        }

        *FIELD(c, item, uint64_t) = v;
        return 0;
}

static int config_parse_sec(const ConfigItem *item, Config *c, const char *value, const char *origin,
                            char **ret_reason) {
        (void) origin;
        return parse_timespan_item(item, c, value, USEC_PER_SEC, ret_reason);
}

/* The *Ms keys: a bare number is milliseconds, as the key name says. */
static int config_parse_msec(const ConfigItem *item, Config *c, const char *value, const char *origin,
                             char **ret_reason) {
        (void) origin;
        return parse_timespan_item(item, c, value, USEC_PER_MSEC, ret_reason);
}

static int config_parse_unsigned(const ConfigItem *item, Config *c, const char *value, const char *origin,
                                 char **ret_reason) {
        uint64_t v;
        int r;

        (void) origin;
        assert(value);

        r = parse_uint64(value, &v);
        if (r == -EINVAL)
                return set_error(ret_reason, "\"%s\" is not an unsigned integer", value);
        if (r < 0 || v < item->min || v > item->max)
                return set_error(ret_reason, "\"%s\" is out of range %" PRIu64 "..%" PRIu64, value,
                                 item->min, item->max);

        *FIELD(c, item, unsigned) = (unsigned) v;
        return 0;
}

static int config_parse_size(const ConfigItem *item, Config *c, const char *value, const char *origin,
                             char **ret_reason) {
        size_t v;
        int r;

        (void) origin;
        assert(value);

        r = parse_size(value, &v);
        if (r == -EINVAL)
                return set_error(ret_reason, "\"%s\" is not a size", value);
        if (r < 0 || v < item->min || v > item->max) {
                char a[32], b[32];

                format_size(a, sizeof a, item->min);
                format_size(b, sizeof b, item->max);
                return set_error(ret_reason, "\"%s\" is out of range %s..%s", value, a, b);
        }

        *FIELD(c, item, size_t) = v;
        return 0;
}

/* Cloud=: one of cloud.c's table. */
static int config_parse_cloud(const ConfigItem *item, Config *c, const char *value, const char *origin,
                              char **ret_reason) {
        (void) origin;

        if (value && !cloud_find(value)) {
                _cleanup_free_ char *list = NULL;
                const CloudInfo *ci;

                for (size_t i = 0; (ci = cloud_at(i)); i++) {
                        char *n = strprintf("%s%s%s", strempty(list), !list ? "" : cloud_at(i + 1) ? ", " : " or ",
                                            ci->name);
                        if (!n)
                                return -ENOMEM;
                        free(list);
                        list = n;
                }
                return set_error(ret_reason, "\"%s\" is not one of %s", value, strempty(list));
        }
        /* Valid from here on, also in a Config that config_finalize() never sees. */
        c->cloud_info = cloud_find(value);
        return set_string(FIELD(c, item, char *), value);
}

/* Scope=: the client-credentials scope, which the identity platform takes only as one resource
 * followed by "/.default". Printable ASCII without spaces, so it needs no care in logs. */
static int config_parse_scope(const ConfigItem *item, Config *c, const char *value, const char *origin,
                              char **ret_reason) {
        static const char suffix[] = "/.default";
        size_t n;

        (void) origin;

        if (!value)
                return set_string(FIELD(c, item, char *), NULL);
        if (has_control_or_space(value))
                return set_error(ret_reason, "the scope contains whitespace or control characters");
        n = strlen(value);
        if (n > item->max || n <= strlen(suffix) || strcmp(value + n - strlen(suffix), suffix) != 0)
                return set_error(ret_reason,
                                 "\"%s\" is not a resource followed by \"/.default\" (at most %" PRIu64 " characters)",
                                 value, item->max);
        return set_string(FIELD(c, item, char *), value);
}

char *tenant_name_normalize(const char *name) {
        char *s = strdup(name);

        if (s)
                for (char *p = s; *p; p++)
                        if (*p >= 'A' && *p <= 'Z')
                                *p = (char) (*p - 'A' + 'a');
        return s;
}

/* AllowedTenants=: space-separated tenants, each a GUID or domain name as TenantId= takes it,
 * or "*" for any. Assignments add to the list; an empty one clears it. */
static int config_parse_tenants(const ConfigItem *item, Config *c, const char *value, const char *origin,
                                char **ret_reason) {
        _cleanup_free_ char *copy = NULL;
        char *save = NULL;

        (void) item;
        (void) origin;
        if (!value) {
                for (size_t i = 0; i < c->n_allowed_tenants; i++)
                        free(c->allowed_tenants[i]);
                c->allowed_tenants = mfree(c->allowed_tenants);
                c->n_allowed_tenants = 0;
                c->allow_any_tenant = false;
                return 0;
        }
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (streq(w, "*")) {
                        c->allow_any_tenant = true;
                        continue;
                }
                if (!tenant_id_is_valid(w))
                        return set_error(ret_reason,
                                         "\"%s\" is not \"*\" or a GUID or domain name (1-%d characters of A-Z, a-z, "
                                         "0-9, \".\" and \"-\")",
                                         w, TENANT_ID_MAX);
                _cleanup_free_ char *t = tenant_name_normalize(w);
                if (!t)
                        return -ENOMEM;
                bool seen = false;
                for (size_t i = 0; i < c->n_allowed_tenants && !seen; i++)
                        seen = streq(c->allowed_tenants[i], t);
                if (seen)
                        continue;
                char **n = realloc(c->allowed_tenants, (c->n_allowed_tenants + 1) * sizeof(char *));
                if (!n)
                        return -ENOMEM;
                c->allowed_tenants = n;
                n[c->n_allowed_tenants++] = TAKE_PTR(t);
        }
        return 0;
}

#define CALLS_PATH_COMMUNICATIONS "/communications/calls"
#define CALLS_PATH_APP "/app/calls"
#define CALLS_PATH_APPLICATIONS "/applications/{appId}/calls"

static const char *const notification_authentications[] = { "jwt", "peer", NULL };
static const char *const api_versions[] = { "v1.0", "beta", NULL };
static const char *const managed_identity_sources[] = { "auto", "imds", "arc", NULL };
static const char *const calls_paths[] = {
        CALLS_PATH_COMMUNICATIONS,
        CALLS_PATH_APP,
        CALLS_PATH_APPLICATIONS,
        NULL,
};

#define SEC(n) ((uint64_t) (n) * USEC_PER_SEC)
#define MSEC(n) ((uint64_t) (n) * USEC_PER_MSEC)
#define KIB(n) ((uint64_t) (n) << 10)
#define MIB(n) ((uint64_t) (n) << 20)
#define GIB(n) ((uint64_t) (n) << 30)

#define ITEM(sec, name, parser, field, lo, hi, dflt) \
        { sec, name, parser, offsetof(Config, field), lo, hi, NULL, dflt }
#define ITEM_CHOICE(sec, name, field, choices, dflt) \
        { sec, name, config_parse_choice, offsetof(Config, field), 0, 0, choices, dflt }

/* clang-format off */
static const ConfigItem config_items[] = {
        ITEM("Identity", "TenantId",          config_parse_name,        tenant_id,          1, 64, NULL),
        ITEM("Identity", "ClientId",          config_parse_name,        client_id,          1, 64, NULL),
        ITEM("Identity", "ClientSecretFile",  config_parse_secret_path, client_secret_file, 0, 0, NULL),
        ITEM("Identity", "CertificateFile",   config_parse_secret_path, certificate_file,   0, 0, NULL),
        ITEM("Identity", "PrivateKeyFile",    config_parse_secret_path, private_key_file,   0, 0, NULL),
        ITEM("Identity", "ClientAssertionFile", config_parse_secret_path, client_assertion_file, 0, 0, NULL),
        ITEM("Identity", "ManagedIdentity",   config_parse_managed_identity, managed_identity, 0, 0, NULL),
        ITEM_CHOICE("Identity", "ManagedIdentitySource", managed_identity_source, managed_identity_sources, "auto"),
        ITEM("Identity", "ManagedIdentityEndpoint", config_parse_local_url, managed_identity_endpoint, 0, 0, NULL),
        ITEM("Identity", "Cloud",             config_parse_cloud,       cloud,              0, 0, "Global"),
        /* Unset: the cloud's (config_finalize()). */
        ITEM("Identity", "LoginEndpoint",     config_parse_url,         login_endpoint,     0, 0, NULL),
        ITEM("Identity", "Scope",             config_parse_scope,       scope,              0, 512, NULL),
        { "Identity", "AllowedTenants", config_parse_tenants, 0, 0, 0, NULL, NULL },
        ITEM("Identity", "TenantIdleSec",     config_parse_sec,         tenant_idle_usec,   SEC(1), SEC(7 * 24 * 3600), "1h"),
        ITEM("Identity", "MaxTenants",        config_parse_unsigned,    max_tenants,        1, 1000000, "1000"),

        ITEM("Graph", "Endpoint",             config_parse_url,         graph_endpoint,       0, 0, NULL),
        ITEM_CHOICE("Graph", "ApiVersion",    api_version,          api_versions, "v1.0"),
        ITEM_CHOICE("Graph", "CallsPath",     calls_path,           calls_paths,  CALLS_PATH_COMMUNICATIONS),
        ITEM("Graph", "CAFile",               config_parse_path,        ca_file,              0, 0, NULL),
        ITEM("Graph", "Proxy",                config_parse_proxy,       proxy,                0, 0, NULL),
        ITEM("Graph", "NoProxy",              config_parse_host_list,   no_proxy,             0, 0, NULL),
        ITEM("Graph", "RequestTimeoutSec",    config_parse_sec,         request_timeout_usec, SEC(1), SEC(3600), "30s"),
        ITEM("Graph", "ConnectTimeoutSec",    config_parse_sec,         connect_timeout_usec, SEC(1), SEC(3600), "10s"),
        ITEM("Graph", "AttemptTimeoutSec",    config_parse_sec,         attempt_timeout_usec, SEC(1), SEC(3600), "10s"),
        ITEM("Graph", "MaxAttempts",          config_parse_unsigned,    max_attempts,         1, 100, "5"),
        ITEM("Graph", "RetryBaseMs",          config_parse_msec,        retry_base_usec,      MSEC(1), SEC(60), "200"),
        ITEM("Graph", "RetryMaxMs",           config_parse_msec,        retry_max_usec,       MSEC(1), SEC(3600), "10000"),
        ITEM("Graph", "MaxInFlight",          config_parse_unsigned,    max_in_flight,        1, 65536, "256"),
        ITEM("Graph", "MaxQueued",            config_parse_unsigned,    max_queued,           0, 10000000, "10000"),
        ITEM("Graph", "MaxRequestsPerSecond", config_parse_unsigned,    max_requests_per_second, 0, 100000, "0"),
        ITEM("Graph", "StallTimeoutSec",      config_parse_sec,         stall_timeout_usec,   SEC(1), SEC(3600), "10s"),

        ITEM("Socket", "Path",                config_parse_path,        socket_path,                  0, SOCKET_PATH_MAX, CONFIG_DEFAULT_SOCKET_PATH),
        ITEM("Socket", "MaxRequestBytes",     config_parse_size,        max_request_bytes,            256, MIB(64), "1M"),
        ITEM("Socket", "MaxBatchItems",       config_parse_unsigned,    max_batch_items,              1, 65536, "64"),
        ITEM("Socket", "MaxValuesPerLine",    config_parse_unsigned,    max_values_per_line,          16, 10000000, "65536"),
        ITEM("Socket", "MaxConnections",      config_parse_unsigned,    max_connections,              1, 65536, "256"),
        ITEM("Socket", "MaxConnectionsPerUser", config_parse_unsigned,  max_connections_per_user,     1, 65536, "32"),
        ITEM("Socket", "MaxInFlightPerConnection", config_parse_unsigned, max_in_flight_per_connection, 1, 65536, "64"),
        ITEM("Socket", "IdleTimeoutSec",      config_parse_sec,         idle_timeout_usec,            SEC(1), SEC(3600), "30s"),
        ITEM("Socket", "MaxOutputBytes",      config_parse_size,        max_output_bytes,             KIB(64), GIB(1), "8M"),

        ITEM("Operations", "CompletionTimeoutSec", config_parse_sec,    completion_timeout_usec, SEC(1), SEC(3600), "30s"),
        ITEM("Operations", "RetentionSec",    config_parse_sec,         retention_usec,          SEC(1), SEC(7 * 24 * 3600), "3600s"),
        ITEM("Operations", "MaxOperations",   config_parse_unsigned,    max_operations,          1, 10000000, "100000"),
        ITEM("Operations", "StateDirectory",  config_parse_path,        state_directory,         0, 0, NULL),
        ITEM("Operations", "PollIntervalSec", config_parse_sec,         poll_interval_usec,      0, SEC(3600), "0"),
        ITEM("Operations", "JournalSyncDelaySec", config_parse_sec,     journal_sync_delay_usec, 0, SEC(1), "1ms"),
        ITEM("Operations", "MaxCancelledOperations", config_parse_unsigned, max_cancelled_operations, 0, RECORD_CANCELLED_MAX, "64"),

        { "Access", "AllowUsers",   config_parse_ids, offsetof(Config, allow_users),   0, 0, "user",  NULL },
        { "Access", "AllowGroups",  config_parse_ids, offsetof(Config, allow_groups),  0, 0, "group", NULL },
        { "Access", "NotifyUsers",  config_parse_ids, offsetof(Config, notify_users),  0, 0, "user",  NULL },
        { "Access", "NotifyGroups", config_parse_ids, offsetof(Config, notify_groups), 0, 0, "group", NULL },
        { "Access", "AdminUsers",   config_parse_ids, offsetof(Config, admin_users),   0, 0, "user",  NULL },
        { "Access", "AdminGroups",  config_parse_ids, offsetof(Config, admin_groups),  0, 0, "group", NULL },
        ITEM("Access", "MaxPendingPerUser", config_parse_unsigned, max_pending_per_user, 1, 10000000, "10000"),

        ITEM_CHOICE("Notifications", "Authentication", notification_authentication, notification_authentications, "jwt"),
        ITEM("Notifications", "Issuers",      config_parse_issuers,     notification_issuers,     0, 256, NULL),
        /* Unset: the cloud's (config_finalize()). */
        ITEM("Notifications", "OpenIdConfigurationUrl", config_parse_url, openid_configuration_url, 0, 0, NULL),
        ITEM("Notifications", "KeysRefreshSec", config_parse_sec,       keys_refresh_usec,        SEC(60), SEC(7 * 24 * 3600), "2h"),
        ITEM("Notifications", "UnknownKeyRefreshSec", config_parse_sec, unknown_key_refresh_usec, SEC(1), SEC(24 * 3600), "5min"),
        ITEM("Notifications", "KeysMaxAgeSec", config_parse_sec,        keys_max_age_usec,        SEC(3600), SEC(30 * 24 * 3600), "5d"),
        ITEM("Notifications", "KeysWaitSec",  config_parse_sec,         keys_wait_usec,           0, SEC(300), "10s"),
        ITEM("Notifications", "ClockSkewSec", config_parse_sec,         clock_skew_usec,          0, SEC(3600), "300s"),
};
/* clang-format on */

static const ConfigItem *config_item_find(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (streq(config_items[i].section, section) && streq(config_items[i].key, key))
                        return config_items + i;
        return NULL;
}

/* Returns the table's own copy of the name, so the parser can keep a pointer to it. */
static const char *config_section_find(const char *name, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (strlen(config_items[i].section) == len && strncmp(config_items[i].section, name, len) == 0)
                        return config_items[i].section;
        return NULL;
}

static int config_item_reset(const ConfigItem *item, Config *c) {
        _cleanup_free_ char *why = NULL;
        int r;

        r = item->parse(item, c, item->def, NULL, &why);
        /* A default that does not parse is a bug in the table, not a user error. */
        assert(r != -EINVAL);
        return r;
}

/* ---- public API ---- */

int config_new(Config **ret) {
        _cleanup_(config_freep) Config *c = NULL;
        int r;

        c = calloc(1, sizeof(Config));
        if (!c)
                return -ENOMEM;

        for (size_t i = 0; i < ELEMENTSOF(config_items); i++) {
                r = config_item_reset(config_items + i, c);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;

        free(c->source);
        free(c->tenant_id);
        free(c->client_id);
        free(c->client_secret_file);
        free(c->client_secret_file_origin);
        free(c->certificate_file);
        free(c->certificate_file_origin);
        free(c->private_key_file);
        free(c->private_key_file_origin);
        free(c->client_assertion_file);
        free(c->client_assertion_file_origin);
        free(c->managed_identity);
        free(c->managed_identity_origin);
        free(c->managed_identity_source);
        free(c->managed_identity_endpoint);
        free(c->login_endpoint);
        free(c->cloud);
        free(c->scope);
        for (size_t i = 0; i < c->n_allowed_tenants; i++)
                free(c->allowed_tenants[i]);
        free(c->allowed_tenants);
        free(c->graph_endpoint);
        free(c->api_version);
        free(c->calls_path);
        free(c->ca_file);
        free(c->proxy);
        free(c->no_proxy);
        free(c->socket_path);
        free(c->state_directory);
        free(c->allow_users.ids);
        free(c->allow_groups.ids);
        free(c->notify_users.ids);
        free(c->notify_groups.ids);
        free(c->admin_users.ids);
        free(c->admin_groups.ids);
        free(c->notification_authentication);
        strv_free(c->notification_issuers);
        free(c->openid_configuration_url);
        free(c);
        return NULL;
}

/* One Key=Value line of section (the table's name of it, NULL before any header). */
static int config_parse_assignment(Config *c, const char *filename, const char *section, const IniLine *l,
                                   char **ret_error) {
        _cleanup_free_ char *key = NULL, *value = NULL, *origin = NULL, *why = NULL;
        const ConfigItem *item;
        unsigned line = l->number;
        int r;

        key = strndup(l->name, l->name_len);
        if (!key)
                return -ENOMEM;

        if (!section)
                return set_error(ret_error, "%s:%u: %s= appears before any [Section] header.", filename,
                                 line, key);

        /* The secret itself never belongs in a configuration file, which is usually world
         * readable and ends up in backups and bug reports. The value is deliberately not copied
         * and not quoted back. */
        if (streq(section, "Identity") && streq(key, "ClientSecret"))
                return set_error(ret_error,
                                 "%s:%u: ClientSecret= is not supported: do not put the client secret "
                                 "in the configuration file. Store it in a file only the service can "
                                 "read (or the systemd credential \"" CREDENTIAL_CLIENT_SECRET "\") "
                                 "and set ClientSecretFile= to its path.",
                                 filename, line);

        item = config_item_find(section, key);
        if (!item)
                return set_error(ret_error, "%s:%u: Unknown key \"%s\" in section [%s].", filename, line,
                                 key, section);

        /* An empty value puts the key back to its default, so a drop-in can undo the main file. */
        if (l->value_len == 0)
                return config_item_reset(item, c);

        value = strndup(l->value, l->value_len);
        origin = strprintf("%s:%u", filename, line);
        if (!value || !origin)
                return -ENOMEM;

        r = item->parse(item, c, value, origin, &why);
        if (r == -EINVAL)
                return set_error(ret_error, "%s:%u: Invalid value for %s=: %s.", filename, line, key,
                                 strempty(why));
        return r;
}

int config_parse_text(Config *c, const char *filename, const char *text, size_t len, char **ret_error) {
        const char *section = NULL;
        IniReader reader;
        IniLine l;
        int r;

        if (!c || !filename || (!text && len > 0))
                return -EINVAL;
        if (len == 0)
                return 0;

        ini_reader_init(&reader, text, len);
        while ((r = ini_reader_next(&reader, &l)) > 0) {
                if (l.type == INI_SECTION) {
                        section = config_section_find(l.name, l.name_len);
                        if (!section)
                                return set_error(ret_error, "%s:%u: Unknown section [%.*s].", filename,
                                                 l.number, (int) l.name_len, l.name);
                        continue;
                }

                r = config_parse_assignment(c, filename, section, &l, ret_error);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return set_error(ret_error, "%s:%u: %s", filename, reader.line,
                                 ini_syntax_error_to_string(reader.error));

        return 0;
}

static bool is_legacy_calls_path(const char *p) {
        return streq_ptr(p, CALLS_PATH_APP) || streq_ptr(p, CALLS_PATH_APPLICATIONS);
}

int config_finalize(Config *c, char **ret_error) {
        const char *source;

        if (!c)
                return -EINVAL;

        source = c->source ?: "configuration";

        if (!c->tenant_id)
                return set_error(ret_error, "%s: [Identity] TenantId= is required.", source);
        if (!c->client_id)
                return set_error(ret_error, "%s: [Identity] ClientId= is required.", source);

        if (!c->state_directory) {
                /* systemd's StateDirectory= may list several, colon-separated: ours is the first. */
                const char *env = getenv("STATE_DIRECTORY");
                char *dir = !isempty(env) ? strndup(env, strcspn(env, ":")) : strdup(CONFIG_DEFAULT_STATE_DIRECTORY);
                if (!dir)
                        return -ENOMEM;
                if (dir[0] != '/') {
                        free(dir);
                        return set_error(ret_error, "%s: $STATE_DIRECTORY is not an absolute path.", source);
                }
                c->state_directory = dir;
        }

        /* The cloud gives where requests go unless LoginEndpoint= or Endpoint= say otherwise (a
         * proxy, a test), and the scope unless Scope= says otherwise: an endpoint never changes
         * the scope, or a proxy in front of Graph would silently ask for tokens to itself. */
        c->cloud_info = cloud_find(c->cloud);
        if (!c->cloud_info)
                return set_error(ret_error, "%s: Internal error: Cloud= is unset.", source);
        if ((!c->login_endpoint && !(c->login_endpoint = strdup(c->cloud_info->login_endpoint))) ||
            (!c->graph_endpoint && !(c->graph_endpoint = strdup(c->cloud_info->graph_root))) ||
            (!c->scope && !(c->scope = strprintf("%s/.default", c->cloud_info->graph_root))) ||
            (!c->openid_configuration_url && c->cloud_info->openid_configuration_url &&
             !(c->openid_configuration_url = strdup(c->cloud_info->openid_configuration_url))))
                return -ENOMEM;
        /* Where Microsoft documents who signs the notifications, the cloud says; elsewhere the
         * operator must, or the daemon would refuse every notification. */
        if (config_notifications_need_token(c) && (!c->openid_configuration_url || !config_notification_issuers(c)))
                return set_error(ret_error,
                                 "%s: Microsoft documents neither the issuers nor the signing keys of Graph's "
                                 "notifications in Cloud=%s: set [Notifications] Issuers= and "
                                 "OpenIdConfigurationUrl=, or Authentication=peer.",
                                 source, c->cloud_info->name);

        /* The parsers guarantee these for anything read from a file; the checks are for a Config
         * built or changed in code. */
        if (!c->api_version || !c->calls_path || !c->socket_path)
                return set_error(ret_error, "%s: Internal error: a required setting is unset.", source);

        /* Graph's beta API exists only in the global service (cloud.c). */
        if (streq(c->api_version, "beta") && !c->cloud_info->has_beta)
                return set_error(ret_error,
                                 "%s: [Graph] ApiVersion=beta is not available in Cloud=%s: the beta API exists only in "
                                 "the Global cloud. Use ApiVersion=v1.0.",
                                 source, c->cloud_info->name);

        /* The pre-GA call paths only ever existed in the beta API; asking v1.0 for them yields a
         * 404 for every cancel, which is better caught at start-up. */
        if (is_legacy_calls_path(c->calls_path) && !streq(c->api_version, "beta"))
                return set_error(ret_error,
                                 "%s: [Graph] CallsPath=%s requires ApiVersion=beta (it is a legacy "
                                 "form that only the beta API serves), but ApiVersion=%s.",
                                 source, c->calls_path, c->api_version);

        if (c->retry_base_usec > c->retry_max_usec)
                return set_error(ret_error,
                                 "%s: [Graph] RetryBaseMs= must not be larger than RetryMaxMs=.", source);

        return credentials_resolve(&(CredentialFiles) {
                                           .client_secret_file = &c->client_secret_file,
                                           .client_secret_file_origin = &c->client_secret_file_origin,
                                           .certificate_file = &c->certificate_file,
                                           .certificate_file_origin = &c->certificate_file_origin,
                                           .private_key_file = &c->private_key_file,
                                           .private_key_file_origin = &c->private_key_file_origin,
                                           .client_assertion_file = &c->client_assertion_file,
                                           .client_assertion_file_origin = &c->client_assertion_file_origin,
                                           .managed_identity = c->managed_identity,
                                           .managed_identity_origin = c->managed_identity_origin,
                                           .managed_identity_source_set = !streq(c->managed_identity_source, "auto"),
                                           .managed_identity_endpoint = c->managed_identity_endpoint,
                                   },
                                   source, ret_error);
}
