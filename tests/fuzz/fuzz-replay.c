/* SPDX-License-Identifier: MIT */

/* main() for a harness built without libFuzzer: feeds each file named on
 * the command line, and each file in each directory named there, to
 * LLVMFuzzerTestOneInput() once. The first argument is the seed corpus,
 * which must not be empty; later ones (the past crashes) may be missing.
 * A harness that finds a broken invariant aborts, which fails the test. */

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "cannot open %s: %m\n", path);
                return -errno;
        }
        char *data = NULL;
        size_t size = 0, allocated = 0;
        for (;;) {
                if (size == allocated) {
                        allocated = allocated ? allocated * 2 : 4096;
                        char *p = realloc(data, allocated);
                        if (!p) {
                                free(data);
                                fclose(f);
                                return -ENOMEM;
                        }
                        data = p;
                }
                size_t n = fread(data + size, 1, allocated - size, f);
                size += n;
                if (n == 0)
                        break;
        }
        fclose(f);
        fprintf(stderr, "replaying %s (%zu bytes)\n", path, size);
        (void) LLVMFuzzerTestOneInput((const uint8_t *) data, size);
        free(data);
        return 1;
}

static int compare_names(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

/* Returns how many inputs were replayed, or a negative errno. */
static int replay_path(const char *path, int required) {
        struct stat st;
        if (stat(path, &st) < 0) {
                if (errno == ENOENT && !required)
                        return 0;
                fprintf(stderr, "cannot stat %s: %m\n", path);
                return -errno;
        }
        if (!S_ISDIR(st.st_mode))
                return replay_file(path);

        struct dirent **names;
        int n = scandir(path, &names, NULL, compare_names), count = 0;
        if (n < 0) {
                fprintf(stderr, "cannot read %s: %m\n", path);
                return -errno;
        }
        for (int i = 0; i < n; i++) {
                char file[4096];
                if (names[i]->d_name[0] != '.' && count >= 0) {
                        snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name);
                        int r = replay_file(file);
                        count = r < 0 ? r : count + r;
                }
                free(names[i]);
        }
        free(names);
        return count;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR [CRASHES_DIR|FILE...]\n", argv[0]);
                return 2;
        }
        int total = 0;
        for (int i = 1; i < argc; i++) {
                int r = replay_path(argv[i], i == 1);
                if (r < 0)
                        return 1;
                if (i == 1 && r == 0) {
                        fprintf(stderr, "%s: the seed corpus is empty\n", argv[i]);
                        return 1;
                }
                total += r;
        }
        fprintf(stderr, "%d input(s) replayed, no failure\n", total);
        return 0;
}
