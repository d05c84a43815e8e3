/* SPDX-License-Identifier: MIT */

/* gob-echo: geerpc's gob codec between two pipes, for the round-trip table
 * of tests/go/gob-peer.go. It reads a gob stream on stdin of pairs (mode,
 * value) and writes a gob stream on stdout:
 *
 *   "echo", any value   -> its JSON (our decoder's view, as text), then
 *                          the value written again as the type it came
 *                          with (our encoder)
 *   "json", any value   -> its JSON only ("ERROR: why" when it has none)
 *   "infer", JSON text  -> "ok" and the value written as the type our
 *                          encoder infers, or "error: why" and an empty
 *                          struct
 */

#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "basic/buffer.h"
#include "codec/gob-decode.h"
#include "codec/gob-encode.h"
#include "codec/json-writer.h"

static int send_text(GobEncoder *e, Buffer *out, const char *prefix, const char *text, size_t n) {
        Buffer b = {};
        int r = buffer_append(&b, prefix, strlen(prefix));
        if (r >= 0)
                r = buffer_append(&b, text, n);
        json_t *s = r >= 0 ? json_stringn_nocheck(buffer_data(&b), buffer_len(&b)) : NULL;
        r = s ? gob_encode_value(e, out, s) : -ENOMEM;
        if (s)
                json_decref(s);
        buffer_done(&b);
        return r;
}

static int answer(GobDecoder *d, GobEncoder *e, Buffer *out, const char *mode, const GobDecoded *v) {
        int r;
        if (streq(mode, "infer")) {
                json_error_t err;
                json_t *parsed = json_is_string(v->value)
                                         ? json_loadb(json_string_value(v->value), json_string_length(v->value),
                                                      JSON_DECODE_ANY | JSON_ALLOW_NUL, &err)
                                         : NULL;
                if (!parsed)
                        return send_text(e, out, "error: not JSON text", "", 0);
                Buffer value = {};
                r = gob_encode_value(e, &value, parsed);
                json_decref(parsed);
                if (r < 0) {
                        const char *why = gob_encoder_why(e);
                        r = send_text(e, out, "error: ", why, strlen(why));
                        if (r >= 0)
                                r = gob_encode_value(e, out, NULL);
                } else if ((r = send_text(e, out, "ok", "", 0)) >= 0)
                        r = buffer_append(out, buffer_data(&value), buffer_len(&value));
                buffer_done(&value);
                return r;
        }

        if (!v->value)
                r = send_text(e, out, "ERROR: ", v->error, strlen(v->error));
        else {
                Buffer text = {};
                r = json_append_value(&text, v->value);
                if (r >= 0)
                        r = send_text(e, out, "", buffer_data(&text), buffer_len(&text));
                buffer_done(&text);
        }
        if (r < 0 || !streq(mode, "echo"))
                return r;
        if (!v->value)
                return gob_encode_value(e, out, NULL);
        r = gob_encode_value_as(e, out, v->value, gob_decoder_types(d), v->type_id);
        if (r < 0)
                fprintf(stderr, "gob-echo: %s\n", gob_encoder_why(e));
        return r;
}

static int write_all(Buffer *out) {
        while (buffer_len(out) > 0) {
                ssize_t n = write(STDOUT_FILENO, buffer_data(out), buffer_len(out));
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n > 0)
                        buffer_consume(out, (size_t) n);
        }
        return 0;
}

int main(void) {
        GobDecoder *d;
        GobEncoder *e;
        Buffer in = {}, out = {};
        char *mode = NULL;
        int r;

        if (gob_decoder_new(1 << 24, &d) < 0 || gob_encoder_new(&e) < 0)
                return 1;
        for (;;) {
                if ((r = buffer_reserve(&in, 65536)) < 0)
                        return 1;
                ssize_t n = read(STDIN_FILENO, buffer_tail(&in), buffer_room(&in));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                buffer_advance_end(&in, (size_t) n);
                for (;;) {
                        GobDecoded v;
                        r = gob_decode_value(d, (const uint8_t *) buffer_data(&in), buffer_len(&in), &v);
                        buffer_consume(&in, v.consumed);
                        if (r < 0) {
                                fprintf(stderr, "gob-echo: %s\n", gob_decoder_why(d));
                                return 1;
                        }
                        if (r == 0)
                                break;
                        if (!mode) {
                                mode = v.value && json_is_string(v.value) ? strdup(json_string_value(v.value)) : NULL;
                                if (!mode) {
                                        fprintf(stderr, "gob-echo: expected a mode\n");
                                        return 1;
                                }
                        } else {
                                r = answer(d, e, &out, mode, &v);
                                mode = mfree(mode);
                                if (r < 0 || (r = write_all(&out)) < 0) {
                                        fprintf(stderr, "gob-echo: %s\n", strerror(-r));
                                        return 1;
                                }
                        }
                        if (v.value)
                                json_decref(v.value);
                        free(v.error);
                }
        }
        bool whole = buffer_len(&in) == 0 && !mode;
        gob_decoder_free(d);
        gob_encoder_free(e);
        buffer_done(&in);
        buffer_done(&out);
        free(mode);
        return whole ? 0 : 1;
}
