/* SPDX-License-Identifier: MIT */
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "basic/address.h"
#include "etcd-server.h"
#include "cluster/etcd.h"


/* Two distinct free loopback ports, held until both are chosen. */
static void pick_ports(char *client, char *peer, size_t size) {
        int a, b;
        char *sa, *sb;
        TL_ASSERT(address_listen("tcp@127.0.0.1:0", 1, &a) >= 0 && address_listen("tcp@127.0.0.1:0", 1, &b) >= 0,
                  "cannot probe ports");
        TL_ASSERT(address_from_socket(a, &sa) >= 0 && address_from_socket(b, &sb) >= 0, "getsockname");
        snprintf(client, size, "%s", sa + 4);
        snprintf(peer, size, "%s", sb + 4);
        close(a);
        close(b);
        free(sa);
        free(sb);
}

static bool healthy(TlEtcd *e) {
        char url[128];
        snprintf(url, sizeof url, "http://%s/health", e->client);
        TlHttp h;
        bool ok = tl_http("GET", url, NULL, &h) == 0 && h.status == 200 && strstr(h.body, "true");
        tl_http_done(&h);
        return ok;
}

static bool spawn(TlEtcd *e) {
        char a[6][160];
        snprintf(a[0], sizeof a[0], "--data-dir=%s/data", e->dir);
        snprintf(a[1], sizeof a[1], "--listen-client-urls=http://%s", e->client);
        snprintf(a[2], sizeof a[2], "--advertise-client-urls=http://%s", e->client);
        snprintf(a[3], sizeof a[3], "--listen-peer-urls=http://%s", e->peer);
        snprintf(a[4], sizeof a[4], "--initial-advertise-peer-urls=http://%s", e->peer);
        snprintf(a[5], sizeof a[5], "--initial-cluster=geerpc-test=http://%s", e->peer);
        const char *argv[] = { getenv("ETCD"), "--name=geerpc-test", a[0], a[1], a[2], a[3], a[4], a[5],
                               "--log-level=warn", "--logger=zap", NULL };
        TL_ASSERT(argv[0], "$ETCD is not set");
        e->proc = tl_spawn(argv, NULL);
        for (int i = 0; i < 300; i++) {
                if (healthy(e))
                        return true;
                if (tl_wait_exit(e->proc, 0) != -ETIMEDOUT)
                        break; /* it died: a port was taken meanwhile */
                tl_sleep(50 * USEC_PER_MSEC);
        }
        tl_proc_free(e->proc);
        e->proc = NULL;
        return false;
}

void tl_etcd_start(TlEtcd *e) {
        *e = (TlEtcd) {};
        strcpy(e->dir, "/tmp/geerpc-etcd-XXXXXX");
        TL_ASSERT(mkdtemp(e->dir), "mkdtemp: %m");
        for (int attempt = 0; attempt < 3; attempt++) {
                pick_ports(e->client, e->peer, sizeof e->client);
                if (spawn(e)) {
                        snprintf(e->url, sizeof e->url, "etcd://%s", e->client);
                        return;
                }
        }
        TL_ASSERT(false, "etcd did not start");
}

void tl_etcd_stop(TlEtcd *e) {
        if (!e->proc)
                return;
        tl_kill(e->proc, SIGTERM);
        if (tl_wait_exit(e->proc, 10 * USEC_PER_SEC) == -ETIMEDOUT)
                tl_kill(e->proc, SIGKILL);
        tl_proc_free(e->proc);
        e->proc = NULL;
}

void tl_etcd_restart(TlEtcd *e) {
        /* The same ports: a short retry loop covers a port in TIME_WAIT. */
        for (int attempt = 0; attempt < 20; attempt++) {
                if (spawn(e))
                        return;
                tl_sleep(250 * USEC_PER_MSEC);
        }
        TL_ASSERT(false, "etcd did not start again");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

void tl_etcd_free(TlEtcd *e) {
        tl_etcd_stop(e);
        if (e->dir[0])
                (void) nftw(e->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

json_t *tl_etcdctl_get_prefix(TlEtcd *e, const char *prefix) {
        char endpoints[96];
        snprintf(endpoints, sizeof endpoints, "--endpoints=%s", e->client);
        const char *argv[] = { getenv("ETCDCTL"), endpoints, "get", "--prefix", prefix, "-w", "json", NULL };
        const char *env[] = { "ETCDCTL_API=3", NULL };
        char *out = NULL;
        TL_ASSERT(argv[0], "$ETCDCTL is not set");
        int r = tl_run(argv, env, 10 * USEC_PER_SEC, &out, NULL);
        /* etcdctl prints uint64 ids beyond jansson's int64: read numbers as reals. */
        json_t *j = r == 0 ? json_loads(out, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
        free(out);
        return j;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

char *tl_etcd_keys(TlEtcd *e, const char *prefix, bool *ret_all_leased) {
        json_t *j = tl_etcdctl_get_prefix(e, prefix), *kv;
        TL_ASSERT(j, "etcdctl get failed");
        json_t *kvs = json_object_get(j, "kvs");
        size_t i, n = json_array_size(kvs);
        char **keys = calloc(n + 1, sizeof(char *));
        bool leased = true;
        json_array_foreach(kvs, i, kv) {
                TL_ASSERT(base64_decode(json_string_value(json_object_get(kv, "key")), &keys[i], NULL) >= 0, "b64");
                json_t *lease = json_object_get(kv, "lease");
                leased = leased && json_is_number(lease) && json_number_value(lease) != 0;
        }
        qsort(keys, n, sizeof(char *), cmp_str);
        size_t len = 1;
        for (i = 0; i < n; i++)
                len += strlen(keys[i]) + 1;
        char *s = calloc(1, len);
        for (i = 0; i < n; i++) {
                if (i > 0)
                        strcat(s, ",");
                strcat(s, keys[i]);
                free(keys[i]);
        }
        free(keys);
        json_decref(j);
        if (ret_all_leased)
                *ret_all_leased = leased && n > 0;
        return s;
}
