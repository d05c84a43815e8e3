/* SPDX-License-Identifier: MIT */
#pragma once

/* A process's resident memory, for the tests and the benchmark that
 * measure what connections cost a server. */

#include <stdio.h>
#include <sys/types.h>

/* VmRSS of pid in KiB, or -1 when it cannot be read. */
static inline long proc_rss_kib(pid_t pid) {
        char path[64], line[256];
        long kib = -1;
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}
