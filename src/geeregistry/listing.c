/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>

#include "codec/json-writer.h"
#include "listing.h"

/* One service's answers (service NULL: every server's). */
typedef struct CacheEntry {
        bool used;
        char *service;
        uint64_t last_used;
        /* The plain answer: one of the two, for plain_generation. */
        uint64_t plain_generation;
        struct MHD_Response *plain;
        HttpRaw *raw;
        /* The JSON answer, for json_generation, rendered at json_rendered. */
        uint64_t json_generation;
        usec_t json_rendered;
        struct MHD_Response *json;
} CacheEntry;

struct Listing {
        Registry *registry;
        CacheEntry cache[LISTING_CACHE_MAX];
        uint64_t uses;
};

int listing_new(Listing **ret, Registry *registry) {
        Listing *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->registry = registry;
        *ret = l;
        return 0;
}

/* A response still queued elsewhere lives on (MHD counts). */
static void plain_clear(CacheEntry *e) {
        if (e->plain)
                MHD_destroy_response(e->plain);
        e->plain = NULL;
        e->raw = http_raw_unref(e->raw);
}

static void json_clear(CacheEntry *e) {
        if (e->json)
                MHD_destroy_response(e->json);
        e->json = NULL;
}

static void entry_clear(CacheEntry *e) {
        plain_clear(e);
        json_clear(e);
        free(e->service);
        *e = (CacheEntry) {};
}

Listing *listing_free(Listing *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < LISTING_CACHE_MAX; i++)
                entry_clear(&l->cache[i]);
        free(l);
        return NULL;
}

/* The entry of service, or the least recently used one made its. */
static CacheEntry *cache_slot(Listing *l, const char *service) {
        CacheEntry *lru = &l->cache[0];
        for (size_t i = 0; i < LISTING_CACHE_MAX; i++) {
                CacheEntry *e = &l->cache[i];
                if (e->used && streq_ptr(e->service, service)) {
                        e->last_used = ++l->uses;
                        return e;
                }
                if (e->last_used < lru->last_used)
                        lru = e;
        }
        entry_clear(lru);
        if (service && !(lru->service = strdup(service)))
                return NULL;
        lru->used = true;
        lru->last_used = ++l->uses;
        return lru;
}

/* ---- the header listing ----------------------------------------------------- */

static int add_list_headers(struct MHD_Response *resp, const char *joined, bool truncated) {
        if (!*joined)
                return 0; /* MHD cannot send an empty header; a missing one reads the same */
        if (MHD_add_response_header(resp, "X-Geerpc-Servers", joined) != MHD_YES ||
            MHD_add_response_header(resp, "X-rpc-Servers", joined) != MHD_YES)
                return -ENOMEM;
        if (truncated && MHD_add_response_header(resp, "X-Geerpc-Servers-Truncated", "1") != MHD_YES)
                return -ENOMEM;
        return 0;
}

/* The whole answer, as MHD would write it for a plain GET, plus
 * "Connection: close": raw responses end their connection. */
static HttpRaw *raw_response(const Buffer *joined, bool truncated) {
        static const char head[] = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n";
        Buffer b = {};
        const char *const names[] = { "X-Geerpc-Servers: ", "X-rpc-Servers: " };
        int r = buffer_append(&b, head, sizeof head - 1);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(names); i++) {
                r = buffer_append(&b, names[i], strlen(names[i]));
                if (r >= 0)
                        r = buffer_append(&b, buffer_data(joined), buffer_len(joined));
                if (r >= 0)
                        r = buffer_append(&b, "\r\n", 2);
        }
        if (r >= 0 && truncated)
                r = buffer_append(&b, "X-Geerpc-Servers-Truncated: 1\r\n", 31);
        if (r >= 0)
                r = buffer_append(&b, "\r\n", 2);
        HttpRaw *raw = r >= 0 ? http_raw_new(buffer_data(&b), buffer_len(&b)) : NULL;
        buffer_done(&b);
        return raw;
}

static int build_plain(Listing *l, const char *service, CacheEntry *e) {
        Buffer joined = {};
        bool truncated;
        int r = table_join(registry_table(l->registry), service, LISTING_HEADER_MAX, &joined, &truncated);
        if (r >= 0)
                r = buffer_append(&joined, "", 1);
        if (r < 0) {
                buffer_done(&joined);
                return r;
        }
        joined.end--; /* the NUL stays, out of the count */
        if (buffer_len(&joined) <= LISTING_HEADER_INLINE_MAX) {
                e->plain = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
                if (e->plain && add_list_headers(e->plain, buffer_data(&joined), truncated) < 0) {
                        MHD_destroy_response(e->plain);
                        e->plain = NULL;
                }
        } else
                e->raw = raw_response(&joined, truncated);
        buffer_done(&joined);
        return e->plain || e->raw ? 0 : -ENOMEM;
}

