/* SPDX-License-Identifier: MIT */
#include <poll.h>
#include <sys/socket.h>

#include "rpc/client-internal.h"
#include "basic/futex.h"
#include "basic/log.h"

/* The client's I/O: the flusher and reader roles and the event thread (see
 * client-internal.h for why the roles move between threads). */

static const char *const state_names[_CLIENT_STATE_MAX] = {
        [CLIENT_NEW] = "new",
        [CLIENT_CONNECTED] = "connected",
        [CLIENT_CLOSED] = "closed",
};

static const char *const bg_names[_CLIENT_BG_MAX] = {
        [BG_NONE] = "not started",
        [BG_RUNNING] = "running",
        [BG_QUITTING] = "quitting",
        [BG_QUITTING_FREE] = "quitting, then freeing the client",
        [BG_DETACHED] = "detached",
};

const char *client_state_to_string(ClientState s) {
        return (unsigned) s < ELEMENTSOF(state_names) ? state_names[s] : NULL;
}

const char *client_bg_to_string(ClientBg s) {
        return (unsigned) s < ELEMENTSOF(bg_names) ? bg_names[s] : NULL;
}

/* ---- completing calls ---------------------------------------------------- */

void client_wake_bg(geerpc_client *c) {
        ClientLoop *l = __atomic_load_n(&c->loop, __ATOMIC_ACQUIRE);
        if (l)
                client_loop_wake(l, c);
}

/* Wakes a blocking caller sleeping on its futex word. */
static void call_wake(ClientCall *call) {
        atomic_fetch_add_explicit(&call->wake, 1, memory_order_release);
        futex_wake_one(&call->wake);
}

/* Wake-ups collected under the lock and issued after it is released, so
 * that no system call happens inside the critical section. The counter is
 * bumped under the lock (the caller's stack frame is certainly alive then);
 * the futex_wake() afterwards only names an address, and a stale wake-up on
 * reused memory is harmless because every wait re-checks its condition. */
typedef struct WakeList {
        atomic_uint *words[CLIENT_DELIVER_BATCH];
        size_t n;
} WakeList;

static void wake_list_flush(WakeList *w) {
        for (size_t i = 0; i < w->n; i++)
                futex_wake_one(w->words[i]);
        w->n = 0;
}

static void complete_locked(geerpc_client *c, ClientCall *call, int result, json_t *reply, char *error,
                            WakeList *wakes);

/* Takes ownership of reply and error. The call is already out of the
 * pending table. */
void client_complete_locked(geerpc_client *c, ClientCall *call, int result, json_t *reply, char *error) {
        complete_locked(c, call, result, reply, error, NULL);
}

static void complete_locked(geerpc_client *c, ClientCall *call, int result, json_t *reply, char *error,
                            WakeList *wakes) {
        call->result = result;
        call->reply = reply;
        call->error = error;
        if (call->async) {
                atomic_store_explicit(&call->done, true, memory_order_release);
                c->n_async--;
                LIST_APPEND(completed, c->completed, call);
                client_wake_bg(c);
                return;
        }
        /* A sleeping caller returns as soon as it sees done, without taking
         * the lock again: take it off the waiters list for it first. The
         * wake-up may reach a caller that has already returned; a stale
         * wake-up on reused stack memory is harmless, as waits re-check. */
        bool sleeping = LIST_IS_LINKED(waiters, call);
        if (sleeping) {
                LIST_REMOVE(waiters, c->waiters, call);
                atomic_fetch_add_explicit(&call->wake, 1, memory_order_release);
        }
        atomic_store_explicit(&call->done, true, memory_order_release);
        if (!sleeping)
                return;
        if (wakes && wakes->n < ELEMENTSOF(wakes->words))
                wakes->words[wakes->n++] = &call->wake;
        else
                futex_wake_one(&call->wake);
}

