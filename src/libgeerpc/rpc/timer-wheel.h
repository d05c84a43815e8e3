/* SPDX-License-Identifier: MIT */
#pragma once

/* A coarse timer wheel on sd-event: any number of deadlines (one per
 * connection) for the price of one timer source. Deadlines are kept to
 * the wheel's tick (an entry fires within one tick after its time). An
 * entry whose deadline moves later stays in its slot and is filed again
 * when that slot comes round, so pushing a deadline back, which every
 * read does, is a store; only a deadline that moves earlier is moved. The
 * timer is armed only for the first slot that holds an entry: an idle
 * wheel, or one whose deadlines are far away, does not wake the loop. */

#include <systemd/sd-event.h>

#include "basic/list.h"
#include "basic/macro.h"

#define TIMER_WHEEL_SLOTS 256U

typedef struct TimerWheel TimerWheel;
typedef struct WheelEntry WheelEntry;

/* Embedded in its owner; a zeroed entry is off the wheel. */
struct WheelEntry {
        usec_t when;    /* CLOCK_MONOTONIC, while on the wheel */
        uint64_t filed; /* the tick whose slot holds it */
        LIST_FIELDS(WheelEntry, wheel);
};

/* Called on the loop when e's deadline has passed; e is off the wheel by
 * then (the callback may free it, or set it again). */
typedef void (*timer_wheel_expired_t)(WheelEntry *e, void *userdata);

int timer_wheel_new(TimerWheel **ret, sd_event *event, int64_t priority, usec_t tick, timer_wheel_expired_t expired,
                    void *userdata);
TimerWheel *timer_wheel_free(TimerWheel *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(TimerWheel *, timer_wheel_free);

/* Sets (or moves) e's deadline; USEC_INFINITY takes it off the wheel. */
void timer_wheel_set(TimerWheel *w, WheelEntry *e, usec_t when);
static inline void timer_wheel_remove(TimerWheel *w, WheelEntry *e) {
        timer_wheel_set(w, e, USEC_INFINITY);
}
