/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <sys/eventfd.h>

#include "basic/log.h"
#include "rpc/client-internal.h"
#include "rpc/client-loop.h"

struct ClientLoop {
        pthread_t thread;
        sd_event *event;
        IoSet *io;
        int wake_fd;
        sd_event_source *wake_source, *post_source;

        pthread_mutex_t lock; /* the queue, the two flags */
        LIST_HEAD(geerpc_client, queue);
        bool wake_pending;   /* the eventfd was written and not read yet */
        bool exit_requested; /* the last client was released elsewhere */

        unsigned n_clients; /* under loops_lock */
};

/* The loop new clients attach to; NULL when none runs (or the running one
 * is on its way out, having lost its last client). */
static pthread_mutex_t loops_lock = PTHREAD_MUTEX_INITIALIZER;
static ClientLoop *current;

static void loop_free(ClientLoop *l) {
        l->wake_source = sd_event_source_disable_unref(l->wake_source);
        l->post_source = sd_event_source_disable_unref(l->post_source);
        l->io = io_set_free(l->io);
        l->event = sd_event_unref(l->event);
        safe_close(l->wake_fd);
        pthread_mutex_destroy(&l->lock);
        free(l);
}

/* Looks at every queued client. A client may be queued again meanwhile
 * (its look is then simply repeated). */
static void run_queue(ClientLoop *l) {
        for (;;) {
                pthread_mutex_lock(&l->lock);
                geerpc_client *c = LIST_POP(loop_queue, l->queue);
                if (c)
                        c->loop_queued = false;
                pthread_mutex_unlock(&l->lock);
                if (!c)
                        return;
                client_bg_sync(c);
        }
}

static int on_wake(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        ClientLoop *l = userdata;
        uint64_t n;
        pthread_mutex_lock(&l->lock);
        (void) !read(fd, &n, sizeof n);
        l->wake_pending = false;
        bool exit = l->exit_requested;
        pthread_mutex_unlock(&l->lock);
        run_queue(l);
        if (exit)
                (void) sd_event_exit(l->event, 0);
        return 0;
}

/* After every dispatch: what the loop thread queued for itself. */
static int on_post(sd_event_source *es, void *userdata) {
        run_queue(userdata);
        return 0;
}

static void *loop_main(void *userdata) {
        ClientLoop *l = userdata;
        int r = sd_event_loop(l->event);
        if (r < 0)
                log_error_errno(r, "rpc client: event thread failed: %m");
        /* Only after the last client was released (client_loop_release()). */
        loop_free(l);
        return NULL;
}

static int loop_new(ClientLoop **ret) {
        ClientLoop *l = calloc(1, sizeof *l);
        int r;

        if (!l)
                return -ENOMEM;
        pthread_mutex_init(&l->lock, NULL);
        l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->wake_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        r = sd_event_new(&l->event);
        if (r >= 0)
                r = sd_event_add_io(l->event, &l->wake_source, l->wake_fd, EPOLLIN, on_wake, l);
        if (r >= 0)
                r = sd_event_add_post(l->event, &l->post_source, on_post, l);
        if (r >= 0)
                r = io_set_new(&l->io, l->event, 0, "geerpc-client-sockets");
        if (r < 0)
                goto fail;

        pthread_attr_t attr;
        sigset_t all, old;
        pthread_attr_init(&attr);
        /* Nobody joins it: it frees itself after its last client. */
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        sigfillset(&all);
        /* The event thread takes no signals: they belong to the program. */
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&l->thread, &attr, loop_main, l);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (r < 0)
                goto fail;
        log_debug("rpc client: event thread started");
        *ret = l;
        return 0;

fail:
        loop_free(l);
        return r;
}

int client_loop_attach_locked(geerpc_client *c) {
        int r = 0;

        pthread_mutex_lock(&loops_lock);
        if (!current)
                r = loop_new(&current);
        if (r >= 0) {
                current->n_clients++;
                __atomic_store_n(&c->loop, current, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&loops_lock);
        return r;
}

void client_loop_wake(ClientLoop *l, geerpc_client *c) {
        bool on_thread = client_loop_on_thread(l), write_it = false;

        pthread_mutex_lock(&l->lock);
        if (!c->loop_queued) {
                LIST_APPEND(loop_queue, l->queue, c);
                c->loop_queued = true;
        }
        /* The loop thread looks at its queue after every dispatch: it need
         * not wake itself. */
        if (!on_thread && !l->wake_pending)
                write_it = l->wake_pending = true;
        pthread_mutex_unlock(&l->lock);
        if (write_it) {
                uint64_t one = 1;
                (void) !write(l->wake_fd, &one, sizeof one);
        }
}

void client_loop_detach(ClientLoop *l, geerpc_client *c) {
        pthread_mutex_lock(&l->lock);
        if (c->loop_queued) {
                LIST_REMOVE(loop_queue, l->queue, c);
                c->loop_queued = false;
        }
        pthread_mutex_unlock(&l->lock);
}

void client_loop_release(ClientLoop *l) {
        pthread_mutex_lock(&loops_lock);
        bool last = --l->n_clients == 0;
        if (last && current == l)
                current = NULL; /* the next client starts a new one */
        pthread_mutex_unlock(&loops_lock);
        if (!last)
                return;
        log_debug("rpc client: event thread finishing, no client needs it");
        if (client_loop_on_thread(l)) {
                (void) sd_event_exit(l->event, 0);
                return;
        }
        /* From another thread: the loop frees itself once it has seen the
         * request, which it reads under the lock; so the eventfd is written
         * under it too, and l is not touched after the unlock. */
        pthread_mutex_lock(&l->lock);
        l->exit_requested = true;
        if (!l->wake_pending) {
                uint64_t one = 1;
                (void) !write(l->wake_fd, &one, sizeof one);
                l->wake_pending = true;
        }
        pthread_mutex_unlock(&l->lock);
}

bool client_loop_on_thread(ClientLoop *l) {
        return l && pthread_equal(pthread_self(), l->thread);
}

sd_event *client_loop_event(ClientLoop *l) {
        return l->event;
}

IoSet *client_loop_io(ClientLoop *l) {
        return l->io;
}
