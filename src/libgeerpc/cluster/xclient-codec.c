/* SPDX-License-Identifier: MIT */
#include "basic/log.h"
#include "codec/codec.h"
#include "cluster/xclient-internal.h"

/* Which codec an xclient speaks to each server. A registry may list Go
 * GeeRPC servers, which speak only gob, next to geerpc servers, which
 * speak JSON and gob; nothing in the registry says which is which. Unless
 * a codec is set, the xclient finds out at the first dial of a server and
 * remembers it: it dials with JSON and makes a probe call (a service no
 * server has); any answer means JSON works. A Go server closes the
 * connection at the Option instead, having read nothing else: the xclient
 * dials again with gob. No call of the caller is ever sent on a connection
 * that may be refused, so none can run twice. Why JSON first and not gob
 * for everyone: see docs/ARCHITECTURE.md, "Codecs in a mixed fleet". */

#define PROBE_METHOD "_geerpc_.Codec"

_public_ int geerpc_xclient_set_codec(geerpc_xclient *x, const char *codec_type) {
        if (!x)
                return -EINVAL;
        const CodecType *t = NULL;
        if (codec_type && !(t = codec_type_find(codec_type)))
                return -EPROTONOSUPPORT;
        pthread_mutex_lock(&x->lock);
        x->codec = t ? t->name : NULL;
        pthread_mutex_unlock(&x->lock);
        return 0;
}

void xclient_codecs_free(geerpc_xclient *x) {
        for (size_t i = 0; i < x->n_codecs; i++)
                free(x->codecs[i].addr);
        x->codecs = mfree(x->codecs);
        x->n_codecs = 0;
}

/* Lock held. Dials are rare: a linear search is enough. */
static const char *codec_known_locked(geerpc_xclient *x, const char *addr) {
        for (size_t i = 0; i < x->n_codecs; i++)
                if (streq(x->codecs[i].addr, addr))
                        return x->codecs[i].codec;
        return NULL;
}

const char *xclient_codec_known(geerpc_xclient *x, const char *addr) {
        pthread_mutex_lock(&x->lock);
        const char *codec = codec_known_locked(x, addr);
        pthread_mutex_unlock(&x->lock);
        return codec;
}

void xclient_codec_remember(geerpc_xclient *x, const char *addr, const char *codec) {
        char *copy = strdup(addr);
        if (!copy)
                return; /* then it is found out again next time */
        pthread_mutex_lock(&x->lock);
        if (codec_known_locked(x, addr))
                free(copy);
        else {
                if (x->n_codecs == GEERPC_XCLIENT_CODECS_MAX) {
                        /* The oldest goes: servers come and go. */
                        free(x->codecs[0].addr);
                        memmove(x->codecs, x->codecs + 1, --x->n_codecs * sizeof(XClientCodec));
                }
                XClientCodec *v = reallocarray(x->codecs, x->n_codecs + 1, sizeof(XClientCodec));
                if (v) {
                        x->codecs = v;
                        x->codecs[x->n_codecs++] = (XClientCodec) { copy, codec };
                } else
                        free(copy);
        }
        pthread_mutex_unlock(&x->lock);
}

static int dial_with(const char *addr, const char *codec, usec_t timeout, usec_t handle_timeout, geerpc_client **ret) {
        geerpc_client *c;
        int r = geerpc_client_new(&c);
        if (r < 0)
                return r;
        r = geerpc_client_set_codec(c, codec);
        if (r >= 0)
                r = geerpc_client_set_connect_timeout(c, timeout == USEC_INFINITY ? 0 : timeout);
        if (r >= 0)
                r = geerpc_client_set_handle_timeout(c, handle_timeout);
        if (r >= 0)
                r = geerpc_client_connect(c, addr);
        if (r < 0) {
                log_debug_errno(r, "rpc xclient: cannot connect to %s: %m", addr);
                geerpc_client_unref(c);
                return r;
        }
        *ret = c;
        return 0;
}

int xclient_dial(geerpc_xclient *x, const char *addr, usec_t timeout, geerpc_client **ret) {
        pthread_mutex_lock(&x->lock);
        usec_t handle_timeout = x->handle_timeout;
        const char *codec = x->codec ?: codec_known_locked(x, addr);
        pthread_mutex_unlock(&x->lock);
        if (codec)
                return dial_with(addr, codec, timeout, handle_timeout, ret);

        usec_t deadline = timeout == USEC_INFINITY ? USEC_INFINITY : usec_add(now_usec(CLOCK_MONOTONIC), timeout);
        geerpc_client *c;
        int r = dial_with(addr, GEERPC_CODEC_JSON, timeout, handle_timeout, &c);
        if (r < 0)
                return r;
        usec_t left = deadline == USEC_INFINITY ? 0 : MAX(deadline - MIN(now_usec(CLOCK_MONOTONIC), deadline), (usec_t) 1);
        r = geerpc_client_call(c, PROBE_METHOD, NULL, left, NULL, NULL);
        if (r == 0 || r == -EREMOTEIO) {
                xclient_codec_remember(x, addr, GEERPC_CODEC_JSON);
                *ret = c;
                return 0;
        }
        geerpc_client_unref(c);
        if (!xclient_is_connection_error(r))
                return r; /* no answer in time: nothing learned */

        log_debug("rpc xclient: %s closed a JSON connection unanswered (a Go GeeRPC server?), speaking gob to it", addr);
        if (deadline != USEC_INFINITY) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;
                timeout = deadline - now;
        }
        r = dial_with(addr, GEERPC_CODEC_GOB, timeout, handle_timeout, &c);
        if (r < 0)
                return r;
        xclient_codec_remember(x, addr, GEERPC_CODEC_GOB);
        *ret = c;
        return 0;
}
