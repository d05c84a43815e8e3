/* SPDX-License-Identifier: MIT */
#pragma once

/* One message of the wire protocol: a header and a body
 * (docs/PROTOCOL.md, "RPC connections"). */

#include <jansson.h>

#include "basic/macro.h"

typedef struct Message {
        char *service_method; /* "Service.Method" */
        uint64_t seq;         /* chosen by the client; replies echo it */
        char *error;          /* NULL or empty on success */
        json_t *body;         /* the decoded body; NULL when body_error is set */
        char *body_error;     /* the body was read but did not decode */
} Message;

static inline void message_done(Message *m) {
        free(m->service_method);
        free(m->error);
        free(m->body_error);
        if (m->body)
                json_decref(m->body);
        *m = (Message) {};
}
