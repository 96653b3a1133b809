/* SPDX-License-Identifier: MIT */
/*
 * config.c — reads mediacanceld.conf and its drop-ins into a Config. Every key is one row of
 * config_items[] (section, name, parser, field offset, range, default), so defaults, "empty
 * value resets", range checks and error wording are the same for every key and a new key is
 * one line. Parsing a text never touches the file system; only config_load_file(),
 * config_load() and config_finalize() do.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"

#define WHITESPACE " \t\r\v\f"

/* A configuration file is a few hundred bytes; refusing anything huge keeps a mistaken path
 * (a log file, a device) from being slurped into memory. */
#define CONFIG_FILE_MAX (4U * 1024U * 1024U)

#define USEC_PER_MINUTE (UINT64_C(60) * USEC_PER_SEC)
#define USEC_PER_HOUR (UINT64_C(60) * USEC_PER_MINUTE)
#define USEC_PER_DAY (UINT64_C(24) * USEC_PER_HOUR)

/* Longest path that fits sockaddr_un.sun_path with its terminating NUL (107 on Linux). */
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *) 0)->sun_path) - 1)

#define CREDENTIAL_CLIENT_SECRET "client-secret"
#define CREDENTIAL_ORIGIN "credential " CREDENTIAL_CLIENT_SECRET
#define CREDENTIAL_CLIENT_CERTIFICATE "client-certificate"
#define CREDENTIAL_CLIENT_KEY "client-key"

static char *vstrprintf(const char *fmt, va_list ap) _printf_(1, 0);

static char *vstrprintf(const char *fmt, va_list ap) {
        va_list aq;
        int n;

        va_copy(aq, ap);
        n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0)
                return NULL;

        char *s = malloc((size_t) n + 1);
        if (!s)
                return NULL;
        (void) vsnprintf(s, (size_t) n + 1, fmt, ap);
        return s;
}

static char *strprintf(const char *fmt, ...) _printf_(1, 2);

static char *strprintf(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        char *s = vstrprintf(fmt, ap);
        va_end(ap);
        return s;
}

/* Sets *ret_error (when the caller wants it) and returns -EINVAL, or -ENOMEM when even the
 * message cannot be allocated. Every user-facing failure goes through here, and the parsers'
 * reasons ("\"abc\" is not a time span") are built the same way. */
static int set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);

static int set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (!ret_error)
                return -EINVAL;

        va_start(ap, fmt);
        char *s = vstrprintf(fmt, ap);
        va_end(ap);
        if (!s)
                return -ENOMEM;

        *ret_error = s;
        return -EINVAL;
}

static bool is_ws(char c) {
        return c != '\0' && strchr(WHITESPACE, c);
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool has_control_or_space(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || *s == 0x7f)
                        return true;
        return false;
}

/* ---- time spans and sizes ---- */

static const struct {
        const char *name;
        uint64_t usec;
} time_units[] = {
        { "us", 1 },
        { "usec", 1 },
        { "ms", USEC_PER_MSEC },
        { "msec", USEC_PER_MSEC },
        { "s", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },
        { "second", USEC_PER_SEC },
        { "seconds", USEC_PER_SEC },
        { "m", USEC_PER_MINUTE },
        { "min", USEC_PER_MINUTE },
        { "minute", USEC_PER_MINUTE },
        { "minutes", USEC_PER_MINUTE },
        { "h", USEC_PER_HOUR },
        { "hr", USEC_PER_HOUR },
        { "hour", USEC_PER_HOUR },
        { "hours", USEC_PER_HOUR },
        { "d", USEC_PER_DAY },
        { "day", USEC_PER_DAY },
        { "days", USEC_PER_DAY },
};

/* Parses one or more "NUMBER[.FRACTION][ ]UNIT" components ("1h 30min" is 90 minutes); a
 * component without a unit is in default_unit. Integer arithmetic only, so "0.1s" is exactly
 * 100000us and results do not depend on floating point rounding. */