void client_fail_locked(geerpc_client *c, int error) {
        if (c->state == CLIENT_CLOSED)
                return;
        c->close_error = error;
        client_set_state_locked(c, CLIENT_CLOSED);
        if (error != -ESHUTDOWN)
                log_debug_errno(error, "rpc client: connection to %s lost: %m", strempty(c->address));
        for (SeqNode *n = seq_table_steal_all(&c->pending), *next; n; n = next) {
                next = n->next;
                client_complete_locked(c, (ClientCall *) n, error, NULL, NULL);
        }
        /* Wakes a reader sleeping in ppoll() and the event thread. */
        if (c->fd >= 0)
                (void) shutdown(c->fd, SHUT_RDWR);
        client_wake_bg(c);
}

static void fail(geerpc_client *c, int error) {
        pthread_mutex_lock(&c->lock);
        client_fail_locked(c, error);
        pthread_mutex_unlock(&c->lock);
}

/* ---- the flusher role ------------------------------------------------------ */

/* Called with wlock held by the flusher (FLUSHER_WRITING). Returns 0 when
 * everything is written (role released), 1 when the socket is full (role
 * FLUSHER_STALLED, for the event thread), or a negative errno (role
 * released). */
static int flush_locked(geerpc_client *c) {
        for (;;) {
                if (buffer_len(&c->sending) == 0) {
                        if (buffer_len(&c->out) == 0) {
                                client_set_flusher_locked(c, FLUSHER_WRITING, FLUSHER_NONE);
                                return 0;
                        }
                        /* Take everything queued so far; others keep
                         * appending to the other buffer meanwhile. */
                        buffer_swap(&c->sending, &c->out);
                }
                pthread_mutex_unlock(&c->wlock);
                ssize_t n = send(c->fd, buffer_data(&c->sending), buffer_len(&c->sending), MSG_NOSIGNAL | MSG_DONTWAIT);
                int err = n < 0 ? errno : 0;
                pthread_mutex_lock(&c->wlock);
                if (n >= 0) {
                        buffer_consume(&c->sending, (size_t) n);
                        continue;
                }
                if (err == EINTR)
                        continue;
                if (err == EAGAIN) {
                        client_set_flusher_locked(c, FLUSHER_WRITING, FLUSHER_STALLED);
                        return 1;
                }
                client_set_flusher_locked(c, FLUSHER_WRITING, FLUSHER_NONE);
                buffer_clear(&c->sending);
                buffer_clear(&c->out);
                return -err;
        }
}

/* Takes the flusher role (wlock held, role free) and writes; hands the rest
 * to the event thread if the socket is full. Releases wlock. */
static void flush_and_unlock(geerpc_client *c) {
        client_set_flusher_locked(c, FLUSHER_NONE, FLUSHER_WRITING);
        int r = flush_locked(c);
        pthread_mutex_unlock(&c->wlock);

        if (r == 1) {
                pthread_mutex_lock(&c->lock);
                r = client_ensure_bg_locked(c);
                if (r < 0)
                        client_fail_locked(c, r);
                pthread_mutex_unlock(&c->lock);
                client_wake_bg(c);
        } else if (r < 0)
                fail(c, r);
}

int client_send_request(geerpc_client *c, const char *service_method, uint64_t seq, json_t *args, bool async,
                        char **ret_why) {
        int r;

        pthread_mutex_lock(&c->wlock);
        r = codec_encode(c->codec, &c->out, service_method, seq, NULL, args ?: json_null());
        if (r < 0 && ret_why && c->codec->encode_why[0])
                *ret_why = strdup(c->codec->encode_why);
        /* Someone will send it for us: the current flusher, or the reader,
         * which is handing out replies and flushes before it reads again
         * (the callers it wakes then share one write); and an asynchronous
         * call made while the event thread runs completion handlers (from
         * one, most likely) is written with all the others they make.
         * Never a blocking call then: a handler may make one and wait. */
        if (r < 0 || c->flusher != FLUSHER_NONE || c->delivering || (async && c->completing)) {
                pthread_mutex_unlock(&c->wlock);
                return r;
        }
        flush_and_unlock(c);
        /* Write failures reach the caller through its call's outcome. */
        return 0;
}

