/* SPDX-License-Identifier: MIT */
#include "codec/json-scanner.h"
#include "codec/json-span.h"

void json_scanner_init(JsonScanner *s, size_t max_size) {
        *s = (JsonScanner) { .max_size = max_size ?: JSON_VALUE_MAX_DEFAULT };
}

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_scalar_start(char c) {
        return c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n';
}

static bool ends_scalar(char c) {
        return is_ws(c) || c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':' || c == '"';
}

int json_scanner_scan(JsonScanner *s, const char *buf, size_t len, size_t *ret_start, size_t *ret_end) {
        size_t i = s->offset;

        if (!s->started) {
                while (i < len && is_ws(buf[i]))
                        i++;
                if (i == len) {
                        s->offset = i;
                        return 0;
                }
                char c = buf[i];
                s->start = i;
                s->started = true;
                s->depth = 0;
                s->in_string = s->escape = s->scalar = false;
                s->plain = true;
                if (c == '{' || c == '[')
                        s->depth = 1;
                else if (c == '"')
                        s->in_string = true;
                else if (is_scalar_start(c))
                        s->scalar = true;
                else
                        return -EBADMSG;
                i++;
        }

        /* Never look further than the size bound allows. */
        size_t limit = len;
        if (limit - s->start > s->max_size)
                limit = s->start + s->max_size;

        if (s->scalar) {
                while (i < limit && !ends_scalar(buf[i]))
                        i++;
                if (i < limit) {
                        *ret_start = s->start;
                        *ret_end = i;
                        s->offset = i;
                        s->started = false;
                        return 1;
                }
                goto need_more;
        }

        while (i < limit) {
                if (s->in_string) {
                        /* Ordinary string bytes are most of a large value:
                         * skip them a run at a time. */
                        const char *q = buf + i;
                        const char *e = buf + limit;
                        if (s->escape) {
                                s->escape = false;
                                i++;
                                continue;
                        }
                        q += json_span_plain(q, (size_t) (e - q));
                        i = (size_t) (q - buf);
                        if (i >= limit)
                                break;
                        if (*q == '\\') {
                                s->escape = true;
                                s->plain = false;
                        } else if (*q == '"') {
                                s->in_string = false;
                                if (s->depth == 0) {
                                        i++;
                                        goto done;
                                }
                        } else
                                /* A control or non-ASCII byte: whoever
                                 * parses the value checks it. */
                                s->plain = false;
                        i++;
                        continue;
                }
                char c = buf[i++];
                switch (c) {
                case '"':
                        s->in_string = true;
                        break;
                case '{':
                case '[':
                        if (++s->depth > JSON_DEPTH_MAX)
                                return -EMSGSIZE;
                        break;
                case '}':
                case ']':
                        if (--s->depth == 0)
                                goto done;
                        break;
                default:
                        break;
                }
        }

need_more:
        s->offset = i;
        if (len - s->start >= s->max_size)
                return -EMSGSIZE;
        return 0;

done:
        *ret_start = s->start;
        *ret_end = i;
        s->offset = i;
        s->started = false;
        return 1;
}

void json_scanner_consumed(JsonScanner *s, size_t n) {
        /* Only called between values: the offset becomes relative to the
         * new front of the buffer. */
        s->offset = s->offset > n ? s->offset - n : 0;
        s->started = false;
}
