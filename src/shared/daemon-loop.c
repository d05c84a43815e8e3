/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "shared/daemon-loop.h"
#include "basic/log.h"

#ifdef GEERPC_TEST_HOOKS
/* The test copies of the daemons only (geerpc-example-test-hooks, never
 * installed): SIGUSR2 hangs the event loop, so that the systemd suite can
 * watch the watchdog kill and restart a service. */
static int on_hang(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        log_warning("test hook: SIGUSR2 received, hanging the event loop");
        for (;;)
                sleep(3600);
        return 0;
}
#endif

int daemon_loop_new(sd_event **ret, sd_event_signal_handler_t on_stop, void *userdata) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        sigset_t mask;
        int r;

        /* sd-event receives signals through a signalfd: they must be
         * blocked first (threads started later inherit the mask). */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
#ifdef GEERPC_TEST_HOOKS
        sigaddset(&mask, SIGUSR2);
#endif
        sigprocmask(SIG_BLOCK, &mask, NULL);
        (void) signal(SIGPIPE, SIG_IGN);

        /* The servers hold thousands of connections (RPC and HTTP on one
         * port); systemd's soft limit of 1024 descriptors is for programs
         * that use select(), which nothing here does. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }

        r = sd_event_default(&e);
        if (r < 0)
                return log_error_errno(r, "cannot create the event loop: %m");
        r = sd_event_add_signal(e, NULL, SIGTERM, on_stop, userdata);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGINT, on_stop, userdata);
#ifdef GEERPC_TEST_HOOKS
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGUSR2, on_hang, NULL);
#endif
        if (r < 0)
                return log_error_errno(r, "cannot watch signals: %m");

        r = sd_event_set_watchdog(e, true);
        if (r < 0)
                log_warning_errno(r, "cannot enable the watchdog: %m");
        else if (r > 0)
                log_debug("watchdog enabled");
        *ret = TAKE_PTR(e);
        return 0;
}