/* The reader marks the time it spends handing out replies; see above. */
static void delivering_begin(geerpc_client *c) {
        pthread_mutex_lock(&c->wlock);
        assert(!c->delivering);
        c->delivering = true;
        pthread_mutex_unlock(&c->wlock);
}

/* Ends a window (delivering or completing): writes what was left for it. */
static void window_end(geerpc_client *c, bool *window) {
        pthread_mutex_lock(&c->wlock);
        *window = false;
        if (c->flusher != FLUSHER_NONE || buffer_len(&c->out) == 0) {
                pthread_mutex_unlock(&c->wlock);
                return;
        }
        flush_and_unlock(c);
}

static void delivering_end(geerpc_client *c) {
        window_end(c, &c->delivering);
}

/* The event thread runs completion handlers; see client_send_request(). */
static void completing_begin(geerpc_client *c) {
        pthread_mutex_lock(&c->wlock);
        c->completing = true;
        pthread_mutex_unlock(&c->wlock);
}

static void completing_end(geerpc_client *c) {
        window_end(c, &c->completing);
}

/* ---- the reader role ------------------------------------------------------- */

static void deliver(geerpc_client *c, Message *msgs, size_t n) {
        WakeList wakes = {};
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < n; i++) {
                Message *m = &msgs[i];
                ClientCall *call = (ClientCall *) seq_table_remove(&c->pending, m->seq);
                if (!call)
                        continue; /* timed out or cancelled: drop the late reply */
                if (!isempty(m->error))
                        complete_locked(c, call, -EREMOTEIO, NULL, TAKE_PTR(m->error), &wakes);
                else if (m->body_error)
                        complete_locked(c, call, -EBADMSG, NULL, NULL, &wakes);
                else
                        complete_locked(c, call, 0, TAKE_PTR(m->body), NULL, &wakes);
        }
        pthread_mutex_unlock(&c->lock);
        wake_list_flush(&wakes);
        for (size_t i = 0; i < n; i++)
                message_done(&msgs[i]);
}

/* Reads once and hands every complete reply to its call. Only the holder of
 * the reader role calls this. Returns 0, or a negative errno when the
 * connection is unusable. */
static int read_dispatch(geerpc_client *c, int flags) {
        int r = buffer_reserve(&c->in, CLIENT_READ_CHUNK);
        if (r < 0)
                return r;
        /* Without MSG_DONTWAIT this sleeps, at most CLIENT_RECV_SLICE. */
        ssize_t n = recv(c->fd, buffer_tail(&c->in), buffer_room(&c->in), flags);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
        if (n == 0)
                return -ECONNRESET;
        buffer_advance_end(&c->in, (size_t) n);

        Message batch[CLIENT_DELIVER_BATCH];
        size_t k = 0;
        delivering_begin(c);
        for (;;) {
                r = codec_decode(c->codec, &c->in, &batch[k]);
                if (r < 0) {
                        log_debug_errno(r, "rpc client: undecodable reply stream from %s: %m", strempty(c->address));
                        deliver(c, batch, k);
                        delivering_end(c);
                        return -EBADMSG;
                }
                if (r == 0)
                        break;
                if (++k == ELEMENTSOF(batch)) {
                        deliver(c, batch, k);
                        k = 0;
                }
        }
        if (k > 0)
                deliver(c, batch, k);
        delivering_end(c);
        return 0;
}

/* Waits for replies until deadline (at most one slice), then reads. */
static int reader_step(geerpc_client *c, usec_t deadline) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        if (deadline == USEC_INFINITY || deadline - now > CLIENT_RECV_SLICE_USEC)
                /* The common case: sleep in recv() itself. */
                return read_dispatch(c, 0);

        /* Close to the deadline: wait exactly as long as is left. */
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        usec_t left = deadline > now ? deadline - now : 0;
        struct timespec ts = { .tv_sec = (time_t) (left / USEC_PER_SEC),
                               .tv_nsec = (long) (left % USEC_PER_SEC * NSEC_PER_USEC) };
        int r = ppoll(&p, 1, &ts, NULL);
        if (r < 0)
                return errno == EINTR ? 0 : negative_errno();
        if (r == 0)
                return -ETIMEDOUT;
        return read_dispatch(c, MSG_DONTWAIT);
}

