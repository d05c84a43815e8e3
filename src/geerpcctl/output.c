/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "codec/json-util.h"
#include "output.h"

static const char *const mode_names[_OUTPUT_MODE_MAX] = {
        [OUTPUT_PLAIN] = "plain",
        [OUTPUT_TABLE] = "table",
        [OUTPUT_JSON] = "json",
};

void output_init(Output *o) {
        o->stdout_tty = isatty(STDOUT_FILENO) > 0;
        o->stderr_tty = isatty(STDERR_FILENO) > 0;
        o->mode = o->stdout_tty ? OUTPUT_TABLE : OUTPUT_PLAIN;
}

int output_mode_from_string(const char *s) {
        for (int m = 0; m < _OUTPUT_MODE_MAX; m++)
                if (streq(s, mode_names[m]))
                        return m;
        return -EINVAL;
}

const char *output_mode_to_string(OutputMode m) {
        return m < _OUTPUT_MODE_MAX ? mode_names[m] : NULL;
}

void output_prescan(Output *o, int argc, char *const *argv) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (streq(a, "--"))
                        return;
                if (streq(a, "--json") || streq(a, "--output=json") || streq(a, "-ojson") ||
                    ((streq(a, "--output") || streq(a, "-o")) && i + 1 < argc && streq(argv[i + 1], "json")))
                        o->mode = OUTPUT_JSON;
        }
}

void output_json(const Output *o, json_t *v) {
        size_t flags = JSON_ENCODE_ANY | (o->stdout_tty ? JSON_INDENT(2) : JSON_COMPACT);
        char *s = json_dumps(v, flags);
        if (s)
                puts(s);
        free(s);
        fflush(stdout);
}

/* ---- text from peers ------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at s (1-4) and its code point, or
 * 0 when the bytes there are not one (overlong, surrogate, truncated). */
static size_t utf8_decode(const unsigned char *s, uint32_t *ret) {
        uint32_t c;
        size_t n;
        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                c = s[0] & 0x1f, n = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                c = s[0] & 0x0f, n = 3;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                c = s[0] & 0x07, n = 4;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        *ret = c;
        return n;
}

/* Characters a terminal acts on or that change how text reads: C0 and C1
 * controls, DEL, line and paragraph separators, bidirectional overrides and
 * isolates (the "Trojan source" characters), zero-width ones. */
