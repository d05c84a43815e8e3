/* SPDX-License-Identifier: MIT */
#include "basic/sort-util.h"
#include "basic/strv.h"

char **strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
        return NULL;
}

size_t strv_length(char *const *v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

bool strv_contains(char *const *v, const char *s) {
        for (char *const *p = v; p && *p; p++)
                if (streq(*p, s))
                        return true;
        return false;
}

bool strv_equal(char *const *a, char *const *b) {
        size_t i = 0;
        for (; a && a[i] && b && b[i]; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return !(a && a[i]) && !(b && b[i]);
}

int strv_copy(char *const *v, char ***ret) {
        if (!v) {
                *ret = NULL;
                return 0;
        }
        size_t n = strv_length(v);
        char **c = calloc(n + 1, sizeof(char *));
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = strdup(v[i]))) {
                        strv_free(c);
                        return -ENOMEM;
                }
        *ret = c;
        return 0;
}

int strv_push(char ***v, const char *s) {
        size_t n = strv_length(*v);
        char *copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        char **grown = reallocarray(*v, n + 2, sizeof(char *));
        if (!grown) {
                free(copy);
                return -ENOMEM;
        }
        grown[n] = copy;
        grown[n + 1] = NULL;
        *v = grown;
        return 0;
}

void strv_sort_unique(char **v) {
        size_t n = strv_length(v), k = 0;
        if (n < 2)
                return;
        qsort(v, n, sizeof(char *), strptr_compare);
        for (size_t i = 0; i < n; i++) {
                if (k > 0 && streq(v[k - 1], v[i]))
                        free(v[i]);
                else
                        v[k++] = v[i];
        }
        v[k] = NULL;
}

char *strv_join(char *const *v, const char *sep) {
        size_t n = 0, ls = strlen(sep);
        for (char *const *p = v; p && *p; p++)
                n += strlen(*p) + (p == v ? 0 : ls);
        char *s = malloc(n + 1), *q = s;
        if (!s)
                return NULL;
        for (char *const *p = v; p && *p; p++) {
                if (p != v) {
                        memcpy(q, sep, ls);
                        q += ls;
                }
                size_t l = strlen(*p);
                memcpy(q, *p, l);
                q += l;
        }
        *q = 0;
        return s;
}
