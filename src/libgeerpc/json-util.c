/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <strings.h>

#include "json-util.h"

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

int json_append_string(Buffer *out, const char *s) {
        size_t n = strlen(s);
        /* Worst case: every byte becomes \ufffd (6 bytes), plus quotes. */
        if (n > (SIZE_MAX - 2) / 6)
                return -ENOMEM;
        int r = buffer_reserve(out, n * 6 + 2);
        if (r < 0)
                return r;
        char *w = buffer_tail(out), *w0 = w;
        const unsigned char *p = (const unsigned char *) s, *e = p + n;

        *w++ = '"';
        while (p < e) {
                unsigned char c = *p;
                if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
                        *w++ = (char) c;
                        p++;
                        continue;
                }
                if (c >= 0x80) {
                        size_t l = utf8_seq_len(p, (size_t) (e - p));
                        if (l == 0) {
                                memcpy(w, "\\ufffd", 6);
                                w += 6;
                                p++;
                        } else {
                                memcpy(w, p, l);
                                w += l;
                                p += l;
                        }
                        continue;
                }
                *w++ = '\\';
                switch (c) {
                case '"':
                        *w++ = '"';
                        break;
                case '\\':
                        *w++ = '\\';
                        break;
                case '\n':
                        *w++ = 'n';
                        break;
                case '\r':
                        *w++ = 'r';
                        break;
                case '\t':
                        *w++ = 't';
                        break;
                default:
                        w += sprintf(w, "u%04x", c);
                }
                p++;
        }
        *w++ = '"';
        buffer_advance_end(out, (size_t) (w - w0));
        return 0;
}

int json_append_value(Buffer *out, json_t *v, size_t flags) {
        flags |= JSON_COMPACT | JSON_ENCODE_ANY;
        size_t need = json_dumpb(v, buffer_tail(out), buffer_room(out), flags);
        if (need == 0)
                return -EINVAL;
        if (need > buffer_room(out)) {
                int r = buffer_reserve(out, need);
                if (r < 0)
                        return r;
                if (json_dumpb(v, buffer_tail(out), buffer_room(out), flags) != need)
                        return -EINVAL;
        }
        buffer_advance_end(out, need);
        return 0;
}

json_t *json_object_get_fold(json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        if (v)
                return v;
        const char *k;
        json_object_foreach(o, k, v)
                if (strcasecmp(k, key) == 0)
                        return v;
        return NULL;
}

json_t *json_parse_value(const char *p, size_t n, char **ret_error) {
        json_error_t err;
        json_t *v = json_loadb(p, n, JSON_DECODE_ANY, &err);
        if (!v && ret_error) {
                char *m = NULL;
                if (asprintf(&m, "invalid JSON at byte %d: %s", err.position, err.text) < 0)
                        m = NULL;
                *ret_error = m;
        }
        return v;
}
