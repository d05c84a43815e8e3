/* SPDX-License-Identifier: MIT */
#include "basic/log.h"
#include "rpc/timer-wheel.h"

struct TimerWheel {
        sd_event *event;
        sd_event_source *timer;
        usec_t tick;
        uint64_t next;  /* the next tick whose slot is looked at */
        uint64_t armed; /* the tick the timer is armed for; UINT64_MAX: off */
        size_t n;       /* entries on the wheel */
        timer_wheel_expired_t expired;
        void *userdata;
        LIST_HEAD(WheelEntry, slots[TIMER_WHEEL_SLOTS]);
};

static void arm(TimerWheel *w, uint64_t t) {
        w->armed = t;
        if (t == UINT64_MAX) {
                (void) sd_event_source_set_enabled(w->timer, SD_EVENT_OFF);
                return;
        }
        if (sd_event_source_set_time(w->timer, t * w->tick) < 0 ||
            sd_event_source_set_enabled(w->timer, SD_EVENT_ONESHOT) < 0)
                log_error("timer wheel: cannot arm its timer; deadlines are late");
}

/* The slot of the first tick to come that holds an entry. */
static void arm_first(TimerWheel *w) {
        if (w->n > 0)
                for (uint64_t t = w->next; t < w->next + TIMER_WHEEL_SLOTS; t++)
                        if (w->slots[t % TIMER_WHEEL_SLOTS]) {
                                arm(w, t);
                                return;
                        }
        arm(w, UINT64_MAX);
}

static void file(TimerWheel *w, WheelEntry *e) {
        /* The tick by whose start the deadline has passed; one already
         * gone goes in the next slot to be looked at. */
        uint64_t t = MAX((e->when + w->tick - 1) / w->tick, w->next);
        e->filed = t;
        LIST_APPEND(wheel, w->slots[t % TIMER_WHEEL_SLOTS], e);
        w->n++;
        if (t < w->armed)
                arm(w, t);
}

static void unfile(TimerWheel *w, WheelEntry *e) {
        LIST_REMOVE(wheel, w->slots[e->filed % TIMER_WHEEL_SLOTS], e);
        w->n--;
}

void timer_wheel_set(TimerWheel *w, WheelEntry *e, usec_t when) {
        bool filed = LIST_IS_LINKED(wheel, e);
        if (filed && when != USEC_INFINITY && when >= e->when) {
                /* Later: where it is, it is looked at in time. */
                e->when = when;
                return;
        }
        if (filed)
                unfile(w, e);
        e->when = when;
        if (when != USEC_INFINITY)
                file(w, e);
}

static int on_timer(sd_event_source *es, uint64_t now, void *userdata) {
        TimerWheel *w = userdata;
        uint64_t last = now / w->tick;
        w->armed = UINT64_MAX;

        /* Never more than one round: that looks at every slot once. */
        if (last >= w->next + TIMER_WHEEL_SLOTS)
                w->next = last + 1 - TIMER_WHEEL_SLOTS;
        while (w->next <= last) {
                LIST_HEAD(WheelEntry, slot) = TAKE_PTR(w->slots[w->next % TIMER_WHEEL_SLOTS]);
                w->next++;
                for (WheelEntry *e; (e = LIST_POP(wheel, slot));) {
                        w->n--;
                        if (e->when > now) {
                                file(w, e); /* moved later meanwhile */
                                continue;
                        }
                        e->when = USEC_INFINITY;
                        w->expired(e, w->userdata);
                }
        }
        arm_first(w);
        return 0;
}

int timer_wheel_new(TimerWheel **ret, sd_event *event, int64_t priority, usec_t tick, timer_wheel_expired_t expired,
                    void *userdata) {
        TimerWheel *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        *w = (TimerWheel) {
                .event = sd_event_ref(event),
                .tick = MAX(tick, (usec_t) 1),
                .armed = UINT64_MAX,
                .expired = expired,
                .userdata = userdata,
        };
        w->next = now_usec(CLOCK_MONOTONIC) / w->tick;
        int r = sd_event_add_time(event, &w->timer, CLOCK_MONOTONIC, USEC_INFINITY, w->tick / 4, on_timer, w);
        if (r < 0) {
                timer_wheel_free(w);
                return r;
        }
        (void) sd_event_source_set_priority(w->timer, priority);
        (void) sd_event_source_set_description(w->timer, "timer-wheel");
        (void) sd_event_source_set_enabled(w->timer, SD_EVENT_OFF);
        *ret = w;
        return 0;
}

TimerWheel *timer_wheel_free(TimerWheel *w) {
        if (!w)
                return NULL;
        /* Entries belong to their owners; they are just let go. */
        for (size_t i = 0; i < TIMER_WHEEL_SLOTS; i++)
                for (WheelEntry *e; (e = LIST_POP(wheel, w->slots[i]));)
                        e->when = USEC_INFINITY;
        sd_event_source_disable_unref(w->timer);
        sd_event_unref(w->event);
        free(w);
        return NULL;
}