static int parse_timespan(const char *s, uint64_t default_unit, uint64_t *ret_usec) {
        uint64_t total = 0;
        bool any = false;
        const char *p = s;

        assert(s);
        assert(default_unit > 0);

        for (;;) {
                uint64_t whole = 0, frac = 0, frac_scale = 1, unit = default_unit;

                p += strspn(p, WHITESPACE);
                if (*p == '\0')
                        break;

                /* A digit must come first: this rejects "-1", "+1", ".5" and words. */
                if (!is_digit(*p))
                        return -EINVAL;
                for (; is_digit(*p); p++) {
                        unsigned d = (unsigned) (*p - '0');
                        if (whole > (UINT64_MAX - d) / 10)
                                return -ERANGE;
                        whole = whole * 10 + d;
                }

                if (*p == '.') {
                        p++;
                        if (!is_digit(*p))
                                return -EINVAL;
                        /* Nine fractional digits are below a microsecond even for days; later
                         * digits are checked for syntax but cannot change the result. */
                        for (; is_digit(*p); p++)
                                if (frac_scale < UINT64_C(1000000000)) {
                                        frac = frac * 10 + (uint64_t) (*p - '0');
                                        frac_scale *= 10;
                                }
                }

                p += strspn(p, WHITESPACE);

                size_t n = 0;
                while (is_alpha(p[n]))
                        n++;
                if (n > 0) {
                        bool found = false;

                        for (size_t i = 0; i < ELEMENTSOF(time_units); i++)
                                if (strlen(time_units[i].name) == n &&
                                    strncmp(time_units[i].name, p, n) == 0) {
                                        unit = time_units[i].usec;
                                        found = true;
                                        break;
                                }
                        if (!found)
                                return -EINVAL;
                        p += n;
                }

                if (whole > UINT64_MAX / unit)
                        return -ERANGE;
                uint64_t v = whole * unit;

                /* frac * unit / frac_scale without overflowing: split unit by frac_scale. Both
                 * products stay below 2^64 because frac < frac_scale <= 10^9. */
                uint64_t f = (unit / frac_scale) * frac + (unit % frac_scale) * frac / frac_scale;

                if (v > UINT64_MAX - f)
                        return -ERANGE;
                v += f;
                if (total > UINT64_MAX - v)
                        return -ERANGE;
                total += v;
                any = true;
        }

        if (!any)
                return -EINVAL;

        *ret_usec = total;
        return 0;
}

int parse_timespan_sec(const char *s, uint64_t *ret_usec) {
        if (!s)
                return -EINVAL;
        return parse_timespan(s, USEC_PER_SEC, ret_usec);
}

int parse_size(const char *s, size_t *ret) {
        static const struct {
                const char *name;
                uint64_t factor;
        } size_units[] = {
                { "", 1 },
                { "B", 1 },
                { "K", UINT64_C(1) << 10 },
                { "KiB", UINT64_C(1) << 10 },
                { "M", UINT64_C(1) << 20 },
                { "MiB", UINT64_C(1) << 20 },
                { "G", UINT64_C(1) << 30 },
                { "GiB", UINT64_C(1) << 30 },
                { "T", UINT64_C(1) << 40 },
                { "TiB", UINT64_C(1) << 40 },
        };
        uint64_t v = 0, factor = 0;
        const char *p;

        if (!s)
                return -EINVAL;

        p = s + strspn(s, WHITESPACE);
        if (!is_digit(*p))
                return -EINVAL;
        for (; is_digit(*p); p++) {
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }

        p += strspn(p, WHITESPACE);
        size_t n = strcspn(p, WHITESPACE);
        for (size_t i = 0; i < ELEMENTSOF(size_units); i++)
                if (strlen(size_units[i].name) == n && strncmp(size_units[i].name, p, n) == 0) {
                        factor = size_units[i].factor;
                        break;
                }
        if (factor == 0)
                return -EINVAL;
        p += n;
        if (p[strspn(p, WHITESPACE)] != '\0')
                return -EINVAL;

        if (v > UINT64_MAX / factor || v * factor > SIZE_MAX)
                return -ERANGE;

        *ret = (size_t) (v * factor);
        return 0;
}