static bool char_needs_escape(uint32_t c) {
        return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 || (c >= 0x200b && c <= 0x200f) ||
               (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

/* Finishes a memstream: its text, or NULL when anything failed. */
static char *memstream_finish(FILE *f, char **buf) {
        bool failed = ferror(f);
        if (fclose(f) != 0 || failed)
                return *buf = mfree(*buf);
        return *buf;
}

char *text_escape(const char *s, size_t max) {
        const unsigned char *p = (const unsigned char *) s;
        size_t len = strlen(s), i = 0, size;
        char *buf = NULL;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return NULL;

        while (i < len && i < max) {
                uint32_t c;
                size_t n = utf8_decode(p + i, &c);
                if (n == 0) {
                        fprintf(f, "\\x%02x", p[i]);
                        n = 1;
                } else if (i + n > max)
                        break; /* never cut a character in two */
                else if (c == '\\')
                        fputs("\\\\", f);
                else if (c == '\n' || c == '\r' || c == '\t')
                        fputs(c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t", f);
                else if (char_needs_escape(c))
                        fprintf(f, c < 0x80 ? "\\x%02x" : "\\u%04x", (unsigned) c);
                else
                        fwrite(p + i, 1, n, f);
                i += n;
        }
        if (i < len)
                fprintf(f, "... [%zu bytes in all; --json prints the full text]", len);
        return memstream_finish(f, &buf);
}

char *text_utf8_sanitize(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        size_t size;
        char *buf = NULL;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; p[i];) {
                uint32_t c;
                size_t n = utf8_decode(p + i, &c);
                if (n == 0) {
                        fputs("\xef\xbf\xbd", f); /* U+FFFD */
                        n = 1;
                } else
                        fwrite(p + i, 1, n, f);
                i += n;
        }
        return memstream_finish(f, &buf);
}

json_t *json_text(const char *s) {
        _cleanup_free_ char *t = text_utf8_sanitize(strempty(s));
        return t ? json_string(t) : NULL;
}

static void vnote(const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL, *escaped = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                return;
        escaped = text_escape(msg, OUTPUT_TEXT_MAX);
        fprintf(stderr, "%s: %s\n", program_invocation_short_name, escaped ?: "(out of memory)");
}

void output_note(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vnote(fmt, ap);
        va_end(ap);
}

static int vfailure(const Output *o, int status, json_t *extra, const char *error, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        output_note("%s", msg ?: "out of memory");
        if (o->mode == OUTPUT_JSON) {
                _cleanup_json_ json_t *root = json_object();
                if (root) {
                        json_object_set_new(root, "error", json_text(error ?: msg ?: "out of memory"));
                        json_object_set_new(root, "code", json_integer(status));
                        if (extra)
                                json_object_update_missing(root, extra);
                        output_json(o, root);
                }
        }
        return status;
}

int output_failure(const Output *o, int status, json_t *extra, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = vfailure(o, status, extra, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int output_failure_error(const Output *o, int status, json_t *extra, const char *error, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = vfailure(o, status, extra, error, fmt, ap);
        va_end(ap);
        return r;
}

/* ---- tables --------------------------------------------------------------- */

void output_table(const Output *o, size_t n_cols, const char *const *headers, const char *const *cells,
                  size_t n_rows) {
        bool legend = o->mode == OUTPUT_TABLE;
        size_t n = n_cols * n_rows;
        char **esc = calloc(n ?: 1, sizeof(char *));
        size_t width[16] = {};
        if (!esc || n_cols > ELEMENTSOF(width)) {
                free(esc);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                esc[i] = text_escape(strempty(cells[i]), OUTPUT_TEXT_MAX);
                width[i % n_cols] = MAX(width[i % n_cols], strlen(strempty(esc[i])));
        }
        for (size_t c = 0; legend && c < n_cols; c++)
                width[c] = MAX(width[c], strlen(headers[c]));
        for (size_t row = legend ? 0 : 1; row <= n_rows; row++)
                for (size_t c = 0; c < n_cols; c++) {
                        const char *cell = row == 0 ? headers[c] : strempty(esc[(row - 1) * n_cols + c]);
                        bool last = c + 1 == n_cols;
                        /* plain: one value per line, or tab-separated columns */
                        if (!legend)
                                printf("%s%s", cell, last ? "\n" : "\t");
                        else
                                printf("%-*s%s", last ? 0 : (int) width[c], cell, last ? "\n" : "  ");
                }
        for (size_t i = 0; i < n; i++)
                free(esc[i]);
        free(esc);
        fflush(stdout);
}

/* ---- progress ------------------------------------------------------------- */

#define PROGRESS_DELAY_USEC (300 * USEC_PER_MSEC)  /* quick commands show nothing */
#define PROGRESS_PERIOD_USEC (100 * USEC_PER_MSEC)

struct Progress {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop, shown;
        char *label;
        unsigned long total;
        atomic_ulong done;
        usec_t start;
};

static void progress_draw(Progress *p) {
        usec_t elapsed = now_usec(CLOCK_MONOTONIC) - p->start;
        unsigned long done = atomic_load(&p->done);
        if (p->total > 0)
                fprintf(stderr, "\r\033[K%s %lu/%lu, %.1fs", p->label, done, p->total,
                        (double) elapsed / USEC_PER_SEC);
        else
                fprintf(stderr, "\r\033[K%s, %.1fs", p->label, (double) elapsed / USEC_PER_SEC);
        fflush(stderr);
        p->shown = true;
}

static void *progress_thread(void *userdata) {
        Progress *p = userdata;
        usec_t next = p->start + PROGRESS_DELAY_USEC;
        pthread_mutex_lock(&p->lock);
        while (!p->stop) {
                struct timespec ts = { .tv_sec = (time_t) (next / USEC_PER_SEC),
                                       .tv_nsec = (long) (next % USEC_PER_SEC * NSEC_PER_USEC) };
                if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT && !p->stop) {
                        progress_draw(p);
                        next = now_usec(CLOCK_MONOTONIC) + PROGRESS_PERIOD_USEC;
                }
        }
        if (p->shown) {
                fprintf(stderr, "\r\033[K");
                fflush(stderr);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

Progress *progress_start(const Output *o, const char *label, unsigned long total) {
        if (!o->stderr_tty)
                return NULL;
        Progress *p = calloc(1, sizeof *p);
        if (!p)
                return NULL;
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cond, &attr);
        pthread_condattr_destroy(&attr);
        pthread_mutex_init(&p->lock, NULL);
        p->label = text_escape(label, 200);
        p->total = total;
        p->start = now_usec(CLOCK_MONOTONIC);
        if (!p->label || pthread_create(&p->thread, NULL, progress_thread, p) != 0) {
                free(p->label);
                free(p);
                return NULL;
        }
        return p;
}

void progress_step(Progress *p) {
        if (p)
                atomic_fetch_add(&p->done, 1);
}

void progress_stop(Progress *p) {
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p->label);
        free(p);
}
