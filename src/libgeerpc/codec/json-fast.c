/* SPDX-License-Identifier: MIT */
#include "codec/json-fast.h"
#include "codec/json-span.h"

typedef struct Cursor {
        const char *p, *end;
} Cursor;

static void skip_ws(Cursor *c) {
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
                c->p++;
}

static bool take(Cursor *c, char ch) {
        skip_ws(c);
        if (c->p < c->end && *c->p == ch) {
                c->p++;
                return true;
        }
        return false;
}

static bool at_end(Cursor *c) {
        skip_ws(c);
        return c->p == c->end;
}

/* A string of plain ASCII: no escapes, no control bytes, no non-ASCII
 * (which would need UTF-8 validation). */
static bool plain_string(Cursor *c, const char **ret, size_t *ret_len) {
        if (!take(c, '"'))
                return false;
        const char *s = c->p;
        c->p += json_span_plain(c->p, (size_t) (c->end - c->p));
        if (c->p >= c->end || *c->p != '"')
                return false;
        *ret = s;
        *ret_len = (size_t) (c->p - s);
        c->p++;
        return true;
}

/* Digits without leading zeros, not followed by a fraction or exponent. */
static bool plain_u64(Cursor *c, uint64_t *ret) {
        skip_ws(c);
        const char *s = c->p;
        uint64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
                unsigned d = (unsigned) (*c->p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return false;
                v = v * 10 + d;
                c->p++;
        }
        size_t l = (size_t) (c->p - s);
        if (l == 0 || (l > 1 && s[0] == '0'))
                return false;
        if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E'))
                return false;
        *ret = v;
        return true;
}

static bool plain_i64(Cursor *c, int64_t *ret) {
        skip_ws(c);
        bool neg = c->p < c->end && *c->p == '-';
        if (neg)
                c->p++;
        /* A space after the sign is not JSON. */
        if (neg && (c->p >= c->end || *c->p < '0' || *c->p > '9'))
                return false;
        uint64_t u;
        if (!plain_u64(c, &u))
                return false;
        if (neg ? u > (uint64_t) INT64_MAX + 1 : u > (uint64_t) INT64_MAX)
                return false;
        *ret = neg ? (int64_t) ((uint64_t) 0 - u) : (int64_t) u;
        return true;
}

static bool literal(Cursor *c, const char *word) {
        size_t l = strlen(word);
        if ((size_t) (c->end - c->p) < l || memcmp(c->p, word, l) != 0)
                return false;
        c->p += l;
        return true;
}

static bool is_key(const char *k, size_t l, const char *want) {
        return strlen(want) == l && memcmp(k, want, l) == 0;
}

int json_fast_parse_header(const char *p, size_t n, char **ret_service_method, uint64_t *ret_seq,
                           char **ret_error) {
        Cursor c = { p, p + n };
        const char *sm = "", *err = "";
        size_t sm_len = 0, err_len = 0;
        uint64_t seq = 0;
        unsigned seen = 0;

        if (!take(&c, '{'))
                return 0;
        if (!take(&c, '}'))
                for (;;) {
                        const char *k;
                        size_t kl;
                        if (!plain_string(&c, &k, &kl) || !take(&c, ':'))
                                return 0;
                        /* A field given twice is the general path's to
                         * decide: jansson keeps only the last value. */
                        unsigned bit = is_key(k, kl, "Seq") ? 1 : is_key(k, kl, "ServiceMethod") ? 2
                                       : is_key(k, kl, "Error")                            ? 4
                                                                                          : 0;
                        if (seen & bit)
                                return 0;
                        seen |= bit;
                        skip_ws(&c);
                        if (literal(&c, "null"))
                                ; /* null leaves the field alone, as in Go */
                        else if (is_key(k, kl, "Seq")) {
                                if (!plain_u64(&c, &seq))
                                        return 0;
                        } else if (is_key(k, kl, "ServiceMethod")) {
                                if (!plain_string(&c, &sm, &sm_len))
                                        return 0;
                        } else if (is_key(k, kl, "Error")) {
                                if (!plain_string(&c, &err, &err_len))
                                        return 0;
                        } else
                                return 0; /* other fields or casings: the general path */
                        if (take(&c, '}'))
                                break;
                        if (!take(&c, ','))
                                return 0;
                }
        if (!at_end(&c))
                return 0;

        char *a = strndup(sm, sm_len), *b = strndup(err, err_len);
        if (!a || !b) {
                free(a);
                free(b);
                return -ENOMEM;
        }
        *ret_service_method = a;
        *ret_seq = seq;
        *ret_error = b;
        return 1;
}

/* A scalar; NULL to decline. */
static json_t *scalar(Cursor *c) {
        skip_ws(c);
        if (c->p >= c->end)
                return NULL;
        char ch = *c->p;
        if (ch == '"') {
                const char *s;
                size_t l;
                return plain_string(c, &s, &l) ? json_stringn_nocheck(s, l) : NULL;
        }
        if (ch == '-' || (ch >= '0' && ch <= '9')) {
                int64_t v;
                return plain_i64(c, &v) ? json_integer(v) : NULL;
        }
        if (literal(c, "true"))
                return json_true();
        if (literal(c, "false"))
                return json_false();
        if (literal(c, "null"))
                return json_null();
        return NULL;
}

static json_t *flat_object(Cursor *c) {
        json_t *o = json_object();
        if (!o || take(c, '}'))
                return o;
        for (;;) {
                const char *k;
                size_t kl;
                if (!plain_string(c, &k, &kl) || !take(c, ':'))
                        goto decline;
                json_t *v = scalar(c);
                if (!v)
                        goto decline;
                /* Keys are plain ASCII without NUL: _nocheck is safe. A
                 * repeated key replaces the earlier value, as in jansson. */
                if (json_object_setn_new_nocheck(o, k, kl, v) < 0)
                        goto decline;
                if (take(c, '}'))
                        return o;
                if (!take(c, ','))
                        goto decline;
        }
decline:
        json_decref(o);
        return NULL;
}

static json_t *flat_array(Cursor *c) {
        json_t *a = json_array();
        if (!a || take(c, ']'))
                return a;
        for (;;) {
                json_t *v = scalar(c);
                if (!v || json_array_append_new(a, v) < 0)
                        goto decline;
                if (take(c, ']'))
                        return a;
                if (!take(c, ','))
                        goto decline;
        }
decline:
        json_decref(a);
        return NULL;
}

json_t *json_fast_parse_value(const char *p, size_t n) {
        Cursor c = { p, p + n };
        json_t *v;

        if (take(&c, '{'))
                v = flat_object(&c);
        else if (take(&c, '['))
                v = flat_array(&c);
        else
                v = scalar(&c);
        if (v && !at_end(&c)) {
                json_decref(v);
                return NULL;
        }
        return v;
}