/* Makes sure somebody reads while calls are pending and the role is free. */
static void handoff_locked(geerpc_client *c) {
        if (c->reader != READER_NONE || c->state == CLIENT_CLOSED || c->pending.n == 0)
                return;
        ClientCall *w = LIST_POP(waiters, c->waiters);
        if (w)
                /* Off the list, so that a second hand-off picks another. */
                call_wake(w);
        else if (c->n_async > 0)
                client_wake_bg(c);
}

int client_wait_reply(geerpc_client *c, ClientCall *call, usec_t deadline) {
        int r = 0;

        pthread_mutex_lock(&c->lock);
        while (!atomic_load_explicit(&call->done, memory_order_acquire)) {
                if (deadline != USEC_INFINITY && now_usec(CLOCK_MONOTONIC) >= deadline) {
                        seq_table_remove(&c->pending, call->node.seq);
                        r = -ETIMEDOUT;
                        break;
                }
                if (c->reader == READER_NONE && c->state != CLIENT_CLOSED) {
                        client_set_reader_locked(c, READER_NONE, READER_CALLER);
                        pthread_mutex_unlock(&c->lock);
                        int k = reader_step(c, deadline);
                        pthread_mutex_lock(&c->lock);
                        client_set_reader_locked(c, READER_CALLER, READER_NONE);
                        if (k < 0 && k != -ETIMEDOUT)
                                client_fail_locked(c, k);
                        continue;
                }
                /* Somebody else reads: sleep until our reply comes, the role
                 * is handed to us, or the deadline. */
                unsigned w = atomic_load_explicit(&call->wake, memory_order_acquire);
                assert(!call->async && !LIST_IS_LINKED(waiters, call));
                LIST_PREPEND(waiters, c->waiters, call);
                pthread_mutex_unlock(&c->lock);
                futex_wait_until(&call->wake, w, deadline);
                if (atomic_load_explicit(&call->done, memory_order_acquire))
                        /* Completed by the reader, who unlinked us. We never
                         * held the role meanwhile: nothing to hand off. */
                        return call->result;
                pthread_mutex_lock(&c->lock);
                if (LIST_IS_LINKED(waiters, call))
                        LIST_REMOVE(waiters, c->waiters, call);
        }
        if (atomic_load_explicit(&call->done, memory_order_acquire))
                r = call->result;
        handoff_locked(c);
        pthread_mutex_unlock(&c->lock);
        return r;
}

/* ---- the event thread ------------------------------------------------------ */

static int bg_on_deadline(sd_event_source *s, uint64_t usec, void *userdata);

/* Keeps the one timer at the earliest deadline (or earlier). */
static void bg_arm_deadline(geerpc_client *c) {
        usec_t next = c->deadlines ? c->deadlines->deadline : USEC_INFINITY;
        if (next == USEC_INFINITY) {
                if (c->deadline_armed != USEC_INFINITY)
                        (void) sd_event_source_set_enabled(c->deadline_timer, SD_EVENT_OFF);
                c->deadline_armed = USEC_INFINITY;
                return;
        }
        if (next >= c->deadline_armed)
                return; /* it fires first, and re-arms then */
        int r = 0;
        if (!c->deadline_timer)
                r = sd_event_add_time(client_loop_event(c->loop), &c->deadline_timer, CLOCK_MONOTONIC, next,
                                      TIMER_ACCURACY_PRECISE, bg_on_deadline, c);
        else {
                r = sd_event_source_set_time(c->deadline_timer, next);
                if (r >= 0)
                        r = sd_event_source_set_enabled(c->deadline_timer, SD_EVENT_ONESHOT);
        }
        if (r < 0) {
                log_error_errno(r, "rpc client: cannot arm a call deadline: %m");
                fail(c, r);
                return;
        }
        c->deadline_armed = next;
}

