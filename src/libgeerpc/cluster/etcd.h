/* SPDX-License-Identifier: MIT */
#pragma once

/* etcd v3 through its JSON gateway (POST /v3/...), shared by the etcd
 * registration and discovery back ends: the URL form, key encoding, and
 * requests that fail over to the next endpoint on a connection error.
 *
 * Registry URLs: etcd://HOST:PORT[,HOST:PORT...][/PREFIX]; the default
 * prefix is /geerpc/services. A server's key is PREFIX/ADDR. The gateway
 * wants keys and values in base64 and returns int64 fields as strings. */

#include <jansson.h>

#include "http/http-client.h"

#define ETCD_PREFIX_DEFAULT "/geerpc/services"
#define ETCD_ENDPOINTS_MAX 16
#define ETCD_RESPONSE_MAX (8U * 1024U * 1024U)

typedef struct EtcdTarget {
        char *endpoints[ETCD_ENDPOINTS_MAX]; /* "http://HOST:PORT" */
        size_t n_endpoints;
        size_t current; /* the endpoint that answered last */
        char *prefix;   /* without a trailing slash */
} EtcdTarget;

bool etcd_url_is(const char *url);
/* -EINVAL with *ret_reason for malformed URLs, -ENOMEM. */
int etcd_url_parse(const char *url, EtcdTarget *ret, const char **ret_reason);
void etcd_target_done(EtcdTarget *t);

/* PREFIX + "/" + addr, and the range [PREFIX/, PREFIX0) covering them all. */
char *etcd_key_for(const EtcdTarget *t, const char *addr);
char *etcd_range_start(const EtcdTarget *t);
char *etcd_range_end(const EtcdTarget *t);

char *base64_encode(const void *p, size_t n);
/* -EINVAL for anything that is not standard padded base64. */
int base64_decode(const char *s, char **ret, size_t *ret_len);

/* An int64 the gateway sent as a JSON string (or, leniently, a number). */
int etcd_json_int(json_t *v, int64_t *ret);

typedef struct EtcdCall EtcdCall;

/* Called once on the loop: result < 0 when no endpoint answered (error
 * says why); otherwise status is the HTTP status and response the parsed
 * body (borrowed; NULL if it was not JSON). */
typedef void (*etcd_done_t)(EtcdCall *call, int result, const char *error, long status, json_t *response,
                            void *userdata);

/* POSTs body (borrowed) to path on the current endpoint, moving on to the
 * next on a connection failure, each attempt bounded by timeout. */
int etcd_call(HttpClient *http, EtcdTarget *t, const char *path, json_t *body, usec_t timeout, etcd_done_t done,
              void *userdata, EtcdCall **ret);
void etcd_call_cancel(EtcdCall *call);

/* The same, blocking, on a private loop (for threads without one). */
int etcd_call_sync(EtcdTarget *t, const char *path, json_t *body, usec_t timeout, long *ret_status,
                   json_t **ret_response, char **ret_error);

/* The gateway's error text of a failed response ({"error":..,"code":..}). */
const char *etcd_error_message(json_t *response);
