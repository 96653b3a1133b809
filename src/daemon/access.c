/* SPDX-License-Identifier: MIT */
/*
 * access.c — see access.h. Fails closed: a peer whose credentials cannot be read is refused.
 */
#include <errno.h>
#include <sys/socket.h>

#include "access.h"

static bool in_groups(const IdList *l, const Peer *p) {
        if (id_list_contains(l, p->gid))
                return true;
        for (size_t i = 0; i < p->n_groups; i++)
                if (id_list_contains(l, p->groups[i]))
                        return true;
        return false;
}

unsigned access_roles(const Config *c, const Peer *p, uid_t self_uid) {
        unsigned roles = 0;

        if (p->uid == 0 || p->uid == self_uid)
                return ACCESS_CLIENT | ACCESS_NOTIFY | ACCESS_ADMIN;
        if (id_list_contains(&c->admin_users, p->uid) || in_groups(&c->admin_groups, p))
                roles |= ACCESS_ADMIN | ACCESS_CLIENT;
        if (id_list_contains(&c->allow_users, p->uid) || in_groups(&c->allow_groups, p))
                roles |= ACCESS_CLIENT;
        if (id_list_contains(&c->notify_users, p->uid) || in_groups(&c->notify_groups, p))
                roles |= ACCESS_NOTIFY;
        return roles;
}

int peer_from_socket(int fd, Peer *ret) {
        struct ucred cred = {};
        socklen_t len = sizeof cred;
        Peer p = {};

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        p.pid = cred.pid;
        p.uid = cred.uid;
        p.gid = cred.gid;

        /* The supplementary groups: ask with a guess, grow once if the kernel says ERANGE. */
        for (size_t n = 16;; n *= 4) {
                socklen_t sz = (socklen_t) (n * sizeof(gid_t));
                gid_t *g = malloc(sz);
                if (!g)
                        return -ENOMEM;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &sz) >= 0) {
                        p.groups = g;
                        p.n_groups = sz / sizeof(gid_t);
                        break;
                }
                free(g);
                if (errno != ERANGE || n > 65536) {
                        /* No supplementary groups known: judge by uid and primary gid only. */
                        if (errno == ENOPROTOOPT)
                                break;
                        return -errno;
                }
        }
        *ret = p;
        return 0;
}

void peer_done(Peer *p) {
        free(p->groups);
        *p = (Peer) {};
}
