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

/* Drops the whitespace in front of the next value, so that it costs no
 * memory, and charges it to that value's bound. */
static int skip_whitespace(JsonScanner *s, Buffer *b) {
        const char *p = buffer_data(b);
        size_t len = buffer_len(b), n = 0;
        while (n < len && is_ws(p[n]))
                n++;
        buffer_consume(b, n);
        s->skipped += n;
        return s->skipped >= s->max_size ? -EMSGSIZE : 0;
}

/* The first byte decides what kind of value follows. */
static int start_value(JsonScanner *s, char c) {
        s->started = true;
        s->offset = 1;
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
        return 0;
}

/* A bare scalar ends at the first byte that cannot be part of it, so it is
 * complete only once that byte has arrived. Returns its size, or 0. */
static size_t scan_scalar(JsonScanner *s, const char *p, size_t limit) {
        size_t i = s->offset;
        while (i < limit && !ends_scalar(p[i]))
                i++;
        s->offset = i;
        return i < limit ? i : 0;
}

/* Inside a string from p[i]: returns the index after its closing quote
 * (in_string cleared), or limit when it goes on. */
static size_t skip_string(JsonScanner *s, const char *p, size_t i, size_t limit) {
        while (i < limit) {
                if (s->escape) {
                        s->escape = false;
                        i++;
                        continue;
                }
                /* Ordinary string bytes are most of a large value: skip
                 * them a run at a time. */
                i += json_span_plain(p + i, limit - i);
                if (i >= limit)
                        break;
                char c = p[i++];
                if (c == '"') {
                        s->in_string = false;
                        return i;
                }
                if (c == '\\')
                        s->escape = true;
                /* An escape, or a control or non-ASCII byte: whoever parses
                 * the value checks it. */
                s->plain = false;
        }
        return limit;
}

/* An object, an array or a string: complete when the depth returns to 0
 * (or the top-level string closes). Returns its size, 0, or -EMSGSIZE
 * past the depth limit. */
static ssize_t scan_nested(JsonScanner *s, const char *p, size_t limit) {
        size_t i = s->offset;
        while (i < limit) {
                if (s->in_string) {
                        i = skip_string(s, p, i, limit);
                        if (!s->in_string && s->depth == 0)
                                return (ssize_t) i;
                        continue;
                }
                switch (p[i++]) {
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
                                return (ssize_t) i;
                        break;
                default:
                        break;
                }
        }
        s->offset = i;
        return 0;
}

int json_scanner_scan(JsonScanner *s, Buffer *b, size_t *ret_size) {
        int r;

        if (!s->started) {
                r = skip_whitespace(s, b);
                if (r < 0)
                        return r;
                if (buffer_len(b) == 0)
                        return 0;
                r = start_value(s, buffer_data(b)[0]);
                if (r < 0)
                        return r;
        }

        /* Never look further than the bound allows; skip_whitespace()
         * left room for at least one byte. */
        size_t len = buffer_len(b), budget = s->max_size - s->skipped;
        size_t limit = MIN(len, budget);
        ssize_t size = s->scalar ? (ssize_t) scan_scalar(s, buffer_data(b), limit)
                                 : scan_nested(s, buffer_data(b), limit);
        if (size < 0)
                return (int) size;
        if (size == 0)
                return len >= budget ? -EMSGSIZE : 0;
        s->started = false;
        s->skipped = 0;
        s->offset = 0;
        *ret_size = (size_t) size;
        return 1;
}

void json_scanner_consume(JsonScanner *s, Buffer *b, size_t size) {
        buffer_consume(b, size);
        s->started = false;
        s->offset = 0;
}
