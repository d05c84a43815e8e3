/* SPDX-License-Identifier: MIT */
#pragma once

/* HTTP requests through libcurl's multi interface, driven by an sd-event
 * loop (curl's socket and timer callbacks become sd-event io and time
 * sources), so that a slow or dead peer never blocks the loop. Used for
 * heartbeats, discovery and the etcd back end.
 *
 * Everything here runs on the loop's thread. http_perform() runs one request
 * on a private loop, for callers on threads without a loop. */

#include <systemd/sd-event.h>

#include "basic/buffer.h"

/* Named limits. */
#define HTTP_RESPONSE_MAX_DEFAULT (8U * 1024U * 1024U) /* body bytes kept */
#define HTTP_HEADERS_MAX (256U * 1024U)                /* header bytes kept */
#define HTTP_TIMEOUT_DEFAULT_USEC (10 * USEC_PER_SEC)
#define HTTP_CONNECT_TIMEOUT_DEFAULT_USEC (5 * USEC_PER_SEC)

/* libcurl's own limit on one response header line (CURL_MAX_HTTP_HEADER,
 * 100 KiB); a longer one fails the request with -EMSGSIZE and this text. */
#define HTTP_HEADER_LINE_TOO_LONG "a response header is longer than libcurl accepts (100 KiB)"

typedef struct HttpClient HttpClient;
typedef struct HttpRequest HttpRequest;

typedef struct HttpResponse {
        int result;        /* 0, or a negative errno (-ETIMEDOUT, -ECONNREFUSED, -EIO, -EMSGSIZE, -ECANCELED) */
        const char *error; /* when result < 0: libcurl's one-line reason */
        long status;       /* HTTP status, 0 if none came */
        const Buffer *headers; /* raw header lines of the final response */
        const Buffer *body;    /* unless streamed */
} HttpResponse;

typedef struct HttpRequestSpec {
        const char *method; /* "GET" (default), "POST", "DELETE", ... */
        const char *url;
        const char *const *headers; /* NULL-terminated "Name: value", or NULL */
        const void *body;
        size_t body_size;
        usec_t timeout;         /* whole transfer; 0: HTTP_TIMEOUT_DEFAULT_USEC; USEC_INFINITY: none */
        usec_t connect_timeout; /* 0: HTTP_CONNECT_TIMEOUT_DEFAULT_USEC */
        size_t max_response;    /* 0: HTTP_RESPONSE_MAX_DEFAULT */
        /* Streaming (a watch): called for each body chunk instead of
         * collecting it; return < 0 to abort the transfer. */
        int (*on_data)(HttpRequest *r, const char *data, size_t size, void *userdata);
} HttpRequestSpec;

/* Called once per request, on the loop thread, unless it was cancelled.
 * The response and its buffers are valid during the call only. */
typedef void (*http_done_t)(HttpRequest *r, const HttpResponse *resp, void *userdata);

int http_client_new(HttpClient **ret, sd_event *event);
/* Cancels every request still running (their callbacks are not called). */
HttpClient *http_client_free(HttpClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpClient *, http_client_free);
unsigned http_client_n_running(HttpClient *c);

/* Starts a request. ret (optional) is a borrowed handle, valid until the
 * callback returns or the request is cancelled. */
int http_request_start(HttpClient *c, const HttpRequestSpec *spec, http_done_t done, void *userdata,
                       HttpRequest **ret);
/* Stops a running request; its callback is not called. */
void http_request_cancel(HttpRequest *r);

/* The value of a header of the response (case-insensitive name), copied
 * into a malloc'd string, or NULL. */
char *http_header_get(const Buffer *headers, const char *name);

/* Runs one request to completion on a private loop (for threads without a
 * loop). ret receives copies of headers and body; free with
 * http_result_done(). */
typedef struct HttpResult {
        int result;
        char *error;
        long status;
        Buffer headers;
        Buffer body;
} HttpResult;
int http_perform(const HttpRequestSpec *spec, HttpResult *ret);
void http_result_done(HttpResult *r);