/* Range limits in error messages read best in the unit the user would write them in. */
static void format_timespan(char *buf, size_t size, uint64_t usec) {
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
                { "d", USEC_PER_DAY }, { "h", USEC_PER_HOUR }, { "min", USEC_PER_MINUTE },
                { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC }, { "us", 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (usec != 0 && usec % units[i].usec == 0) {
                        (void) snprintf(buf, size, "%" PRIu64 "%s", usec / units[i].usec, units[i].name);
                        return;
                }
        (void) snprintf(buf, size, "0");
}

static void format_size(char *buf, size_t size, uint64_t bytes) {
        static const struct {
                const char *name;
                uint64_t factor;
        } units[] = {
                { "G", UINT64_C(1) << 30 }, { "M", UINT64_C(1) << 20 }, { "K", UINT64_C(1) << 10 },
        };

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (bytes != 0 && bytes % units[i].factor == 0) {
                        (void) snprintf(buf, size, "%" PRIu64 "%s", bytes / units[i].factor, units[i].name);
                        return;
                }
        (void) snprintf(buf, size, "%" PRIu64, bytes);
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

/* https:// only: the endpoints receive the client secret and bearer tokens. The result has no
 * trailing slash so that callers can append "/path" without doubling it. */
static int config_parse_url(const ConfigItem *item, Config *c, const char *value, const char *origin,
                            char **ret_reason) {
        static const char scheme[] = "https://";
        const size_t scheme_len = sizeof(scheme) - 1;

        (void) origin;

        if (!value)
                return set_string(FIELD(c, item, char *), NULL);

        /* Checked first and without echoing the value: user information may hold a password. */
        if (strchr(value, '@'))
                return set_error(ret_reason, "URLs with user information (user@host) are not supported");
        if (has_control_or_space(value))
                return set_error(ret_reason, "the URL contains whitespace or control characters");
        if (strncasecmp(value, scheme, scheme_len) != 0)
                return set_error(ret_reason, "\"%s\" must be an https:// URL", value);
        if (strpbrk(value, "?#"))
                return set_error(ret_reason, "\"%s\" must not contain a query or fragment", value);

        const char *host = value + scheme_len;
        size_t host_len = strcspn(host, "/");
        if (host_len == 0)
                return set_error(ret_reason, "\"%s\" has no host", value);
        if (strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_:[]") <
            host_len)
                return set_error(ret_reason, "\"%s\" has an invalid host", value);

        /* Normalize the scheme's case and drop trailing slashes. */
        size_t len = strlen(host);
        while (len > host_len && host[len - 1] == '/')
                len--;

        char *s = strprintf("%s%.*s", scheme, (int) len, host);
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
                        ok = is_digit(port[i]);
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
        uint64_t v = 0;
        bool overflow = false;

        (void) origin;
        assert(value);

        if (!is_digit(value[0]) || strspn(value, "0123456789") != strlen(value))
                return set_error(ret_reason, "\"%s\" is not an unsigned integer", value);

        for (const char *p = value; *p; p++) {
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10) {
                        overflow = true;
                        break;
                }
                v = v * 10 + d;
        }

        if (overflow || v < item->min || v > item->max)
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

#define CALLS_PATH_COMMUNICATIONS "/communications/calls"
#define CALLS_PATH_APP "/app/calls"
#define CALLS_PATH_APPLICATIONS "/applications/{appId}/calls"

static const char *const api_versions[] = { "v1.0", "beta", NULL };
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
        ITEM("Identity", "LoginEndpoint",     config_parse_url,         login_endpoint,     0, 0, "https://login.microsoftonline.com"),

        ITEM("Graph", "Endpoint",             config_parse_url,         graph_endpoint,       0, 0, "https://graph.microsoft.com"),
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

        { "Access", "AllowUsers",   config_parse_ids, offsetof(Config, allow_users),   0, 0, "user",  NULL },
        { "Access", "AllowGroups",  config_parse_ids, offsetof(Config, allow_groups),  0, 0, "group", NULL },
        { "Access", "NotifyUsers",  config_parse_ids, offsetof(Config, notify_users),  0, 0, "user",  NULL },
        { "Access", "NotifyGroups", config_parse_ids, offsetof(Config, notify_groups), 0, 0, "group", NULL },
        { "Access", "AdminUsers",   config_parse_ids, offsetof(Config, admin_users),   0, 0, "user",  NULL },
        { "Access", "AdminGroups",  config_parse_ids, offsetof(Config, admin_groups),  0, 0, "group", NULL },
        ITEM("Access", "MaxPendingPerUser", config_parse_unsigned, max_pending_per_user, 1, 10000000, "10000"),
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
        free(c->login_endpoint);
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
        free(c);
        return NULL;
}

static void trim(const char **b, const char **e) {
        while (*b < *e && is_ws(**b))
                (*b)++;
        while (*e > *b && is_ws((*e)[-1]))
                (*e)--;
}

static int config_parse_assignment(Config *c, const char *filename, unsigned line, const char *section,
                                   const char *kb, const char *ke, const char *vb, const char *ve,
                                   char **ret_error) {
        _cleanup_free_ char *key = NULL, *value = NULL, *origin = NULL, *why = NULL;
        const ConfigItem *item;
        int r;

        if (kb == ke)
                return set_error(ret_error, "%s:%u: Assignment without a key name.", filename, line);

        key = strndup(kb, (size_t) (ke - kb));
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
        if (vb == ve)
                return config_item_reset(item, c);

        value = strndup(vb, (size_t) (ve - vb));
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
        const char *section = NULL, *p, *end;
        unsigned line = 0;
        int r;

        if (!c || !filename || (!text && len > 0))
                return -EINVAL;
        if (len == 0)
                return 0;

        p = text;
        end = text + len;

        /* Editors on other systems like to start files with a UTF-8 byte order mark. */
        if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
                p += 3;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                const char *next = eol ? eol + 1 : end;
                const char *b = p, *e = eol ?: end;

                p = next;
                line++;

                if (memchr(b, '\0', (size_t) (e - b)))
                        return set_error(ret_error, "%s:%u: Line contains a NUL byte.", filename, line);

                trim(&b, &e);
                if (b == e || *b == '#' || *b == ';')
                        continue;

                if (*b == '[') {
                        if (e - b < 3 || e[-1] != ']')
                                return set_error(ret_error,
                                                 "%s:%u: Invalid section header, expected \"[Name]\".",
                                                 filename, line);

                        section = config_section_find(b + 1, (size_t) (e - b - 2));
                        if (!section)
                                return set_error(ret_error, "%s:%u: Unknown section [%.*s].", filename,
                                                 line, (int) (e - b - 2), b + 1);
                        continue;
                }

                /* Not quoted back: a line without "=" may well be a pasted secret. */
                const char *eq = memchr(b, '=', (size_t) (e - b));
                if (!eq)
                        return set_error(ret_error,
                                         "%s:%u: Missing \"=\": expected a [Section] header, a comment or "
                                         "a Key=Value assignment.",
                                         filename, line);

                const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
                trim(&kb, &ke);
                trim(&vb, &ve);

                r = config_parse_assignment(c, filename, line, section, kb, ke, vb, ve, ret_error);
                if (r < 0)
                        return r;
        }

        return 0;
}