int listing_plain(Listing *l, const char *service, struct MHD_Response **ret_response, HttpRaw **ret_raw) {
        uint64_t gen = table_generation(registry_table(l->registry));
        CacheEntry *e = cache_slot(l, service);
        if (!e)
                return -ENOMEM;
        if ((e->plain || e->raw) && e->plain_generation != gen)
                plain_clear(e);
        if (!e->plain && !e->raw) {
                int r = build_plain(l, service, e);
                if (r < 0)
                        return r;
                e->plain_generation = gen;
        }
        *ret_response = e->plain;
        *ret_raw = http_raw_ref(e->raw);
        return 0;
}

/* ---- the JSON listing -------------------------------------------------------- */

typedef struct JsonList {
        Buffer *out;
        const char *service;
        usec_t now;
        bool first;
} JsonList;

/* {"addr":...,"age_ms":N,"services":[...],"weight":N,"labels":{...}}, with
 * the weight clients use, and "server_weight" when the operator's differs
 * from the server's own. */
static int json_one(const TableEntry *e, void *userdata) {
        JsonList *j = userdata;
        if (!server_meta_offers(&e->meta, j->service))
                return 0;
        int r = buffer_append(j->out, j->first ? "{\"addr\":" : ",{\"addr\":", j->first ? 8 : 9);
        j->first = false;
        if (r >= 0)
                r = json_append_string(j->out, e->addr);
        if (r >= 0)
                r = buffer_append(j->out, ",\"age_ms\":", 10);
        if (r >= 0)
                r = json_append_u64(j->out, (j->now > e->last ? j->now - e->last : 0) / USEC_PER_MSEC);
        ServerMeta shown = e->meta; /* shallow: only the weight differs */
        shown.weight = table_entry_weight(e);
        if (r >= 0)
                r = server_meta_append_json(j->out, &shown);
        if (r >= 0 && e->override >= 0) {
                r = buffer_append(j->out, ",\"server_weight\":", 17);
                if (r >= 0)
                        r = json_append_u64(j->out, e->meta.weight);
        }
        if (r >= 0)
                r = buffer_append(j->out, "}", 1);
        return r;
}

static struct MHD_Response *json_render(Listing *l, const char *service) {
        Buffer b = {}, joined = {};
        JsonList j = { .out = &b, .service = service, .now = registry_now(l->registry), .first = true };
        bool truncated = false;
        char tail[64];
        int n = snprintf(tail, sizeof tail, "],\"timeout_s\":%" PRIu64 "}\n", registry_timeout_seconds(l->registry));

        int r = buffer_append(&b, "{\"servers\":[", 12);
        if (r >= 0)
                r = table_foreach_sorted(registry_table(l->registry), json_one, &j);
        if (r >= 0)
                r = buffer_append(&b, tail, (size_t) n);
        if (r >= 0)
                r = table_join(registry_table(l->registry), service, LISTING_HEADER_INLINE_MAX, &joined, &truncated);
        if (r >= 0)
                r = buffer_append(&joined, "", 1);
        if (r < 0) {
                buffer_done(&b);
                buffer_done(&joined);
                return NULL;
        }
        /* MHD frees the buffer: it starts at the allocation (never consumed). */
        struct MHD_Response *resp = MHD_create_response_from_buffer(buffer_len(&b), b.data, MHD_RESPMEM_MUST_FREE);
        if (!resp)
                buffer_done(&b);
        else {
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
                if (add_list_headers(resp, buffer_data(&joined), truncated) < 0) {
                        MHD_destroy_response(resp);
                        resp = NULL;
                }
        }
        buffer_done(&joined);
        return resp;
}

struct MHD_Response *listing_json(Listing *l, const char *service) {
        uint64_t gen = table_generation(registry_table(l->registry));
        usec_t now = registry_now(l->registry);
        CacheEntry *e = cache_slot(l, service);
        if (!e)
                return NULL;
        if (e->json && (e->json_generation != gen || now >= usec_add(e->json_rendered, LISTING_JSON_MAX_AGE_USEC)))
                json_clear(e);
        if (!e->json) {
                e->json = json_render(l, service);
                e->json_generation = gen;
                e->json_rendered = now;
        }
        return e->json;
}
