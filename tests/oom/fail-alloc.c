/* SPDX-License-Identifier: MIT */
/*
 * fail-alloc.c — an LD_PRELOAD shim for tests/check_oom.c that makes one chosen allocation of
 * the daemon fail. It owns the interposed malloc(), calloc(), realloc(), posix_memalign(),
 * aligned_alloc() and memalign() (and free(), only for its bootstrap arena), the decision
 * which allocations count, and the counter.
 *
 * An allocation counts when the first caller outside libc and outside this shim is the
 * mediacanceld executable, libjson-c or libsystemd: the daemon's own code, directly or through
 * libc (strdup(), asprintf(), fopen() …), json-c or sd-event. libcurl's and OpenSSL's own
 * allocations do not count: their failures are theirs to handle, and the daemon only sees
 * them as an error code. The caller is found with backtrace(), its frames mapped to objects by
 * the PT_LOAD ranges dl_iterate_phdr() reports when the shim starts (objects loaded later, by
 * dlopen(), are "other").
 *
 * Environment:
 *   MEDIACANCEL_FAIL_ALLOC=N         the N-th counted allocation (from 1) returns NULL with
 *                                    errno ENOMEM, once; the others succeed. It says so on
 *                                    stderr, with the stack, so a crash can be traced to it.
 *   MEDIACANCEL_FAIL_ALLOC_COUNT=F   at exit, write the number of counted allocations to F.
 *
 * Counting starts when the shim's constructor has run (before main(); constructors of the
 * libraries initialised before it are not counted), and stops at exit.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_FRAMES 24
#define MAX_RANGES 64

typedef enum ObjectKind {
        OBJECT_OTHER,
        OBJECT_LIBC,   /* skipped: allocating on someone else's behalf */
        OBJECT_SELF,   /* this shim: skipped */
        OBJECT_TARGET, /* the daemon, json-c, libsystemd: the allocation counts */
} ObjectKind;

typedef struct Range {
        uintptr_t start, end;
        ObjectKind kind;
} Range;

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

static Range ranges[MAX_RANGES];
static size_t n_ranges;
static bool active;          /* constructor done, destructor not yet */
static unsigned long fail_at; /* 0: never */
static const char *count_file;
static unsigned long counted;

/* Set while this thread is inside the shim's own bookkeeping (backtrace() may allocate, and
 * dlsym() may too): such allocations go straight through, uncounted. */
static __thread int busy __attribute__((tls_model("initial-exec")));

/* dlsym() may allocate before the real functions are known: those few come from here and are
 * never freed. */
static _Alignas(16) char arena[16384];
static size_t arena_used;

static bool in_arena(const void *p) {
        return (const char *) p >= arena && (const char *) p < arena + sizeof arena;
}

static void *arena_alloc(size_t size) {
        size_t n = (size + 15) & ~(size_t) 15;
        void *p;

        if (n > sizeof arena - arena_used)
                return NULL;
        p = arena + arena_used;
        arena_used += n;
        return p; /* static storage: already zero, as calloc() promises */
}

static void resolve(void) {
        static int resolving;

        if (real_malloc || resolving)
                return;
        resolving = 1;
        real_calloc = (void *(*)(size_t, size_t)) dlsym(RTLD_NEXT, "calloc");
        real_realloc = (void *(*)(void *, size_t)) dlsym(RTLD_NEXT, "realloc");
        real_free = (void (*)(void *)) dlsym(RTLD_NEXT, "free");
        real_posix_memalign = (int (*)(void **, size_t, size_t)) dlsym(RTLD_NEXT, "posix_memalign");
        real_aligned_alloc = (void *(*)(size_t, size_t)) dlsym(RTLD_NEXT, "aligned_alloc");
        real_memalign = (void *(*)(size_t, size_t)) dlsym(RTLD_NEXT, "memalign");
        real_malloc = (void *(*)(size_t)) dlsym(RTLD_NEXT, "malloc");
        resolving = 0;
}

static ObjectKind name_kind(const char *path) {
        const char *base = strrchr(path, '/');

        base = base ? base + 1 : path;
        if (strncmp(base, "libc.so", 7) == 0)
                return OBJECT_LIBC;
        if (strncmp(base, "libjson-c.so", 12) == 0 || strncmp(base, "libsystemd.so", 13) == 0)
                return OBJECT_TARGET;
        return OBJECT_OTHER;
}

static bool object_contains(const struct dl_phdr_info *info, uintptr_t a) {
        for (int i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                uintptr_t start = info->dlpi_addr + ph->p_vaddr;

                if (ph->p_type == PT_LOAD && a >= start && a < start + ph->p_memsz)
                        return true;
        }
        return false;
}

