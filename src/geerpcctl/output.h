/* SPDX-License-Identifier: MIT */
#pragma once

/* geerpcctl's output: the three modes (json, table, plain), JSON pretty on
 * a terminal and compact in pipes, failures as one JSON object on stdout
 * with --json, text from peers escaped and capped before it reaches a
 * terminal, and progress on stderr only when that is a terminal. */

#include <jansson.h>
#include <stdbool.h>

#include "basic/macro.h"

typedef enum OutputMode {
        OUTPUT_PLAIN, /* bare values, one per line: for scripts and pipes */
        OUTPUT_TABLE, /* columns with a header line: for people */
        OUTPUT_JSON,  /* one JSON object per run, on stdout */
        _OUTPUT_MODE_MAX,
} OutputMode;

/* Text from a peer is printed (escaped) up to this many bytes; --json
 * carries all of it. */
#define OUTPUT_TEXT_MAX 1024

typedef struct Output {
        OutputMode mode;
        bool stdout_tty; /* JSON is indented for a terminal */
        bool stderr_tty; /* progress is shown */
} Output;

/* Terminal detection; the mode defaults to table on a terminal, plain
 * otherwise. */
void output_init(Output *o);
int output_mode_from_string(const char *s);
const char *output_mode_to_string(OutputMode m);
/* Looks ahead for --json or --output json in the options before the
 * command's arguments, so that even a usage error found before them is
 * reported as JSON. */
void output_prescan(Output *o, int argc, char *const *argv);

/* Prints v (borrowed) as one line of JSON (indented on a terminal). */
void output_json(const Output *o, json_t *v);
/* Reports a failure: "geerpcctl: MESSAGE" on stderr (escaped, capped),
 * and with --json {"error":MESSAGE,"code":status} plus the fields of extra
 * (borrowed, may be NULL) on stdout. Returns status. */
int output_failure(const Output *o, int status, json_t *extra, const char *fmt, ...) _printf_(4, 5);
/* The same where the message adds context to an error text (which server,
 * which method): JSON's "error" is the bare error, the context is in
 * extra. */
int output_failure_error(const Output *o, int status, json_t *extra, const char *error, const char *fmt, ...)
        _printf_(5, 6);
/* The same on stderr only (a note, or part of an outcome printed
 * otherwise). */
void output_note(const char *fmt, ...) _printf_(1, 2);

/* Columns: headers[n_cols], then n_rows rows of n_cols cells each; the
 * header line is printed in table mode only, cells are escaped. */
void output_table(const Output *o, size_t n_cols, const char *const *headers, const char *const *cells,
                  size_t n_rows);

/* s with control characters, invalid UTF-8 and characters that reorder or
 * hide text escaped (\n, \x1b, \u202e, ...), at most max bytes of s, then
 * a note of how much more there was. malloc'd; NULL on OOM. */
char *text_escape(const char *s, size_t max);
/* s with invalid UTF-8 replaced by U+FFFD, as JSON strings must be.
 * malloc'd; NULL on OOM. */
char *text_utf8_sanitize(const char *s);
/* A JSON string of any text (invalid UTF-8 replaced). New reference. */
json_t *json_text(const char *s);

/* Progress on stderr while a long command runs: "LABEL done/total, 1.2s",
 * refreshed a few times a second from a thread of its own, and only when
 * stderr is a terminal (and not for the first moments, so that quick
 * commands print nothing). total 0: no counter. */
typedef struct Progress Progress;
Progress *progress_start(const Output *o, const char *label, unsigned long total);
void progress_step(Progress *p);
/* Stops it and clears its line; NULL is fine. */
void progress_stop(Progress *p);
