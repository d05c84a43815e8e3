/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cluster/server-meta.h"
#include "geerpc/server.h"
#include "codec/json-writer.h"
#include "rpc/service-name.h"

void server_meta_done(ServerMeta *m) {
        m->services = strv_free(m->services);
        m->labels = strv_free(m->labels);
}

int server_meta_copy(const ServerMeta *m, ServerMeta *ret) {
        ServerMeta c = { .weight = m->weight };
        if (strv_copy(m->services, &c.services) < 0 || strv_copy(m->labels, &c.labels) < 0) {
                server_meta_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

bool server_meta_equal(const ServerMeta *a, const ServerMeta *b) {
        return a->weight == b->weight && !a->services == !b->services && strv_equal(a->services, b->services) &&
               strv_equal(a->labels, b->labels);
}

bool server_meta_offers(const ServerMeta *m, const char *service) {
        /* Every geerpc server has the built-in service; none announces it. */
        return !service || !m->services || streq(service, GEERPC_BUILTIN_SERVICE) ||
               strv_contains(m->services, service);
}

/* ---- labels ------------------------------------------------------------------ */

static bool is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool key_char(char c) {
        return is_alnum(c) || c == '_' || c == '.' || c == '-';
}

static bool value_char(char c) {
        return is_alnum(c) || (c && strchr("_.-:/@+", c));
}

static bool key_is_validn(const char *k, size_t n) {
        if (n == 0 || n > GEERPC_LABEL_KEY_MAX || !((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z')))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!key_char(k[i]))
                        return false;
        return true;
}

static bool value_is_validn(const char *v, size_t n) {
        if (n > GEERPC_LABEL_VALUE_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!value_char(v[i]))
                        return false;
        return true;
}

bool server_label_key_is_valid(const char *key) {
        return key && key_is_validn(key, strlen(key));
}

bool server_label_value_is_valid(const char *value) {
        return value && value_is_validn(value, strlen(value));
}

/* ---- the header forms -------------------------------------------------------- */

typedef int (*item_t)(const char *p, size_t n, char ***v, const char **ret_reason);

/* Calls item for each comma-separated item of s, blanks trimmed; empty
 * items are skipped. */
static int split(const char *s, item_t item, char ***v, const char **ret_reason) {
        for (const char *p = s; *p;) {
                size_t n = strcspn(p, ",");
                const char *b = p, *e = p + n;
                while (b < e && (*b == ' ' || *b == '\t'))
                        b++;
                while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                if (e > b) {
                        int r = item(b, (size_t) (e - b), v, ret_reason);
                        if (r < 0)
                                return r;
                }
                p += n + (p[n] == ',');
        }
        return 0;
}

static int push_n(char ***v, const char *p, size_t n) {
        _cleanup_free_ char *s = strndup(p, n);
        return s ? strv_push(v, s) : -ENOMEM;
}

static int service_item(const char *p, size_t n, char ***v, const char **ret_reason) {
        if (!service_name_is_validn(p, n)) {
                *ret_reason = "a service name must be 1-64 ASCII letters, digits or '_'";
                return -EINVAL;
        }
        if (strv_length(*v) >= GEERPC_SERVICES_MAX) {
                *ret_reason = "more than 64 services";
                return -EINVAL;
        }
        return push_n(v, p, n);
}

int server_meta_parse_services(const char *s, char ***ret, const char **ret_reason) {
        _cleanup_strv_free_ char **v = calloc(1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        int r = split(s, service_item, &v, ret_reason);
        if (r < 0)
                return r;
        strv_sort_unique(v);
        *ret = TAKE_PTR(v);
        return 0;
}

int server_meta_parse_weight(const char *s, unsigned *ret, const char **ret_reason) {
        while (*s == ' ' || *s == '\t')
                s++;
        unsigned w = 0;
        size_t i = 0;
        for (; s[i] >= '0' && s[i] <= '9' && w <= GEERPC_WEIGHT_MAX; i++)
                w = w * 10 + (unsigned) (s[i] - '0');
        size_t digits = i;
        while (s[i] == ' ' || s[i] == '\t')
                i++;
        if (digits == 0 || s[i] || w > GEERPC_WEIGHT_MAX) {
                *ret_reason = "a weight must be an integer from 0 to 1000";
                return -EINVAL;
        }
        *ret = w;
        return 0;
}

static int label_item(const char *p, size_t n, char ***v, const char **ret_reason) {
        const char *eq = memchr(p, '=', n);
        if (!eq) {
                *ret_reason = "a label must be key=value";
                return -EINVAL;
        }
        size_t kl = (size_t) (eq - p);
        if (!key_is_validn(p, kl)) {
                *ret_reason = "a label key must be 1-64 ASCII letters, digits, '_', '.' or '-', starting with a letter";
                return -EINVAL;
        }
        if (!value_is_validn(eq + 1, n - kl - 1)) {
                *ret_reason = "a label value must be 0-128 ASCII letters, digits or _ . - : / @ +";
                return -EINVAL;
        }
        for (char **q = *v; q && *q; q++)
                if (strncmp(*q, p, kl + 1) == 0) {
                        *ret_reason = "a label key appears twice";
                        return -EINVAL;
                }
        if (strv_length(*v) >= GEERPC_LABELS_MAX) {
                *ret_reason = "more than 16 labels";
                return -EINVAL;
        }
        return push_n(v, p, n);
}

/* "k=v" strings by key ('=' sorts after '-', '.' and digits, so the
 * strings themselves do not sort by key). */
static int cmp_label(const void *a, const void *b) {
        const char *x = *(char *const *) a, *y = *(char *const *) b;
        size_t kx = strcspn(x, "="), ky = strcspn(y, "=");
        int c = strncmp(x, y, MIN(kx, ky));
        return c != 0 ? c : kx < ky ? -1 : kx > ky;
}

static void sort_labels(char **v) {
        if (v)
                qsort(v, strv_length(v), sizeof(char *), cmp_label);
}

int server_meta_parse_labels(const char *s, char ***ret, const char **ret_reason) {
        _cleanup_strv_free_ char **v = NULL;
        int r = split(s, label_item, &v, ret_reason);
        if (r < 0)
                return r;
        sort_labels(v);
        *ret = TAKE_PTR(v);
        return 0;
}

/* ---- JSON -------------------------------------------------------------------- */

int server_meta_append_json(Buffer *out, const ServerMeta *m) {
        int r = 0;
        if (m->services) {
                r = buffer_append(out, ",\"services\":[", 13);
                for (char **p = m->services; r >= 0 && *p; p++) {
                        if (p != m->services)
                                r = buffer_append(out, ",", 1);
                        if (r >= 0)
                                r = json_append_string(out, *p);
                }
                if (r >= 0)
                        r = buffer_append(out, "]", 1);
        }
        /* The default goes without saying: a server registered the Go
         * original's way is listed exactly as before weights. */
        if (r >= 0 && m->weight != GEERPC_WEIGHT_DEFAULT) {
                r = buffer_append(out, ",\"weight\":", 10);
                if (r >= 0)
                        r = json_append_u64(out, m->weight);
        }
        if (r >= 0 && m->labels) {
                r = buffer_append(out, ",\"labels\":{", 11);
                for (char **p = m->labels; r >= 0 && *p; p++) {
                        const char *eq = strchr(*p, '=');
                        if (p != m->labels)
                                r = buffer_append(out, ",", 1);
                        if (r >= 0)
                                r = json_append_stringn(out, *p, (size_t) (eq - *p));
                        if (r >= 0)
                                r = buffer_append(out, ":", 1);
                        if (r >= 0)
                                r = json_append_string(out, eq + 1);
                }
                if (r >= 0)
                        r = buffer_append(out, "}", 1);
        }
        return r;
}

static int services_from_json(json_t *a, char ***ret, const char **ret_reason) {
        if (!a) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_array(a)) {
                *ret_reason = "\"services\" must be an array of names";
                return -EINVAL;
        }
        _cleanup_strv_free_ char **v = calloc(1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e) {
                if (!json_is_string(e)) {
                        *ret_reason = "\"services\" must be an array of names";
                        return -EINVAL;
                }
                int r = service_item(json_string_value(e), json_string_length(e), &v, ret_reason);
                if (r < 0)
                        return r;
        }
        strv_sort_unique(v);
        *ret = TAKE_PTR(v);
        return 0;
}

static int labels_from_json(json_t *o, char ***ret, const char **ret_reason) {
        _cleanup_strv_free_ char **v = NULL;
        if (o && !json_is_object(o)) {
                *ret_reason = "\"labels\" must be an object of strings";
                return -EINVAL;
        }
        const char *k;
        json_t *val;
        json_object_foreach(o, k, val) {
                if (!json_is_string(val)) {
                        *ret_reason = "\"labels\" must be an object of strings";
                        return -EINVAL;
                }
                _cleanup_free_ char *item = NULL;
                if (asprintf(&item, "%s=%s", k, json_string_value(val)) < 0)
                        return -ENOMEM;
                int r = label_item(item, strlen(item), &v, ret_reason);
                if (r < 0)
                        return r;
        }
        sort_labels(v);
        *ret = TAKE_PTR(v);
        return 0;
}

int server_meta_from_json(json_t *obj, ServerMeta *ret, const char **ret_reason) {
        ServerMeta m = SERVER_META_DEFAULT;
        json_t *w = json_object_get(obj, "weight");
        if (w && (!json_is_integer(w) || json_integer_value(w) < 0 ||
                  json_integer_value(w) > (json_int_t) GEERPC_WEIGHT_MAX)) {
                *ret_reason = "a weight must be an integer from 0 to 1000";
                return -EINVAL;
        }
        if (w)
                m.weight = (unsigned) json_integer_value(w);
        int r = services_from_json(json_object_get(obj, "services"), &m.services, ret_reason);
        if (r >= 0)
                r = labels_from_json(json_object_get(obj, "labels"), &m.labels, ret_reason);
        if (r < 0) {
                server_meta_done(&m);
                return r;
        }
        *ret = m;
        return 0;
}
