/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <pthread.h>
#include <strings.h>

#include "basic/list.h"
#include "basic/log.h"
#include "http/http-client.h"

struct HttpClient {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        LIST_HEAD(HttpRequest, requests);
        unsigned n_running;
};

struct HttpRequest {
        HttpClient *client;
        CURL *easy;
        struct curl_slist *headers;
        http_done_t done;
        void *userdata;
        int (*on_data)(HttpRequest *r, const char *data, size_t size, void *userdata);
        size_t max_response;
        Buffer response_headers;
        Buffer response_body;
        bool too_large;
        bool aborted_by_stream;
        bool headers_complete; /* the blank line after the headers came */
        char errbuf[CURL_ERROR_SIZE];
        LIST_FIELDS(HttpRequest, requests);
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- curl -> sd-event glue -------------------------------------------------- */

static void check_completed(HttpClient *c);

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HttpClient *c = userdata;
        int action = 0, running;
        if (revents & EPOLLIN)
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;
        (void) curl_multi_socket_action(c->multi, fd, action, &running);
        check_completed(c);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpClient *c = userdata;
        int running;
        (void) curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_completed(c);
        return 0;
}

/* curl says which sockets to watch for what. */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        HttpClient *c = userp;
        sd_event_source *s = socketp;

        if (what == CURL_POLL_REMOVE) {
                if (s) {
                        sd_event_source_disable_unref(s);
                        curl_multi_assign(c->multi, fd, NULL);
                }
                return 0;
        }
        uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
        if (!s) {
                int r = sd_event_add_io(c->event, &s, fd, events, on_io, c);
                if (r < 0) {
                        log_warning_errno(r, "http: cannot watch socket: %m");
                        return -1;
                }
                (void) sd_event_source_set_description(s, "http-socket");
                curl_multi_assign(c->multi, fd, s);
        } else {
                (void) sd_event_source_set_io_events(s, events);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        }
        return 0;
}

/* curl says when it next wants to be called without socket activity. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        HttpClient *c = userp;
        if (timeout_ms < 0) {
                if (c->timer)
                        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
                return 0;
        }
        /* Never call back into curl from here: arm a timer (0 = at once, on
         * the next loop iteration). */
        usec_t usec = (usec_t) timeout_ms * USEC_PER_MSEC;
        int r;
        if (!c->timer) {
                r = sd_event_add_time_relative(c->event, &c->timer, CLOCK_MONOTONIC, usec, TIMER_ACCURACY_PRECISE, on_timer, c);
                if (r < 0)
                        return -1;
                (void) sd_event_source_set_description(c->timer, "http-timer");
        } else {
                r = sd_event_source_set_time_relative(c->timer, usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
                if (r < 0)
                        return -1;
        }
        return 0;
}

/* ---- requests --------------------------------------------------------------- */

static void request_free(HttpRequest *r) {
        HttpClient *c = r->client;
        if (r->easy) {
                curl_multi_remove_handle(c->multi, r->easy);
                curl_easy_cleanup(r->easy);
        }
        curl_slist_free_all(r->headers);
        buffer_done(&r->response_headers);
        buffer_done(&r->response_body);
        LIST_REMOVE(requests, c->requests, r);
        c->n_running--;
        free(r);
}

/* libcurl answers a header line longer than CURL_MAX_HTTP_HEADER with
 * CURLE_OUT_OF_MEMORY and no message: that is what a transfer that ends so
 * in the middle of the headers was. */
static bool header_line_too_long(const HttpRequest *r) {
        return buffer_len(&r->response_headers) > 0 && !r->headers_complete;
}

static int curl_code_to_errno(CURLcode code, const HttpRequest *r) {
        switch (code) {
        case CURLE_OK:
                return 0;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_WRITE_ERROR:
                return r->too_large ? -EMSGSIZE : r->aborted_by_stream ? -ECANCELED : -EIO;
        case CURLE_OUT_OF_MEMORY:
                return header_line_too_long(r) ? -EMSGSIZE : -ENOMEM;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EINVAL;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
                return -ECONNRESET;
        default:
                return -EIO;
        }
}