static int read_full_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, allocated = 0;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;

        for (;;) {
                if (allocated - len < 4096) {
                        size_t n = allocated ? allocated * 2 : 4096;
                        char *b = realloc(buf, n);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated = n;
                }

                ssize_t k = read(fd, buf + len, allocated - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len > CONFIG_FILE_MAX)
                        return -EFBIG;
        }

        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int config_load_file(Config *c, const char *path, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        if (!c || !path)
                return -EINVAL;

        r = read_full_file(path, &text, &len);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (ret_error) {
                        char *s = strprintf("%s: %s", path, strerror(-r));
                        if (!s)
                                return -ENOMEM;
                        *ret_error = s;
                }
                return r;
        }

        if (!c->source) {
                c->source = strdup(path);
                if (!c->source)
                        return -ENOMEM;
        }

        return config_parse_text(c, path, text, len, ret_error);
}

/* CertificateFile= is set: PrivateKeyFile= defaults to it (one PEM may hold both, in either
 * order), and both must be readable. As with the secret, only readability is checked here;
 * token.c parses them. */
static int finalize_certificate(Config *c, const char *source, char **ret_error) {
        if (!c->private_key_file) {
                _cleanup_free_ char *k = strdup(c->certificate_file), *o = NULL;

                if (!k || (c->certificate_file_origin && !(o = strdup(c->certificate_file_origin))))
                        return -ENOMEM;
                c->private_key_file = TAKE_PTR(k);
                free(c->private_key_file_origin);
                c->private_key_file_origin = TAKE_PTR(o);
        }
        if (access(c->certificate_file, R_OK) < 0)
                return set_error(ret_error, "%s: Cannot read CertificateFile=%s: %s.",
                                 c->certificate_file_origin ?: source, c->certificate_file, strerror(errno));
        if (access(c->private_key_file, R_OK) < 0)
                return set_error(ret_error, "%s: Cannot read PrivateKeyFile=%s: %s.",
                                 c->private_key_file_origin ?: source, c->private_key_file, strerror(errno));
        return 0;
}

/* Neither ClientSecretFile= nor CertificateFile= is set, and the unit has credentials: a
 * client-certificate credential (with client-key, or the key in the same file) stands in for
 * CertificateFile=. Returns 1 when there is none, so that the caller reports the missing
 * secret as before. */
