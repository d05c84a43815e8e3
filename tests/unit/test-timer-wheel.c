/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "rpc/timer-wheel.h"

#define TICK (2 * USEC_PER_MSEC)

typedef struct Item {
        WheelEntry entry; /* first: the callback gets it back as this */
        usec_t fired;     /* 0: not yet */
        unsigned n_fired;
} Item;

static void on_expired(WheelEntry *e, void *userdata) {
        Item *it = (Item *) e;
        it->fired = now_usec(CLOCK_MONOTONIC);
        it->n_fired++;
}

/* Runs the loop until every item fired or the time is up. */
static void run_for(sd_event *e, usec_t t) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + t;
        while (now_usec(CLOCK_MONOTONIC) < end)
                cr_assert_geq(sd_event_run(e, 5 * USEC_PER_MSEC), 0);
}

static void check_fired(const Item *it, usec_t when, const char *what) {
        cr_assert_eq(it->n_fired, 1, "%s fired %u times", what, it->n_fired);
        cr_assert_geq(it->fired, when, "%s fired early", what);
        /* A tick late at most, plus a loaded machine's slack. */
        cr_assert_lt(it->fired, when + TICK + 200 * USEC_PER_MSEC, "%s fired late", what);
}

Test(timer_wheel, deadlines_fire_once_in_time_whatever_they_do_meanwhile) {
        sd_event *e;
        TimerWheel *w;
        cr_assert_eq(sd_event_new(&e), 0);
        cr_assert_eq(timer_wheel_new(&w, e, 0, TICK, on_expired, NULL), 0);

        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        Item soon = {}, later = {}, earlier = {}, far = {}, gone = {}, past = {};
        timer_wheel_set(w, &soon.entry, t0 + 50 * USEC_PER_MSEC);
        /* Pushed back three times: it stays where it was, and is filed
         * again when its slot comes round. */
        timer_wheel_set(w, &later.entry, t0 + 50 * USEC_PER_MSEC);
        timer_wheel_set(w, &later.entry, t0 + 100 * USEC_PER_MSEC);
        timer_wheel_set(w, &later.entry, t0 + 300 * USEC_PER_MSEC);
        /* Brought forward: moved. */
        timer_wheel_set(w, &earlier.entry, t0 + 400 * USEC_PER_MSEC);
        timer_wheel_set(w, &earlier.entry, t0 + 80 * USEC_PER_MSEC);
        /* Two rounds of the wheel away (256 slots of 2 ms). */
        timer_wheel_set(w, &far.entry, t0 + 1100 * USEC_PER_MSEC);
        timer_wheel_set(w, &gone.entry, t0 + 60 * USEC_PER_MSEC);
        timer_wheel_remove(w, &gone.entry);
        timer_wheel_set(w, &past.entry, t0 - USEC_PER_SEC);

        run_for(e, 1300 * USEC_PER_MSEC);
        cr_assert_eq(past.n_fired, 1);
        cr_assert_lt(past.fired, t0 + TICK + 200 * USEC_PER_MSEC, "a deadline already past fired late");
        check_fired(&soon, t0 + 50 * USEC_PER_MSEC, "soon");
        check_fired(&later, t0 + 300 * USEC_PER_MSEC, "pushed back");
        check_fired(&earlier, t0 + 80 * USEC_PER_MSEC, "brought forward");
        check_fired(&far, t0 + 1100 * USEC_PER_MSEC, "two rounds away");
        cr_assert_eq(gone.n_fired, 0, "a removed deadline fired");

        /* Set again from scratch after firing. */
        usec_t t1 = now_usec(CLOCK_MONOTONIC);
        soon = (Item) {};
        timer_wheel_set(w, &soon.entry, t1 + 20 * USEC_PER_MSEC);
        run_for(e, 100 * USEC_PER_MSEC);
        check_fired(&soon, t1 + 20 * USEC_PER_MSEC, "set again");

        timer_wheel_free(w);
        sd_event_unref(e);
}

/* The callback may set the deadline again, or free what holds it. */
static void on_expired_rearm(WheelEntry *e, void *userdata) {
        Item *it = (Item *) e;
        if (++it->n_fired < 3)
                timer_wheel_set(*(TimerWheel **) userdata, e, now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_MSEC);
}

static void on_expired_free(WheelEntry *e, void *userdata) {
        free(e);
        (*(unsigned *) userdata)++;
}

Test(timer_wheel, callbacks_may_rearm_or_free) {
        sd_event *e;
        TimerWheel *w;
        cr_assert_eq(sd_event_new(&e), 0);

        cr_assert_eq(timer_wheel_new(&w, e, 0, TICK, on_expired_rearm, &w), 0);
        Item it = {};
        timer_wheel_set(w, &it.entry, now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_MSEC);
        run_for(e, 200 * USEC_PER_MSEC);
        cr_assert_eq(it.n_fired, 3);
        timer_wheel_free(w);

        unsigned freed = 0;
        cr_assert_eq(timer_wheel_new(&w, e, 0, TICK, on_expired_free, &freed), 0);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        for (int i = 0; i < 1000; i++) {
                WheelEntry *x = calloc(1, sizeof *x);
                cr_assert_not_null(x);
                timer_wheel_set(w, x, t0 + (usec_t) (i % 50) * USEC_PER_MSEC);
        }
        run_for(e, 200 * USEC_PER_MSEC);
        cr_assert_eq(freed, 1000);
        timer_wheel_free(w);
        sd_event_unref(e);
}
