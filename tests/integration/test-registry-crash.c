/* SPDX-License-Identifier: MIT */

/* geeregistry killed with SIGKILL, 20 times in a row, while it takes
 * heartbeats from many servers (more of them every round): after each
 * restart the state file loads, and every server whose heartbeat was
 * answered more than one write interval (plus the write's own time)
 * before the kill is listed. */

#include <curl/curl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "registry-util.h"

#define SERVERS 256
#define ROUNDS 20
#define NEW_PER_ROUND 13       /* servers that start heartbeating each round */
#define HEARTBEATERS 2         /* threads, each with one keep-alive connection */
#define WRITE_INTERVAL_USEC (1 * USEC_PER_SEC) /* PERSIST_INTERVAL_USEC */
#define WRITE_TIME_USEC (500 * USEC_PER_MSEC)  /* what a write may take, generously */

static struct {
        pthread_mutex_t lock;
        char url[160];
        size_t n_active;           /* servers 0..n_active-1 heartbeat */
        usec_t first[SERVERS];     /* CLOCK_MONOTONIC of the first 200; 0: none yet */
        unsigned long beats;
        bool stop;
} hb = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void server_addr(size_t i, char *buf, size_t size) {
        snprintf(buf, size, "tcp@127.0.0.1:%zu", 20000 + i);
}

static size_t discard(char *p, size_t size, size_t n, void *userdata) {
        return size * n;
}

static void *heartbeater(void *userdata) {
        size_t me = (size_t) (uintptr_t) userdata;
        CURL *e = curl_easy_init();
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        for (size_t i = me;; i += HEARTBEATERS) {
                char url[160], header[96], addr[64];
                pthread_mutex_lock(&hb.lock);
                bool stop = hb.stop;
                if (i >= hb.n_active)
                        i = me;
                snprintf(url, sizeof url, "%s", hb.url);
                pthread_mutex_unlock(&hb.lock);
                if (stop)
                        break;
                server_addr(i, addr, sizeof addr);
                snprintf(header, sizeof header, "X-Geerpc-Server: %s", addr);
                struct curl_slist *h = curl_slist_append(NULL, header);
                curl_easy_setopt(e, CURLOPT_URL, url);
                curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
                long status = 0;
                if (curl_easy_perform(e) == CURLE_OK)
                        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
                curl_slist_free_all(h);
                if (status == 200) {
                        pthread_mutex_lock(&hb.lock);
                        if (hb.first[i] == 0)
                                hb.first[i] = now_usec(CLOCK_MONOTONIC);
                        hb.beats++;
                        pthread_mutex_unlock(&hb.lock);
                        tl_sleep(USEC_PER_MSEC); /* ~1,000 a second per thread: load, not a flood */
                } else
                        tl_sleep(20 * USEC_PER_MSEC); /* the registry is down: it comes back */
        }
        curl_easy_cleanup(e);
        return NULL;
}

static Reg start(const char *listen, const char *state) {
        return reg_start((const char *[]) { listen, state, "--timeout=1h", "--log-level=info", NULL });
}

Test(registry_crash, sigkill_under_heartbeats_loses_nothing_written) {
        char *dir = reg_tmpdir(), path[256], state[300], listen[400];
        snprintf(path, sizeof path, "%s/servers.json", dir);
        snprintf(state, sizeof state, "--state-file=%s", path);
        Reg r = reg_start((const char *[]) { state, "--timeout=1h", "--log-level=info", NULL });
        /* Restarts come back on the same port. */
        snprintf(listen, sizeof listen, "--listen=%s", r.base + strlen("http://"));
        snprintf(hb.url, sizeof hb.url, "%s", r.url);
        hb.n_active = NEW_PER_ROUND;

        pthread_t threads[HEARTBEATERS];
        for (size_t t = 0; t < HEARTBEATERS; t++)
                cr_assert_eq(pthread_create(&threads[t], NULL, heartbeater, (void *) (uintptr_t) t), 0);

        tl_sleep(WRITE_INTERVAL_USEC + WRITE_TIME_USEC);
        unsigned long checked = 0;
        for (int round = 0; round < ROUNDS; round++) {
                /* Heartbeats for 1.5 to 2 s, new servers among them. */
                tl_sleep(1500 * USEC_PER_MSEC + (usec_t) (round % 3) * 250 * USEC_PER_MSEC);

                pthread_mutex_lock(&hb.lock);
                usec_t kill_at = now_usec(CLOCK_MONOTONIC);
                tl_kill(r.proc, SIGKILL);
                usec_t first[SERVERS];
                memcpy(first, hb.first, sizeof first);
                size_t n = hb.n_active;
                hb.n_active = MIN(n + NEW_PER_ROUND, (size_t) SERVERS);
                pthread_mutex_unlock(&hb.lock);
                int status = tl_wait_exit(r.proc, 10 * USEC_PER_SEC);
                cr_assert(status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "round %d", round);
                tl_proc_free(r.proc);

                r = start(listen, state);
                char *loaded = reg_output_line(&r, "loaded ");
                cr_assert_not_null(loaded, "round %d: the state file did not load", round);
                free(loaded);
                char *corrupt = reg_output_line(&r, "corrupt");
                cr_assert_null(corrupt, "round %d: %s", round, corrupt);

                char *list = reg_list(&r);
                size_t expected = 0;
                for (size_t i = 0; i < n; i++) {
                        /* Once registered, a server stays (its entries
                                 * never expire here): what counts is when the
                                 * registry first answered it. */
                        if (first[i] == 0 || first[i] + WRITE_INTERVAL_USEC + WRITE_TIME_USEC > kill_at)
                                continue;
                        char addr[64], *p;
                        server_addr(i, addr, sizeof addr);
                        size_t l = strlen(addr);
                        bool found = false;
                        for (p = list; (p = strstr(p, addr)); p += l)
                                found = found || p[l] == ',' || p[l] == 0;
                        cr_assert(found, "round %d: %s, registered %llu ms before the kill, is lost", round,
                                  addr, (unsigned long long) ((kill_at - first[i]) / USEC_PER_MSEC));
                        expected++;
                }
                free(list);
                cr_assert_gt(expected, 0, "round %d: no server old enough to check", round);
                checked += expected;
        }

        pthread_mutex_lock(&hb.lock);
        hb.stop = true;
        unsigned long beats = hb.beats;
        pthread_mutex_unlock(&hb.lock);
        for (size_t t = 0; t < HEARTBEATERS; t++)
                pthread_join(threads[t], NULL);
        fprintf(stderr, "%d kills, %lu heartbeats, %lu server listings checked\n", ROUNDS, beats, checked);
        reg_stop(&r);
        reg_rmdir(dir);
}
