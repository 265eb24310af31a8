/* msb-db-retry.h: backoff when another process holds the database
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How busy (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT) is retried on top of the
 * connection's busy_timeout: the first retry waits `initial_delay`, each
 * next one twice as long, never more than `max_delay`; a call gives up
 * after `max_attempts` attempts in all. */
typedef struct {
  GTimeSpan initial_delay;
  GTimeSpan max_delay;
  guint max_attempts;
} MsbDbRetryPolicy;

#define MSB_DB_RETRY_INITIAL_DELAY (10 * G_TIME_SPAN_MILLISECOND)
#define MSB_DB_RETRY_MAX_DELAY     (500 * G_TIME_SPAN_MILLISECOND)
#define MSB_DB_RETRY_MAX_ATTEMPTS  8

/* One attempt at a unit of work (@attempt counts from 0): TRUE when done,
 * FALSE with @error set when it failed; MSB_DB_ERROR_BUSY is retried. */
typedef gboolean (*MsbDbAttemptFunc) (gpointer   data,
                                      guint      attempt,
                                      GError   **error);

void      msb_db_retry_policy_init_default (MsbDbRetryPolicy       *policy);
GTimeSpan msb_db_retry_policy_delay        (const MsbDbRetryPolicy *policy,
                                            guint                   attempt);
gboolean  msb_db_retry_should_retry        (const MsbDbRetryPolicy *policy,
                                            guint                   attempt,
                                            const GError           *error);
gboolean  msb_db_retry_run                 (const MsbDbRetryPolicy *policy,
                                            guint64                *busy_retries,
                                            MsbDbAttemptFunc        attempt,
                                            gpointer                data,
                                            GError                **error);

G_END_DECLS
