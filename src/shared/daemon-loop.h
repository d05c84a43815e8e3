/* SPDX-License-Identifier: MIT */
#pragma once

/* The event loop of a geerpc daemon (geeregistry, geerpc-example): the
 * thread's default sd-event loop with SIGTERM and SIGINT delivered to a
 * stop handler, SIGPIPE ignored, and the watchdog pinged from the loop when
 * WatchdogSec= is set, so that a hung loop is what the watchdog catches.
 * Internal; not part of the library's ABI. */

#include <systemd/sd-event.h>

#include "basic/macro.h"

int daemon_loop_new(sd_event **ret, sd_event_signal_handler_t on_stop, void *userdata);
