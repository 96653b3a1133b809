/* SPDX-License-Identifier: MIT */
/*
 * config-files.c — where the configuration comes from: reads the main file and then its
 * drop-ins (PATH.d/x.conf, in strcmp() order) into one Config, and finalizes it. The text of
 * each file goes to config_parse_text(); nothing here knows a key.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-files.h"
#include "string-util.h"

/* A configuration file is a few hundred bytes; refusing anything huge keeps a mistaken path
 * (a log file, a device) from being slurped into memory. */
#define CONFIG_FILE_MAX (4U * 1024U * 1024U)

/* A file or directory that cannot be read: "PATH: reason" and the errno r, itself, so that
 * -ENOENT stays -ENOENT; -ENOMEM goes up without a message. */
static int file_error(char **ret_error, const char *path, int r) {
        if (r == -ENOMEM)
                return r;
        if (ret_error) {
                char *s = strprintf("%s: %s", path, strerror(-r));
                if (!s)
                        return -ENOMEM;
                *ret_error = s;
        }
        return r;
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
        if (r < 0)
                return file_error(ret_error, path, r);

        if (!c->source) {
                c->source = strdup(path);
                if (!c->source)
                        return -ENOMEM;
        }

        return config_parse_text(c, path, text, len, ret_error);
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
        if (r < 0)
                return file_error(ret_error, dir, r);

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