static void check_completed(HttpClient *c) {
        CURLMsg *m;
        int left;

        while ((m = curl_multi_info_read(c->multi, &left))) {
                if (m->msg != CURLMSG_DONE)
                        continue;
                HttpRequest *r = NULL;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &r);
                if (!r)
                        continue;
                CURLcode code = m->data.result;
                HttpResponse resp = {
                        .result = curl_code_to_errno(code, r),
                        .headers = &r->response_headers,
                        .body = &r->response_body,
                };
                if (code == CURLE_OUT_OF_MEMORY && header_line_too_long(r))
                        resp.error = HTTP_HEADER_LINE_TOO_LONG;
                else if (code != CURLE_OK)
                        resp.error = r->too_large ? "response larger than the limit"
                                     : r->errbuf[0] ? r->errbuf
                                                    : curl_easy_strerror(code);
                curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
                /* The callback may start new requests; it must not free the
                 * client or cancel this request (it is freed right after). */
                r->done(r, &resp, r->userdata);
                request_free(r);
        }
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        HttpRequest *r = userdata;
        size_t len = size * n;
        /* A new status line (after "100 Continue" or a redirect) starts a
         * new set of headers. */
        if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                buffer_clear(&r->response_headers);
                r->headers_complete = false;
        }
        if ((len == 2 && data[0] == '\r') || (len == 1 && data[0] == '\n'))
                r->headers_complete = true;
        if (buffer_len(&r->response_headers) + len > HTTP_HEADERS_MAX) {
                r->too_large = true;
                return 0;
        }
        if (buffer_append(&r->response_headers, data, len) < 0)
                return 0;
        return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        HttpRequest *r = userdata;
        size_t len = size * n;
        if (r->on_data) {
                if (r->on_data(r, data, len, r->userdata) < 0) {
                        r->aborted_by_stream = true;
                        return 0;
                }
                return len;
        }
        if (buffer_len(&r->response_body) + len > r->max_response) {
                r->too_large = true;
                return 0;
        }
        if (buffer_append(&r->response_body, data, len) < 0)
                return 0;
        return len;
}

int http_client_new(HttpClient **ret, sd_event *event) {
        pthread_once(&curl_once, curl_init);
        if (curl_init_result != CURLE_OK)
                return -EIO;

        HttpClient *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->multi = curl_multi_init();
        if (!c->multi) {
                sd_event_unref(c->event);
                free(c);
                return -ENOMEM;
        }
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
        *ret = c;
        return 0;
}

HttpClient *http_client_free(HttpClient *c) {
        if (!c)
                return NULL;
        while (c->requests)
                request_free(c->requests);
        curl_multi_cleanup(c->multi);
        sd_event_source_disable_unref(c->timer);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

unsigned http_client_n_running(HttpClient *c) {
        return c ? c->n_running : 0;
}

/* The request headers: the caller's, and an empty Expect: curl would send
 * "Expect: 100-continue" for large bodies, a round trip for nothing on our
 * small requests. */
static int request_set_headers(HttpRequest *r, const char *const *headers) {
        for (size_t i = 0; headers && headers[i]; i++) {
                struct curl_slist *l = curl_slist_append(r->headers, headers[i]);
                if (!l)
                        return -ENOMEM;
                r->headers = l;
        }
        struct curl_slist *l = curl_slist_append(r->headers, "Expect:");
        if (!l)
                return -ENOMEM;
        r->headers = l;
        return 0;
}

static void request_set_method(CURL *e, const HttpRequestSpec *spec) {
        const char *method = spec->method ?: "GET";
        if (streq(method, "GET"))
                curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        else if (streq(method, "HEAD"))
                curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        else {
                curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
                if (spec->body || streq(method, "POST") || streq(method, "PUT")) {
                        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) spec->body_size);
                        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, spec->body ? spec->body : "");
                }
        }
}

/* Everything the easy handle needs to know: where, how, with which limits,
 * and that its data comes back to r. */