static int add_object(struct dl_phdr_info *info, size_t size, void *userdata) {
        ObjectKind kind;
        (void) size;
        (void) userdata;

        /* The shim is found by an address inside it rather than by its file name, which
         * depends on how the test was built; the executable is the first object reported, with
         * an empty name. */
        if (object_contains(info, (uintptr_t) &add_object))
                kind = OBJECT_SELF;
        else if (!info->dlpi_name || !info->dlpi_name[0])
                kind = n_ranges == 0 ? OBJECT_TARGET : OBJECT_OTHER;
        else
                kind = name_kind(info->dlpi_name);

        for (int i = 0; i < info->dlpi_phnum && n_ranges < MAX_RANGES; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                uintptr_t start = info->dlpi_addr + ph->p_vaddr;

                if (ph->p_type == PT_LOAD)
                        ranges[n_ranges++] = (Range) { start, start + ph->p_memsz, kind };
        }
        return 0;
}

static ObjectKind address_kind(uintptr_t a) {
        for (size_t i = 0; i < n_ranges; i++)
                if (a >= ranges[i].start && a < ranges[i].end)
                        return ranges[i].kind;
        return OBJECT_OTHER;
}

/* Whether this allocation counts: the first frame that is neither libc nor the shim decides. */
static bool caller_counts(void) {
        void *frames[MAX_FRAMES];
        int n;

        n = backtrace(frames, MAX_FRAMES);
        for (int i = 0; i < n; i++) {
                ObjectKind k = address_kind((uintptr_t) frames[i]);
                if (k == OBJECT_LIBC || k == OBJECT_SELF)
                        continue;
                return k == OBJECT_TARGET;
        }
        return false;
}

static void say(const char *s) {
        (void) !write(STDERR_FILENO, s, strlen(s));
}

/* Whether the allocation being made now must fail. */
static bool should_fail(void) {
        unsigned long n;
        bool fail = false;

        if (!active || busy)
                return false;
        busy++;
        if (caller_counts()) {
                n = __atomic_add_fetch(&counted, 1, __ATOMIC_RELAXED);
                if (n == fail_at) {
                        char line[96];
                        void *frames[MAX_FRAMES];
                        int k = backtrace(frames, MAX_FRAMES);

                        snprintf(line, sizeof line, "fail-alloc: allocation %lu fails here:\n", n);
                        say(line);
                        backtrace_symbols_fd(frames, k, STDERR_FILENO);
                        fail = true;
                }
        }
        busy--;
        if (fail)
                errno = ENOMEM;
        return fail;
}

EXPORT void *malloc(size_t size) {
        resolve();
        if (!real_malloc)
                return arena_alloc(size);
        if (should_fail())
                return NULL;
        return real_malloc(size);
}

EXPORT void *calloc(size_t n, size_t size) {
        resolve();
        if (!real_calloc) {
                if (size && n > SIZE_MAX / size)
                        return NULL;
                return arena_alloc(n * size);
        }
        if (should_fail())
                return NULL;
        return real_calloc(n, size);
}

EXPORT void *realloc(void *p, size_t size) {
        resolve();
        if (in_arena(p)) {
                /* Only during the bootstrap, if ever. The old size is not kept: copy what the
                 * block can hold at most, up to the end of the arena. */
                size_t left = (size_t) (arena + sizeof arena - (char *) p);
                void *q = malloc(size);
                if (q)
                        memcpy(q, p, size < left ? size : left);
                return q;
        }
        if (!real_realloc)
                return p ? NULL : arena_alloc(size);
        /* realloc(p, 0) frees: failing it would leave the caller thinking p was freed. */
        if ((size > 0 || !p) && should_fail())
                return NULL;
        return real_realloc(p, size);
}

EXPORT void free(void *p) {
        if (!p || in_arena(p))
                return;
        resolve();
        if (real_free)
                real_free(p);
}

EXPORT int posix_memalign(void **ret, size_t alignment, size_t size) {
        resolve();
        if (!real_posix_memalign)
                return ENOMEM;
        if (should_fail())
                return ENOMEM;
        return real_posix_memalign(ret, alignment, size);
}

EXPORT void *aligned_alloc(size_t alignment, size_t size) {
        resolve();
        if (!real_aligned_alloc)
                return NULL;
        if (should_fail())
                return NULL;
        return real_aligned_alloc(alignment, size);
}

EXPORT void *memalign(size_t alignment, size_t size) {
        resolve();
        if (!real_memalign)
                return NULL;
        if (should_fail())
                return NULL;
        return real_memalign(alignment, size);
}

__attribute__((constructor)) static void fail_alloc_init(void) {
        void *frames[4];
        const char *s;

        resolve();
        busy++;
        /* backtrace() loads the unwinder on first use, which allocates: do that now, not in
         * the middle of the first counted allocation. */
        (void) backtrace(frames, 4);
        (void) dl_iterate_phdr(add_object, NULL);
        busy--;

        s = getenv("MEDIACANCEL_FAIL_ALLOC");
        if (s && *s)
                fail_at = strtoul(s, NULL, 10);
        count_file = getenv("MEDIACANCEL_FAIL_ALLOC_COUNT");
        active = true;
}

__attribute__((destructor)) static void fail_alloc_done(void) {
        char line[32];
        int fd, n;

        active = false;
        if (!count_file || !*count_file)
                return;
        fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        n = snprintf(line, sizeof line, "%lu\n", __atomic_load_n(&counted, __ATOMIC_RELAXED));
        (void) !write(fd, line, (size_t) n);
        (void) close(fd);
}
