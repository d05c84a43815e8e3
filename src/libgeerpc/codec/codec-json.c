/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>

#include "codec/codec.h"
#include "codec/json-fast.h"
#include "codec/json-scanner.h"
#include "codec/json-util.h"

/* application/json: the header and the body are each one JSON value, each
 * written compactly and ended with '\n' (as Go's json.Encoder does). */

typedef struct JsonCodec {
        Codec base;
        JsonScanner scanner;
        bool have_header; /* pending holds a header waiting for its body */
        Message pending;
} JsonCodec;

static int json_codec_init(Codec *c) {
        JsonCodec *j = (JsonCodec *) c;
        json_scanner_init(&j->scanner, c->max_value);
        return 0;
}

static void json_codec_done(Codec *c) {
        JsonCodec *j = (JsonCodec *) c;
        message_done(&j->pending);
}

static int parse_header(const char *p, size_t n, Message *m) {
        int r = json_fast_parse_header(p, n, &m->service_method, &m->seq, &m->error);
        if (r != 0)
                return r < 0 ? r : 0;

        _cleanup_json_ json_t *h = json_parse_value(p, n, 0, NULL);
        if (!h || !json_is_object(h))
                return -EBADMSG;

        json_t *sm = json_object_get_fold(h, "ServiceMethod");
        json_t *seq = json_object_get_fold(h, "Seq");
        json_t *err = json_object_get_fold(h, "Error");

        /* Go decodes missing fields as zero values and null as "leave
         * alone"; a field of the wrong type is a decode error. */
        if (sm && !json_is_string(sm) && !json_is_null(sm))
                return -EBADMSG;
        if (err && !json_is_string(err) && !json_is_null(err))
                return -EBADMSG;
        if (seq && !json_is_null(seq) && (!json_is_integer(seq) || json_integer_value(seq) < 0))
                return -EBADMSG;

        *m = (Message) {};
        m->service_method = strdup(json_is_string(sm) ? json_string_value(sm) : "");
        m->error = strdup(json_is_string(err) ? json_string_value(err) : "");
        if (!m->service_method || !m->error) {
                message_done(m);
                return -ENOMEM;
        }
        m->seq = json_is_integer(seq) ? (uint64_t) json_integer_value(seq) : 0;
        return 0;
}

/* A body that fails to parse is not fatal: body_error says why. */
static void parse_body(const char *p, size_t n, bool plain, Message *m) {
        char *why = NULL;

        /* A string the scanner found plain is its bytes between the quotes:
         * no second look at a value that may be megabytes long. */
        if (plain && n >= 2 && p[0] == '"')
                m->body = json_stringn_nocheck(p + 1, n - 2);
        else
                m->body = json_fast_parse_value(p, n);
        if (!m->body)
                m->body = json_parse_value(p, n, JSON_ALLOW_NUL, &why);
        if (!m->body)
                m->body_error = why ?: strdup("invalid JSON");
}

static int json_codec_decode(Codec *c, Buffer *in, Message *ret) {
        JsonCodec *j = (JsonCodec *) c;

        for (;;) {
                size_t n;
                int r = json_scanner_scan(&j->scanner, in, &n);
                if (r <= 0)
                        return r;

                const char *p = buffer_data(in);
                if (!j->have_header) {
                        r = parse_header(p, n, &j->pending);
                        if (r < 0)
                                return r;
                        j->have_header = true;
                } else {
                        parse_body(p, n, j->scanner.plain, &j->pending);
                }
                json_scanner_consume(&j->scanner, in, n);

                if (j->have_header && (j->pending.body || j->pending.body_error)) {
                        *ret = j->pending;
                        j->pending = (Message) {};
                        j->have_header = false;
                        return 1;
                }
        }
}

static bool json_codec_partial(Codec *c) {
        return ((JsonCodec *) c)->have_header;
}

static int json_codec_encode(Codec *c, Buffer *out, const char *service_method, uint64_t seq, const char *error,
                             json_t *body) {
        size_t mark = buffer_len(out);
        int r;

        /* The header is written by hand: it is on every call's hot path and
         * has a fixed shape, so building a jansson object for it is waste. */
        r = buffer_append(out, "{\"ServiceMethod\":", 17);
        if (r >= 0)
                r = json_append_string(out, strempty(service_method));
        if (r >= 0)
                r = buffer_append(out, ",\"Seq\":", 7);
        if (r >= 0)
                r = json_append_u64(out, seq);
        if (r >= 0)
                r = buffer_append(out, ",\"Error\":", 9);
        if (r >= 0)
                r = json_append_string(out, strempty(error));
        if (r >= 0)
                r = buffer_append(out, "}\n", 2);
        if (r >= 0) {
                if (body)
                        r = json_append_value(out, body);
                else
                        r = buffer_append(out, "{}", 2);
        }
        if (r >= 0)
                r = buffer_append(out, "\n", 1);
        if (r < 0) {
                /* Never leave half a message behind. */
                out->end = out->start + mark;
                return r;
        }
        return 0;
}

const CodecType codec_json = {
        .name = "application/json",
        .object_size = sizeof(JsonCodec),
        .init = json_codec_init,
        .done = json_codec_done,
        .decode = json_codec_decode,
        .encode = json_codec_encode,
        .partial = json_codec_partial,
        .probe = "\n",
};