/* Files a new async call by its deadline: usually the latest, so at the end. */
static void bg_add_deadline(geerpc_client *c, ClientCall *call) {
        ClientCall *after = LIST_TAIL(deadlines, c->deadlines);
        while (after && after->deadline > call->deadline)
                after = LIST_PREV(deadlines, c->deadlines, after);
        LIST_INSERT_AFTER(deadlines, c->deadlines, after, call);
}

static void bg_drop_deadline(geerpc_client *c, ClientCall *call) {
        if (LIST_IS_LINKED(deadlines, call))
                LIST_REMOVE(deadlines, c->deadlines, call);
}

static int bg_on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        geerpc_client *c = userdata;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        c->deadline_armed = USEC_INFINITY;
        pthread_mutex_lock(&c->lock);
        while (c->deadlines && c->deadlines->deadline <= now) {
                ClientCall *call = LIST_POP(deadlines, c->deadlines);
                if (seq_table_remove(&c->pending, call->node.seq))
                        client_complete_locked(c, call, -ETIMEDOUT, NULL, NULL);
        }
        pthread_mutex_unlock(&c->lock);
        bg_arm_deadline(c);
        client_bg_sync(c);
        return 0;
}

static void bg_flush(geerpc_client *c) {
        pthread_mutex_lock(&c->wlock);
        if (c->flusher != FLUSHER_STALLED) {
                pthread_mutex_unlock(&c->wlock);
                return;
        }
        client_set_flusher_locked(c, FLUSHER_STALLED, FLUSHER_WRITING);
        int r = flush_locked(c);
        pthread_mutex_unlock(&c->wlock);
        if (r < 0)
                fail(c, r);
}

