/* SPDX-License-Identifier: MIT */

/* Linked into the criterion tests of ThreadSanitizer builds only
 * (`.ci/dev tsan`).
 *
 * Why: criterion's sandbox (BoxFort) maps its shared arena with MAP_FIXED
 * at an address it draws with rand_r() from 0x2000'0000'0000 +
 * r * 16 MiB. ThreadSanitizer refuses a fixed mapping outside the
 * application's part of the address space, and on x86-64 only
 * [0x5500'0000'0000, 0x5680'0000'0000) of that draw is the application's:
 * three draws in a row miss it nearly always, and every test binary aborts
 * with "Could not initialize inheritable arena".
 *
 * What: this rand_r() stands in for libc's in the test programs. Called
 * from libcriterion it draws in that range only; called from anywhere else
 * (tests draw random inputs with it) it is libc's own. */

#include <dlfcn.h>
#include <stdlib.h> /* rand_r() */
#include <string.h>

#define ARENA_DRAW_FIRST 0x350000U /* (0x5500'0000'0000 - 0x2000'0000'0000) / 16 MiB */
#define ARENA_DRAW_COUNT 0x18000U  /* 1.5 TiB / 16 MiB */

int rand_r(unsigned *seed) {
        static int (*libc_rand_r)(unsigned *);
        if (!libc_rand_r)
                libc_rand_r = (int (*)(unsigned *)) dlsym(RTLD_NEXT, "rand_r");
        int r = libc_rand_r(seed);

        Dl_info info;
        if (dladdr(__builtin_return_address(0), &info) && info.dli_fname && strstr(info.dli_fname, "libcriterion"))
                return (int) (ARENA_DRAW_FIRST + (unsigned) r % ARENA_DRAW_COUNT);
        return r;
}
