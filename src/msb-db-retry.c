/* msb-db-retry.c: backoff when another process holds the database
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-error.h"
#include "msb-db-retry.h"
#include "msb-db-stats-private.h"

void
msb_db_retry_policy_init_default (MsbDbRetryPolicy *policy)
{
  policy->initial_delay = MSB_DB_RETRY_INITIAL_DELAY;
  policy->max_delay = MSB_DB_RETRY_MAX_DELAY;
  policy->max_attempts = MSB_DB_RETRY_MAX_ATTEMPTS;
}

/* The pause after failed attempt number @attempt (0 for the first). */
GTimeSpan
msb_db_retry_policy_delay (const MsbDbRetryPolicy *policy,
                           guint                   attempt)
{
  GTimeSpan delay = policy->initial_delay;

  for (guint i = 0; i < attempt && delay < policy->max_delay; i++)
    delay *= 2;
  return MIN (delay, policy->max_delay);
}

/* Whether a failed attempt number @attempt deserves another try: only busy
 * errors do, and only while the budget lasts. */
gboolean
msb_db_retry_should_retry (const MsbDbRetryPolicy *policy,
                           guint                   attempt,
                           const GError           *error)
{
  return g_error_matches (error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY) &&
         attempt + 1 < policy->max_attempts;
}

/* Runs @attempt until it succeeds, fails with something other than busy,
 * or the budget is spent, pausing between attempts as @policy says. The
 * one retry loop of the library: reads, snapshots, write batches and
 * opening a connection all go through it. Each retry adds one to
 * *@busy_retries (atomically; NULL: not counted). */
gboolean
msb_db_retry_run (const MsbDbRetryPolicy  *policy,
                  guint64                 *busy_retries,
                  MsbDbAttemptFunc         attempt,
                  gpointer                 data,
                  GError                 **error)
{
  for (guint i = 0; ; i++)
    {
      GError *local_error = NULL;
      GTimeSpan delay;

      if (attempt (data, i, &local_error))
        return TRUE;
      if (!msb_db_retry_should_retry (policy, i, local_error))
        {
          if (g_error_matches (local_error, MSB_DB_ERROR, MSB_DB_ERROR_BUSY))
            g_debug ("Gave up after %u attempts: %s", i + 1, local_error->message);
          g_propagate_error (error, local_error);
          return FALSE;
        }
      delay = msb_db_retry_policy_delay (policy, i);
      g_debug ("Database busy (%s); retrying in %" G_GINT64_FORMAT " ms",
               local_error->message, delay / 1000);
      g_error_free (local_error);
      if (busy_retries != NULL)
        msb_db_counter_add (busy_retries, 1);
      g_usleep (delay);
    }
}
