/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "codec/codec.h"
#include "codec/json-util.h"
#include "codec/option.h"

static int fail(char **ret_reason, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(char **ret_reason, int r, const char *fmt, ...) {
        if (ret_reason) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(ret_reason, fmt, ap) < 0)
                        *ret_reason = NULL;
                va_end(ap);
        }
        return r;
}

static int get_int(json_t *o, const char *key, int64_t *ret) {
        json_t *v = json_object_get_fold(o, key);
        if (!v || json_is_null(v)) {
                *ret = 0;
                return 0;
        }
        if (!json_is_integer(v))
                return -EBADMSG;
        *ret = json_integer_value(v);
        return 0;
}

int option_parse(const char *p, size_t n, Option *ret, char **ret_reason) {
        Option o = {};
        _cleanup_free_ char *why = NULL;

        _cleanup_json_ json_t *v = json_parse_value(p, n, 0, &why);
        if (!v)
                return fail(ret_reason, -EBADMSG, "rpc server: options error: %s", why);
        if (!json_is_object(v))
                return fail(ret_reason, -EBADMSG, "rpc server: options error: not a JSON object");

        if (get_int(v, "MagicNumber", &o.magic_number) < 0 || get_int(v, "ConnectTimeout", &o.connect_timeout_ns) < 0 ||
            get_int(v, "HandleTimeout", &o.handle_timeout_ns) < 0)
                return fail(ret_reason, -EBADMSG, "rpc server: options error: a field has the wrong type");
        json_t *ct = json_object_get_fold(v, "CodecType");
        if (ct && !json_is_string(ct) && !json_is_null(ct))
                return fail(ret_reason, -EBADMSG, "rpc server: options error: CodecType is not a string");

        if (o.magic_number != GEERPC_MAGIC_NUMBER)
                return fail(ret_reason, -EPROTO, "rpc server: invalid magic number %" PRIx64, (uint64_t) o.magic_number);

        const char *codec = json_is_string(ct) ? json_string_value(ct) : "";
        if (!codec_type_find(codec) || strlen(codec) >= sizeof o.codec_type)
                return fail(ret_reason, -EPROTONOSUPPORT, "rpc server: invalid codec type %s", codec);
        strcpy(o.codec_type, codec);

        if (o.connect_timeout_ns < 0 || o.handle_timeout_ns < 0)
                return fail(ret_reason, -EBADMSG, "rpc server: options error: negative timeout");

        *ret = o;
        return 0;
}

int option_append(Buffer *out, const Option *o) {
        char tail[128];
        int r;

        /* Field order as Go's json.Encoder writes the struct. */
        int k = snprintf(tail, sizeof tail, "{\"MagicNumber\":%" PRId64 ",\"CodecType\":", o->magic_number);
        r = buffer_append(out, tail, (size_t) k);
        if (r < 0)
                return r;
        r = json_append_string(out, o->codec_type);
        if (r < 0)
                return r;
        k = snprintf(tail, sizeof tail, ",\"ConnectTimeout\":%" PRId64 ",\"HandleTimeout\":%" PRId64 "}\n",
                     o->connect_timeout_ns, o->handle_timeout_ns);
        return buffer_append(out, tail, (size_t) k);
}

int option_append_padded(Buffer *out, const Option *o, size_t size) {
        size_t mark = buffer_len(out);
        int r = option_append(out, o);
        if (r < 0)
                return r;
        /* Drop "}\n", pad, and close it again. */
        size_t len = buffer_len(out) - mark - 2;
        if (len + 1 > size) {
                out->end = out->start + mark;
                return -EINVAL;
        }
        out->end -= 2;
        r = buffer_reserve(out, size - len);
        if (r < 0) {
                out->end = out->start + mark;
                return r;
        }
        memset(buffer_tail(out), ' ', size - len - 1);
        buffer_advance_end(out, size - len - 1);
        return buffer_append(out, "}", 1);
}
