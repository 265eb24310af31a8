/* msb-db-retry.c: backoff when another process holds the database
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "msb-db-error.h"
#include "msb-db-retry.h"

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
