/* SPDX-License-Identifier: MIT */
/*
 * credential-problem.h — what a credential that must be read or fetched before a token request
 * says when it cannot be used, and how a token request waits for one that is being fetched.
 * Shared by client-credential.c, managed-identity.c and token.c.
 */
#pragma once

#include <stdbool.h>
#include <stdlib.h>

typedef struct CredentialProblem {
        const char *reason; /* static: the error's data.reason, "client_assertion_unavailable" … */
        char *message;      /* names the file or the endpoint and what is wrong with it */
        bool transient;     /* a service that may answer next time: requests keep waiting for the
                             * retry; otherwise they are failed at once (the retry still comes) */
        bool recheck;       /* asking again costs a file read: each new request asks again
                             * rather than getting this answer, so a file put back is used at once */
} CredentialProblem;

static inline void credential_problem_done(CredentialProblem *p) {
        free(p->message);
        p->message = NULL;
}

typedef struct CredentialWaiter CredentialWaiter;

/* problem is NULL when the credential can now be asked again. Called from the event loop. */
typedef void (*credential_ready_t)(const CredentialProblem *problem, void *userdata);

/* Stops waiting; NULL is fine. A waiter is freed by its credential after its callback. */
CredentialWaiter *credential_waiter_free(CredentialWaiter *w);