static void request_set_options(HttpRequest *r, const HttpRequestSpec *spec) {
        usec_t timeout = spec->timeout ?: HTTP_TIMEOUT_DEFAULT_USEC;
        usec_t connect_timeout = spec->connect_timeout ?: HTTP_CONNECT_TIMEOUT_DEFAULT_USEC;
        CURL *e = r->easy;
        curl_easy_setopt(e, CURLOPT_URL, spec->url);
        curl_easy_setopt(e, CURLOPT_PRIVATE, r);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        /* The registry is addressed directly; a proxy from the environment
         * would only get in the way. */
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
        if (timeout != USEC_INFINITY)
                curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) MAX(timeout / USEC_PER_MSEC, (usec_t) 1));
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long) MAX(connect_timeout / USEC_PER_MSEC, (usec_t) 1));
        request_set_method(e, spec);
}

int http_request_start(HttpClient *c, const HttpRequestSpec *spec, http_done_t done, void *userdata,
                       HttpRequest **ret) {
        int r;

        if (!c || !spec || !spec->url || !done)
                return -EINVAL;

        HttpRequest *req = calloc(1, sizeof *req);
        if (!req)
                return -ENOMEM;
        req->client = c;
        req->done = done;
        req->userdata = userdata;
        req->on_data = spec->on_data;
        req->max_response = spec->max_response ?: HTTP_RESPONSE_MAX_DEFAULT;
        LIST_PREPEND(requests, c->requests, req);
        c->n_running++;

        req->easy = curl_easy_init();
        r = req->easy ? request_set_headers(req, spec->headers) : -ENOMEM;
        if (r >= 0) {
                request_set_options(req, spec);
                if (curl_multi_add_handle(c->multi, req->easy) != CURLM_OK)
                        r = -EIO;
        }
        if (r < 0) {
                /* Never added to the multi handle: request_free() must not
                 * take it out. */
                if (req->easy)
                        curl_easy_cleanup(TAKE_PTR(req->easy));
                request_free(req);
                return r;
        }
        if (ret)
                *ret = req;
        return 0;
}

void http_request_cancel(HttpRequest *r) {
        if (r)
                request_free(r);
}

char *http_header_get(const Buffer *headers, const char *name) {
        size_t nl = strlen(name);
        const char *p = buffer_data(headers), *end = p + buffer_len(headers);
        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                const char *line_end = eol ? eol : end;
                size_t ll = (size_t) (line_end - p);
                if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
                        const char *v = p + nl + 1, *ve = line_end;
                        while (v < ve && (*v == ' ' || *v == '\t'))
                                v++;
                        while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                                ve--;
                        return strndup(v, (size_t) (ve - v));
                }
                if (!eol)
                        break;
                p = eol + 1;
        }
        return NULL;
}

/* ---- one request on a private loop ----------------------------------------- */

static void sync_done(HttpRequest *req, const HttpResponse *resp, void *userdata) {
        HttpResult *res = userdata;
        res->result = resp->result;
        res->status = resp->status;
        if (resp->error)
                res->error = strdup(resp->error);
        (void) buffer_append(&res->headers, buffer_data(resp->headers), buffer_len(resp->headers));
        (void) buffer_append(&res->body, buffer_data(resp->body), buffer_len(resp->body));
        (void) sd_event_exit(req->client->event, 0);
}

int http_perform(const HttpRequestSpec *spec, HttpResult *ret) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        HttpResult res = { .result = -EIO };
        int r;

        r = sd_event_new(&e);
        if (r < 0)
                return r;
        r = http_client_new(&c, e);
        if (r < 0)
                return r;
        r = http_request_start(c, spec, sync_done, &res, NULL);
        if (r < 0)
                return r;
        r = sd_event_loop(e);
        if (r < 0) {
                http_result_done(&res);
                return r;
        }
        *ret = res;
        return 0;
}

void http_result_done(HttpResult *r) {
        free(r->error);
        buffer_done(&r->headers);
        buffer_done(&r->body);
        *r = (HttpResult) {};
}
