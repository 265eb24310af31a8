/* rel-util.h: helpers shared by the reliability suites
 *
 * Every suite is one GTest executable. Tests that need other processes spawn
 * the executable itself with a hidden first argument (`--child MODE ...`):
 * rel_main() dispatches those before g_test_init(), so a child never runs
 * the test list.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <msb-db.h>
#include <gio/gio.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/* A child mode: gets the arguments after `--child MODE`, returns the exit
 * status of the child process. */
typedef int (*RelChildFunc) (int argc, char **argv);

typedef struct {
  const char   *name;
  RelChildFunc  func;
} RelChildMode;

/* Call from main(): runs a child mode and returns TRUE (with *status set)
 * if argv asks for one. Remembers argv[0] for rel_spawn_self(). */
gboolean     rel_dispatch_child     (int                  argc,
                                     char               **argv,
                                     const RelChildMode  *modes,
                                     int                 *status);

/* The absolute path of this test executable (argv[0], not /proc/self/exe,
 * which is valgrind's own binary when the parent runs under valgrind). */
const char  *rel_self_path          (void);

/* Spawns this executable as `self --child MODE args...`, with stdin and
 * stdout piped (stderr inherited). NULL-terminated arguments. */
GSubprocess *rel_spawn_child        (GError             **error,
                                     const char          *mode,
                                     ...) G_GNUC_NULL_TERMINATED;
GSubprocess *rel_spawn_childv       (const char          *mode,
                                     const char * const  *args,
                                     GError             **error);

/* Line reader over a child's stdout. */
typedef struct _RelLines RelLines;
RelLines    *rel_lines_new          (GSubprocess         *child);
/* The next line (without newline), or NULL at EOF. Blocks. */
char        *rel_lines_next         (RelLines            *lines);
/* The next line, or NULL at EOF or after @timeout (microseconds). */
char        *rel_lines_next_timeout (RelLines            *lines,
                                     GTimeSpan            timeout);
void         rel_lines_free         (RelLines            *lines);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelLines, rel_lines_free)

/* Writes @line and a newline to the child's stdin. */
void         rel_child_send         (GSubprocess         *child,
                                     const char          *line);

/* Waits for the child to exit (asserting it does within @timeout) and
 * returns its wait status. */
int          rel_child_wait         (GSubprocess         *child,
                                     GTimeSpan            timeout);

/* For child processes: one line on stdout, written with one write(2), so
 * the parent never reads half an acknowledgement and nothing sits in a
 * stdio buffer when SIGKILL arrives. */
void         rel_say                (const char          *format,
                                     ...) G_GNUC_PRINTF (1, 2);
/* Says "ERROR @what: domain #code: message" and exits with status 1. */
G_NORETURN void rel_child_fail      (const char          *what,
                                     const GError        *error);

/* Temporary directory per test. */
char        *rel_make_tmpdir        (const char          *tag);
void         rel_rm_rf              (const char          *path);
/* For tests that run in g_test_trap_subprocess(): a directory whose name
 * the parent and the subprocess agree on (it holds the parent's pid). The
 * subprocess calls it to create the directory; the parent calls
 * rel_subprocess_dir_remove() after the trap, whatever became of the
 * subprocess. */
char        *rel_subprocess_dir     (const char          *tag);
void         rel_subprocess_dir_remove (const char       *tag);

/* Raw SQLite, outside the library: the independent observer. */
sqlite3     *rel_raw_open           (const char          *path,
                                     int                  flags);
void         rel_raw_exec           (sqlite3             *db,
                                     const char          *sql);
gint64       rel_raw_int            (sqlite3             *db,
                                     const char          *sql);
char        *rel_raw_text           (sqlite3             *db,
                                     const char          *sql);
/* PRAGMA integrity_check on a fresh raw connection: TRUE if "ok". */
gboolean     rel_integrity_ok       (const char          *path,
                                     char               **report);

/* Library helpers that assert success. */
MsbDbPools  *rel_open               (const char          *path,
                                     guint                max_read,
                                     GTimeSpan            connect_timeout,
                                     GTimeSpan            busy_timeout);
void         rel_write_ok           (MsbDbPools          *pools,
                                     const char          *sql,
                                     GVariant            *params);
gint64       rel_read_int           (MsbDbPools          *pools,
                                     const char          *sql,
                                     GVariant            *params);
/* The pools still work: a write and a read of it, with fresh values. */
void         rel_assert_pools_usable (MsbDbPools         *pools);

/* Asserts @error is in MSB_DB_ERROR with one of the codes given
 * (terminated by -1) and prints it as a test message. */
void         rel_assert_db_error    (const GError        *error,
                                     ...);

/* How much slower than a plain build this process runs: 1 normally, 20
 * under valgrind, 4 under a sanitizer; MSB_DB_TEST_TIME_FACTOR overrides
 * (the same variable as the core suites). */
guint        rel_time_factor        (void);
gboolean     rel_under_valgrind     (void);
/* TRUE for the long variants: -Dlong_tests=true, or MSB_DB_LONG_TESTS=1. */
gboolean     rel_long_tests         (void);
/* An integer knob from the environment, with a default. */
gint64       rel_env_int            (const char          *name,
                                     gint64               fallback);

/* Records a figure for docs/RELIABILITY.md: printed as a TAP comment
 * "FIGURE <suite>.<key> = <value>", collected by .ci/reliability. */
void         rel_figure             (const char          *key,
                                     const char          *format,
                                     ...) G_GNUC_PRINTF (2, 3);

/* Points MSB_DB_REL_EVIL_MARKER at a file in a private temporary
 * directory (removed at exit): the evil extension creates it if it is ever
 * loaded. Call from main(), before any thread exists (it sets an
 * environment variable). */
void         rel_setup_evil_marker  (void);

/* @text cut to at most @max bytes, made valid UTF-8, on one line: safe to
 * print in a TAP comment whatever the input was. Free with g_free(). */
char        *rel_printable          (const char          *text,
                                     gsize                max);

/* Process resources. */
guint        rel_count_fds          (void);
guint        rel_count_threads      (void);

G_END_DECLS
