/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>

#include "codec/json-span.h"
#include "codec/json-writer.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *p, size_t n) {
        unsigned char c = p[0];
        size_t l;
        uint32_t cp;
        if (c < 0x80)
                return 1;
        if ((c & 0xe0) == 0xc0) {
                l = 2;
                cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
                l = 3;
                cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
                l = 4;
                cp = c & 0x07;
        } else
                return 0;
        if (n < l)
                return 0;
        for (size_t i = 1; i < l; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
        if ((l == 2 && cp < 0x80) || (l == 3 && cp < 0x800) || (l == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return l;
}

static const char hex[] = "0123456789abcdef";

/* Writes the escape for the special byte (or UTF-8 sequence) at p into w;
 * returns the bytes of input taken and sets *ret_written. */
static size_t escape_one(const unsigned char *p, const unsigned char *e, char *w, size_t *ret_written) {
        unsigned char c = *p;
        if (c >= 0x80) {
                size_t l = utf8_seq_len(p, (size_t) (e - p));
                if (l == 0) {
                        memcpy(w, "\\ufffd", 6);
                        *ret_written = 6;
                        return 1;
                }
                memcpy(w, p, l);
                *ret_written = l;
                return l;
        }
        w[0] = '\\';
        *ret_written = 2;
        switch (c) {
        case '"':
        case '\\':
                w[1] = (char) c;
                break;
        case '\n':
                w[1] = 'n';
                break;
        case '\r':
                w[1] = 'r';
                break;
        case '\t':
                w[1] = 't';
                break;
        default:
                memcpy(w + 1, "u00", 3);
                w[4] = hex[c >> 4];
                w[5] = hex[c & 15];
                *ret_written = 6;
        }
        return 1;
}

int json_append_stringn(Buffer *out, const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s, *e = p + n;
        int r;

        /* Room for the string as it is; escapes ask for more as they come
         * (each writes at most 6 bytes for what it takes). */
        if (n > SIZE_MAX / 2)
                return -ENOMEM;
        r = buffer_reserve(out, n + 2);
        if (r < 0)
                return r;
        *buffer_tail(out) = '"';
        buffer_advance_end(out, 1);
        for (;;) {
                /* Runs of ordinary bytes are copied whole. */
                size_t k = json_copy_plain(buffer_tail(out), (const char *) p, (size_t) (e - p));
                buffer_advance_end(out, k);
                p += k;
                if (p == e)
                        break;
                r = buffer_reserve(out, (size_t) (e - p) + 6 + 1);
                if (r < 0)
                        return r;
                size_t written;
                p += escape_one(p, e, buffer_tail(out), &written);
                buffer_advance_end(out, written);
        }
        *buffer_tail(out) = '"';
        buffer_advance_end(out, 1);
        return 0;
}

int json_append_string(Buffer *out, const char *s) {
        return json_append_stringn(out, s, strlen(s));
}

int json_append_u64(Buffer *out, uint64_t v) {
        char tmp[24];
        size_t i = sizeof tmp;
        do {
                tmp[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v > 0);
        return buffer_append(out, tmp + i, sizeof tmp - i);
}

int json_append_i64(Buffer *out, int64_t v) {
        if (v >= 0)
                return json_append_u64(out, (uint64_t) v);
        int r = buffer_append(out, "-", 1);
        if (r < 0)
                return r;
        return json_append_u64(out, (uint64_t) 0 - (uint64_t) v);
}

/* The shortest of %.15g..%.17g that reads back as the same double (Go
 * prints the shortest form too), with ".0" added to integral values so that
 * the value stays a real when read back. */
static int append_real(Buffer *out, double d) {
        if (!isfinite(d))
                return -EINVAL;
        char tmp[40];
        int k = 0;
        for (int prec = 15; prec <= 17; prec++) {
                k = snprintf(tmp, sizeof tmp - 3, "%.*g", prec, d);
                if (strtod(tmp, NULL) == d)
                        break;
        }
        if (!strpbrk(tmp, ".eEn")) {
                memcpy(tmp + k, ".0", 3);
                k += 2;
        }
        return buffer_append(out, tmp, (size_t) k);
}

static int append_value(Buffer *out, json_t *v, unsigned depth) {
        int r = 0;

        if (depth > JSON_WRITE_DEPTH_MAX)
                return -ELOOP;

        switch (json_typeof(v)) {
        case JSON_OBJECT: {
                const char *key;
                json_t *val;
                bool first = true;
                r = buffer_append(out, "{", 1);
                json_object_foreach(v, key, val) {
                        if (r >= 0 && !first)
                                r = buffer_append(out, ",", 1);
                        first = false;
                        if (r >= 0)
                                r = json_append_string(out, key);
                        if (r >= 0)
                                r = buffer_append(out, ":", 1);
                        if (r >= 0)
                                r = append_value(out, val, depth + 1);
                        if (r < 0)
                                return r;
                }
                return r < 0 ? r : buffer_append(out, "}", 1);
        }
        case JSON_ARRAY: {
                size_t i;
                json_t *val;
                r = buffer_append(out, "[", 1);
                json_array_foreach(v, i, val) {
                        if (r >= 0 && i > 0)
                                r = buffer_append(out, ",", 1);
                        if (r >= 0)
                                r = append_value(out, val, depth + 1);
                        if (r < 0)
                                return r;
                }
                return r < 0 ? r : buffer_append(out, "]", 1);
        }
        case JSON_STRING:
                return json_append_stringn(out, json_string_value(v), json_string_length(v));
        case JSON_INTEGER:
                return json_append_i64(out, json_integer_value(v));
        case JSON_REAL:
                return append_real(out, json_real_value(v));
        case JSON_TRUE:
                return buffer_append(out, "true", 4);
        case JSON_FALSE:
                return buffer_append(out, "false", 5);
        case JSON_NULL:
                return buffer_append(out, "null", 4);
        }
        return -EINVAL;
}

int json_append_value(Buffer *out, json_t *v) {
        if (!v)
                return -EINVAL;
        return append_value(out, v, 0);
}