static int credentials_directory_certificate(Config *c, const char *creds, const char *sep) {
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

        free(c->certificate_file);
        c->certificate_file = TAKE_PTR(cert);
        free(c->certificate_file_origin);
        c->certificate_file_origin = TAKE_PTR(cert_o);
        free(c->private_key_file);
        c->private_key_file = TAKE_PTR(key);
        free(c->private_key_file_origin);
        c->private_key_file_origin = TAKE_PTR(key_o);
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

        /* The parsers guarantee these for anything read from a file; the checks are for a Config
         * built or changed in code. */
        if (!c->login_endpoint || !c->graph_endpoint || !c->api_version || !c->calls_path ||
            !c->socket_path)
                return set_error(ret_error, "%s: Internal error: a required setting is unset.", source);

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

        /* The app signs in with one credential. Accepting both and picking one would leave
         * the operator guessing which is in use when the other expires. */
        if (c->private_key_file && !c->certificate_file)
                return set_error(ret_error,
                                 "%s: PrivateKeyFile=%s is set but CertificateFile= is not; the key is "
                                 "only used together with its certificate.",
                                 c->private_key_file_origin ?: source, c->private_key_file);
        if (c->certificate_file && c->client_secret_file)
                return set_error(ret_error,
                                 "%s: both ClientSecretFile= (%s) and CertificateFile= (%s) are set; the "
                                 "application signs in with exactly one credential, remove one of them.",
                                 source, c->client_secret_file_origin ?: c->client_secret_file,
                                 c->certificate_file_origin ?: c->certificate_file);
        if (c->certificate_file)
                return finalize_certificate(c, source, ret_error);

        if (!c->client_secret_file) {
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

                free(c->client_secret_file);
                c->client_secret_file = TAKE_PTR(p);
                free(c->client_secret_file_origin);
                c->client_secret_file_origin = TAKE_PTR(o);
                return 0;
        }

        /* Only readability is checked: the secret's contents are not config's business and are
         * never loaded here, but a typo in the path should stop the daemon at start-up rather
         * than at the first cancel. */
        if (access(c->client_secret_file, R_OK) < 0)
                return set_error(ret_error, "%s: Cannot read ClientSecretFile=%s: %s.",
                                 c->client_secret_file_origin ?: source, c->client_secret_file,
                                 strerror(errno));

        return 0;
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void strv_freep(char ***p) {
        if (!*p)
                return;
        for (char **i = *p; *i; i++)
                free(*i);
        free(*p);
}

/* The *.conf names in dir, sorted with strcmp() so that the order does not depend on the
 * locale. A missing directory is an empty list. */
static int list_dropins(const char *dir, char ***ret) {
        _cleanup_(strv_freep) char **names = NULL;
        size_t n = 0, allocated = 0;
        DIR *d;

        d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        return -errno;
                names = calloc(1, sizeof(char *));
                if (!names)
                        return -ENOMEM;
                *ret = TAKE_PTR(names);
                return 0;
        }

        for (;;) {
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0) {
                                int e = errno;
                                closedir(d);
                                return -e;
                        }
                        break;
                }

                size_t l = strlen(de->d_name);
                /* Hidden files are editor and package manager leftovers, not configuration. */
                if (de->d_name[0] == '.' || l <= 5 || !streq(de->d_name + l - 5, ".conf"))
                        continue;

                if (n + 2 > allocated) {
                        size_t k = allocated ? allocated * 2 : 8;
                        char **m = realloc(names, k * sizeof(char *));
                        if (!m) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        names = m;
                        allocated = k;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        closedir(d);
                        return -ENOMEM;
                }
                names[++n] = NULL;
        }
        closedir(d);

        if (!names) {
                names = calloc(1, sizeof(char *));
                if (!names)
                        return -ENOMEM;
        }
        qsort(names, n, sizeof(char *), cmp_strp);

        *ret = TAKE_PTR(names);
        return 0;
}

int config_load(const char *path, Config **ret, char **ret_error) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(strv_freep) char **dropins = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        if (!path)
                path = CONFIG_DEFAULT_PATH;

        r = config_new(&c);
        if (r < 0)
                return r;

        c->source = strdup(path);
        if (!c->source)
                return -ENOMEM;

        r = config_load_file(c, path, ret_error);
        if (r < 0)
                return r;

        dir = strprintf("%s.d", path);
        if (!dir)
                return -ENOMEM;

        r = list_dropins(dir, &dropins);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (ret_error) {
                        char *s = strprintf("%s: %s", dir, strerror(-r));
                        if (!s)
                                return -ENOMEM;
                        *ret_error = s;
                }
                return r;
        }

        for (char **i = dropins; *i; i++) {
                _cleanup_free_ char *f = strprintf("%s/%s", dir, *i);
                if (!f)
                        return -ENOMEM;

                r = config_load_file(c, f, ret_error);
                if (r < 0)
                        return r;
        }

        r = config_finalize(c, ret_error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}