static void bg_on_io(IoSetEntry *e, uint32_t revents, void *userdata) {
        geerpc_client *c = userdata;

        if (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                bg_flush(c);
        /* client_bg_sync() asks for POLLIN exactly while this thread holds
         * the reader role, and only this thread gives that up: no lock
         * needed to know it. */
        if ((c->bg_events & EPOLLIN) && (revents & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                int r = read_dispatch(c, MSG_DONTWAIT);
                if (r < 0)
                        fail(c, r);
        }
        client_bg_sync(c);
}

static void run_completions(geerpc_client *c, ClientCall *list) {
        for (ClientCall *call; (call = LIST_POP(completed, list));) {
                bg_drop_deadline(c, call);
                if (!call->discarded)
                        call->handler(c, call->result, call->reply, call->error, call->userdata);
                if (call->reply)
                        json_decref(call->reply);
                free(call->error);
                free(call);
        }
}

/* Watches the socket for what the loop thread does for this client. */
static int bg_watch(geerpc_client *c, uint32_t want) {
        int r = 0;
        if (want == c->bg_events)
                return 0;
        if (!c->bg_io.set) {
                if (want)
                        r = io_set_add(client_loop_io(c->loop), &c->bg_io, c->fd, want, bg_on_io, c);
        } else if (want) {
                r = io_set_set_events(&c->bg_io, want);
                if (r >= 0)
                        r = io_set_set_enabled(&c->bg_io, true);
        } else
                r = io_set_set_enabled(&c->bg_io, false);
        if (r >= 0)
                c->bg_events = want;
        return r;
}

/* The last unref was made: nothing of the client is left on the loop. The
 * client may be freed as soon as the state says so. */
static void bg_detach(geerpc_client *c) {
        ClientLoop *l = c->loop;
        io_set_remove(&c->bg_io);
        c->deadline_timer = sd_event_source_disable_unref(c->deadline_timer);

        /* Out of the queue and detached in one step under the lock, the
         * one client_stop_bg() queues it under: else its wake-up could put
         * it back in the queue after it left, and it would be freed there. */
        pthread_mutex_lock(&c->lock);
        client_loop_detach(l, c);
        bool free_now = c->bg_state == BG_QUITTING_FREE;
        if (!free_now) {
                client_set_bg_locked(c, BG_DETACHED);
                pthread_cond_broadcast(&c->bg_cond);
        }
        pthread_mutex_unlock(&c->lock);
        if (free_now) {
                client_free_resources(c);
                client_loop_release(l);
        }
}

/* The loop thread's bookkeeping after anything happened: arm deadlines of
 * new async calls, run finished calls' handlers, decide whether it reads
 * and/or writes for this client, and let go of it after its last unref. */
void client_bg_sync(geerpc_client *c) {
        pthread_mutex_lock(&c->lock);
        LIST_HEAD(ClientCall, fresh) = TAKE_PTR(c->async_new);
        LIST_HEAD(ClientCall, done) = TAKE_PTR(c->completed);
        LIST_HEAD(ClientCall, discarded) = NULL;
        for (ClientCall *call; (call = LIST_POP(async_new, fresh));) {
                if (call->discarded)
                        LIST_PREPEND(completed, discarded, call);
                else if (!call->done && call->deadline != USEC_INFINITY)
                        bg_add_deadline(c, call);
        }
        /* Give the reader role up before running handlers (they may make
         * blocking calls) and whenever a blocking caller could read. */
        if (c->reader == READER_EVENT_THREAD &&
            (done || c->waiters || c->pending.n == 0 || c->state == CLIENT_CLOSED))
                client_set_reader_locked(c, READER_EVENT_THREAD, READER_NONE);
        pthread_mutex_unlock(&c->lock);
        bg_arm_deadline(c);

        run_completions(c, discarded);
        if (done) {
                completing_begin(c);
                run_completions(c, done);
                completing_end(c);
        }

        pthread_mutex_lock(&c->lock);
        if (c->reader == READER_NONE && c->state != CLIENT_CLOSED && c->pending.n > 0) {
                if (c->waiters)
                        handoff_locked(c);
                else
                        client_set_reader_locked(c, READER_NONE, READER_EVENT_THREAD);
        }
        bool reading = c->reader == READER_EVENT_THREAD;
        bool quit = IN_SET(c->bg_state, BG_QUITTING, BG_QUITTING_FREE) && LIST_IS_EMPTY(c->completed) &&
                    LIST_IS_EMPTY(c->async_new);
        pthread_mutex_unlock(&c->lock);
        if (quit) {
                bg_detach(c);
                return;
        }

        pthread_mutex_lock(&c->wlock);
        bool writing = c->flusher == FLUSHER_STALLED;
        pthread_mutex_unlock(&c->wlock);

        int r = bg_watch(c, (reading ? EPOLLIN : 0) | (writing ? EPOLLOUT : 0));
        if (r < 0) {
                log_error_errno(r, "rpc client: the event thread cannot watch %s: %m", strempty(c->address));
                fail(c, r);
        }
}

int client_ensure_bg_locked(geerpc_client *c) {
        if (c->bg_state != BG_NONE)
                return 0;
        int r = client_loop_attach_locked(c);
        if (r < 0)
                return r;
        client_set_bg_locked(c, BG_RUNNING);
        /* The loop looks at it once at least (its first async call's
         * deadline, say). */
        client_wake_bg(c);
        return 0;
}

void client_stop_bg(geerpc_client *c) {
        pthread_mutex_lock(&c->lock);
        client_set_bg_locked(c, BG_QUITTING);
        /* Under the lock: see bg_detach(). */
        client_wake_bg(c);
        while (c->bg_state != BG_DETACHED)
                pthread_cond_wait(&c->bg_cond, &c->lock);
        pthread_mutex_unlock(&c->lock);
}

void client_free_resources(geerpc_client *c) {
        safe_close(c->fd);
        codec_free(c->codec);
        buffer_done(&c->in);
        buffer_done(&c->out);
        buffer_done(&c->sending);
        seq_table_done(&c->pending);
        pthread_cond_destroy(&c->bg_cond);
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->wlock);
        free(c->address);
        free(c);
}
