/* tsan-glib-annotations.c: tell ThreadSanitizer about GLib's synchronisation
 *
 * GLib as shipped by Debian is not built with -fsanitize=thread, and on
 * Linux its GMutex and GCond are futex based: ThreadSanitizer sees neither
 * them nor the hand-offs inside GAsyncQueue, GTask and GObject reference
 * counting, and reports every object passed from one thread to another as a
 * data race. This small library is LD_PRELOADed into the test processes by
 * .ci/reliability (tests/reliability/tsan-wrap). It interposes the GLib
 * functions that MsbDb and the tests call, runs the real function, and adds
 * the happens-before edge the function really provides:
 *
 *   g_mutex_lock/trylock, g_rec_mutex_*     acquire the mutex
 *   g_mutex_unlock, g_rec_mutex_unlock      release the mutex
 *   g_cond_wait, g_cond_wait_until          release, then acquire the mutex
 *   g_async_queue_push*                     release the queue
 *   g_async_queue_*pop*                     acquire the queue (if an item)
 *   g_async_queue_lock, _unlock             acquire, release the queue
 *   g_task_run_in_thread*                   release the task; the task's
 *                                           thread function acquires it
 *   g_thread_pool_push                      release the item; the pool's
 *                                           function acquires it
 *   g_task_return_*                         release the task
 *   g_task_propagate_*, g_task_had_error    acquire the task
 *   g_object_unref, g_variant_unref,        release then acquire the object
 *   g_bytes_unref, g_async_queue_unref,     (the last unref sees every use)
 *   g_atomic_rc_box_release(_full)         release; the last one then acquires
 *   g_atomic_ref_count_dec                  release; the last one then acquires
 *                                           (a function, not inline, in 2.74)
 *   g_once_init_leave                       release the location
 *
 * Interposition works for calls made from other libraries (libmsb-db and the
 * tests), not for GLib's calls to itself; that is all we need, since the
 * data in question is MsbDb's. It only adds edges that exist, so it cannot
 * hide a race in MsbDb's own code: a race between two threads that
 * synchronise only through these functions was never a race.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <gio/gio.h>

/* Looked up at run time: in a process without ThreadSanitizer (a shell,
 * `env`, Python) the library is inert. */
static void (*tsan_acquire) (void *addr);
static void (*tsan_release) (void *addr);
static gsize tsan_looked_up;

static void
look_up_tsan (void)
{
  if (g_atomic_pointer_get (&tsan_looked_up))
    return;
  tsan_acquire = dlsym (RTLD_DEFAULT, "__tsan_acquire");
  tsan_release = dlsym (RTLD_DEFAULT, "__tsan_release");
  g_atomic_pointer_set (&tsan_looked_up, 1);
}

static inline void
__tsan_acquire (void *addr)
{
  look_up_tsan ();
  if (tsan_acquire != NULL)
    tsan_acquire (addr);
}

static inline void
__tsan_release (void *addr)
{
  look_up_tsan ();
  if (tsan_release != NULL)
    tsan_release (addr);
}

#define REAL(name, ret, ...) \
  static ret (*real_##name) (__VA_ARGS__); \
  if (G_UNLIKELY (real_##name == NULL)) \
    { \
      real_##name = dlsym (RTLD_NEXT, #name); \
      if (real_##name == NULL) \
        abort (); \
    }

/* GMutex, GRecMutex, GCond ---------------------------------------------- */

void
g_mutex_lock (GMutex *mutex)
{
  REAL (g_mutex_lock, void, GMutex *);
  real_g_mutex_lock (mutex);
  __tsan_acquire (mutex);
}

gboolean
g_mutex_trylock (GMutex *mutex)
{
  REAL (g_mutex_trylock, gboolean, GMutex *);
  if (!real_g_mutex_trylock (mutex))
    return FALSE;
  __tsan_acquire (mutex);
  return TRUE;
}

void
g_mutex_unlock (GMutex *mutex)
{
  REAL (g_mutex_unlock, void, GMutex *);
  __tsan_release (mutex);
  real_g_mutex_unlock (mutex);
}

void
g_rec_mutex_lock (GRecMutex *mutex)
{
  REAL (g_rec_mutex_lock, void, GRecMutex *);
  real_g_rec_mutex_lock (mutex);
  __tsan_acquire (mutex);
}

gboolean
g_rec_mutex_trylock (GRecMutex *mutex)
{
  REAL (g_rec_mutex_trylock, gboolean, GRecMutex *);
  if (!real_g_rec_mutex_trylock (mutex))
    return FALSE;
  __tsan_acquire (mutex);
  return TRUE;
}

void
g_rec_mutex_unlock (GRecMutex *mutex)
{
  REAL (g_rec_mutex_unlock, void, GRecMutex *);
  __tsan_release (mutex);
  real_g_rec_mutex_unlock (mutex);
}

void
g_cond_wait (GCond  *cond,
             GMutex *mutex)
{
  REAL (g_cond_wait, void, GCond *, GMutex *);
  __tsan_release (mutex);
  real_g_cond_wait (cond, mutex);
  __tsan_acquire (mutex);
}

gboolean
g_cond_wait_until (GCond  *cond,
                   GMutex *mutex,
                   gint64  end_time)
{
  gboolean signalled;
  REAL (g_cond_wait_until, gboolean, GCond *, GMutex *, gint64);
  __tsan_release (mutex);
  signalled = real_g_cond_wait_until (cond, mutex, end_time);
  __tsan_acquire (mutex);
  return signalled;
}

/* GAsyncQueue ------------------------------------------------------------ */

void
g_async_queue_push (GAsyncQueue *queue,
                    gpointer     data)
{
  REAL (g_async_queue_push, void, GAsyncQueue *, gpointer);
  __tsan_release (queue);
  real_g_async_queue_push (queue, data);
}

void
g_async_queue_push_front (GAsyncQueue *queue,
                          gpointer     data)
{
  REAL (g_async_queue_push_front, void, GAsyncQueue *, gpointer);
  __tsan_release (queue);
  real_g_async_queue_push_front (queue, data);
}

void
g_async_queue_lock (GAsyncQueue *queue)
{
  REAL (g_async_queue_lock, void, GAsyncQueue *);
  real_g_async_queue_lock (queue);
  __tsan_acquire (queue);
}

void
g_async_queue_unlock (GAsyncQueue *queue)
{
  REAL (g_async_queue_unlock, void, GAsyncQueue *);
  __tsan_release (queue);
  real_g_async_queue_unlock (queue);
}

void
g_async_queue_push_front_unlocked (GAsyncQueue *queue,
                                   gpointer     data)
{
  REAL (g_async_queue_push_front_unlocked, void, GAsyncQueue *, gpointer);
  __tsan_release (queue);
  real_g_async_queue_push_front_unlocked (queue, data);
}

void
g_async_queue_push_unlocked (GAsyncQueue *queue,
                             gpointer     data)
{
  REAL (g_async_queue_push_unlocked, void, GAsyncQueue *, gpointer);
  __tsan_release (queue);
  real_g_async_queue_push_unlocked (queue, data);
}

gpointer
g_async_queue_pop (GAsyncQueue *queue)
{
  gpointer data;
  REAL (g_async_queue_pop, gpointer, GAsyncQueue *);
  data = real_g_async_queue_pop (queue);
  __tsan_acquire (queue);
  return data;
}

gpointer
g_async_queue_try_pop (GAsyncQueue *queue)
{
  gpointer data;
  REAL (g_async_queue_try_pop, gpointer, GAsyncQueue *);
  data = real_g_async_queue_try_pop (queue);
  if (data != NULL)
    __tsan_acquire (queue);
  return data;
}

gpointer
g_async_queue_timeout_pop (GAsyncQueue *queue,
                           guint64      timeout)
{
  gpointer data;
  REAL (g_async_queue_timeout_pop, gpointer, GAsyncQueue *, guint64);
  data = real_g_async_queue_timeout_pop (queue, timeout);
  if (data != NULL)
    __tsan_acquire (queue);
  return data;
}

gpointer
g_async_queue_pop_unlocked (GAsyncQueue *queue)
{
  gpointer data;
  REAL (g_async_queue_pop_unlocked, gpointer, GAsyncQueue *);
  data = real_g_async_queue_pop_unlocked (queue);
  __tsan_acquire (queue);
  return data;
}

gpointer
g_async_queue_try_pop_unlocked (GAsyncQueue *queue)
{
  gpointer data;
  REAL (g_async_queue_try_pop_unlocked, gpointer, GAsyncQueue *);
  data = real_g_async_queue_try_pop_unlocked (queue);
  if (data != NULL)
    __tsan_acquire (queue);
  return data;
}

/* GThreadPool ---------------------------------------------------------------
 * The pool's function is wrapped so that it first acquires the item that
 * g_thread_pool_push() released. The wrapper lives as long as the process:
 * a pool freed without waiting may still call it. */

typedef struct {
  GFunc func;
  gpointer user_data;
} PoolFunc;

static void
pool_trampoline (gpointer data,
                 gpointer wrapper)
{
  PoolFunc *pool_func = wrapper;

  __tsan_acquire (data);
  pool_func->func (data, pool_func->user_data);
}

GThreadPool *
g_thread_pool_new (GFunc      func,
                   gpointer   user_data,
                   gint       max_threads,
                   gboolean   exclusive,
                   GError   **error)
{
  PoolFunc *pool_func = g_new (PoolFunc, 1);
  REAL (g_thread_pool_new, GThreadPool *, GFunc, gpointer, gint, gboolean, GError **);

  pool_func->func = func;
  pool_func->user_data = user_data;
  return real_g_thread_pool_new (pool_trampoline, pool_func, max_threads, exclusive, error);
}

gboolean
g_thread_pool_push (GThreadPool  *pool,
                    gpointer      data,
                    GError      **error)
{
  REAL (g_thread_pool_push, gboolean, GThreadPool *, gpointer, GError **);
  __tsan_release (data);
  return real_g_thread_pool_push (pool, data, error);
}

/* GTask -------------------------------------------------------------------- */

static GQuark
task_func_quark (void)
{
  static GQuark quark;

  if (quark == 0)
    quark = g_quark_from_static_string ("tsan-annotations-task-func");
  return quark;
}

static void
task_thread_trampoline (GTask        *task,
                        gpointer      source_object,
                        gpointer      task_data,
                        GCancellable *cancellable)
{
  GTaskThreadFunc func = g_object_get_qdata (G_OBJECT (task), task_func_quark ());

  __tsan_acquire (task);
  func (task, source_object, task_data, cancellable);
  __tsan_release (task);
}

void
g_task_run_in_thread (GTask           *task,
                      GTaskThreadFunc  task_func)
{
  REAL (g_task_run_in_thread, void, GTask *, GTaskThreadFunc);
  g_object_set_qdata (G_OBJECT (task), task_func_quark (), task_func);
  __tsan_release (task);
  real_g_task_run_in_thread (task, task_thread_trampoline);
}

void
g_task_run_in_thread_sync (GTask           *task,
                           GTaskThreadFunc  task_func)
{
  REAL (g_task_run_in_thread_sync, void, GTask *, GTaskThreadFunc);
  g_object_set_qdata (G_OBJECT (task), task_func_quark (), task_func);
  __tsan_release (task);
  real_g_task_run_in_thread_sync (task, task_thread_trampoline);
  __tsan_acquire (task);
}

void
g_task_return_pointer (GTask          *task,
                       gpointer        result,
                       GDestroyNotify  result_destroy)
{
  REAL (g_task_return_pointer, void, GTask *, gpointer, GDestroyNotify);
  __tsan_release (task);
  real_g_task_return_pointer (task, result, result_destroy);
}

void
g_task_return_boolean (GTask    *task,
                       gboolean  result)
{
  REAL (g_task_return_boolean, void, GTask *, gboolean);
  __tsan_release (task);
  real_g_task_return_boolean (task, result);
}

void
g_task_return_int (GTask  *task,
                   gssize  result)
{
  REAL (g_task_return_int, void, GTask *, gssize);
  __tsan_release (task);
  real_g_task_return_int (task, result);
}

void
g_task_return_error (GTask  *task,
                     GError *error)
{
  REAL (g_task_return_error, void, GTask *, GError *);
  __tsan_release (task);
  real_g_task_return_error (task, error);
}

void
g_task_return_new_error (GTask       *task,
                         GQuark       domain,
                         gint         code,
                         const char  *format,
                         ...)
{
  va_list args;
  char *message;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  __tsan_release (task);
  g_task_return_error (task, g_error_new_literal (domain, code, message));
  g_free (message);
}

gpointer
g_task_propagate_pointer (GTask   *task,
                          GError **error)
{
  REAL (g_task_propagate_pointer, gpointer, GTask *, GError **);
  __tsan_acquire (task);
  return real_g_task_propagate_pointer (task, error);
}

gboolean
g_task_propagate_boolean (GTask   *task,
                          GError **error)
{
  REAL (g_task_propagate_boolean, gboolean, GTask *, GError **);
  __tsan_acquire (task);
  return real_g_task_propagate_boolean (task, error);
}

gssize
g_task_propagate_int (GTask   *task,
                      GError **error)
{
  REAL (g_task_propagate_int, gssize, GTask *, GError **);
  __tsan_acquire (task);
  return real_g_task_propagate_int (task, error);
}

gboolean
g_task_had_error (GTask *task)
{
  REAL (g_task_had_error, gboolean, GTask *);
  __tsan_acquire (task);
  return real_g_task_had_error (task);
}

/* Reference counts ------------------------------------------------------- */

void
g_object_unref (gpointer object)
{
  REAL (g_object_unref, void, gpointer);
  __tsan_release (object);
  __tsan_acquire (object);
  real_g_object_unref (object);
}

/* The last release of an rc box runs its clear function (if any) and frees
 * it, inside GLib: acquiring before the decrement would miss the releases
 * of threads that decrement between the two. So the acquire happens in a
 * clear function of ours, which only the last release runs, before the
 * caller's own. */
static __thread GDestroyNotify rc_box_clear;

static void
acquire_then_clear (gpointer mem_block)
{
  GDestroyNotify clear = rc_box_clear;

  __tsan_acquire (mem_block);
  if (clear != NULL)
    clear (mem_block);
}

void
g_atomic_rc_box_release_full (gpointer       mem_block,
                              GDestroyNotify clear_func)
{
  GDestroyNotify saved = rc_box_clear;
  REAL (g_atomic_rc_box_release_full, void, gpointer, GDestroyNotify);

  __tsan_release (mem_block);
  rc_box_clear = clear_func;
  real_g_atomic_rc_box_release_full (mem_block, acquire_then_clear);
  rc_box_clear = saved;
}

void
g_atomic_rc_box_release (gpointer mem_block)
{
  g_atomic_rc_box_release_full (mem_block, NULL);
}

void
g_variant_unref (GVariant *value)
{
  REAL (g_variant_unref, void, GVariant *);
  __tsan_release (value);
  __tsan_acquire (value);
  real_g_variant_unref (value);
}

void
g_bytes_unref (GBytes *bytes)
{
  REAL (g_bytes_unref, void, GBytes *);
  if (bytes != NULL)
    {
      __tsan_release (bytes);
      __tsan_acquire (bytes);
    }
  real_g_bytes_unref (bytes);
}

void
g_async_queue_unref (GAsyncQueue *queue)
{
  REAL (g_async_queue_unref, void, GAsyncQueue *);
  __tsan_release (queue);
  __tsan_acquire (queue);
  real_g_async_queue_unref (queue);
}

/* The exact pattern: every decrement releases, and the one that reaches
 * zero acquires after it, so it sees every other owner's last use. (The
 * object unrefs above cannot acquire after the last decrement, which
 * happens inside GLib: they acquire just before it, which misses an owner
 * that drops its reference in between. MsbDb's own types use this.) */
gboolean
(g_atomic_ref_count_dec) (gatomicrefcount *arc)
{
  gboolean last;
  REAL (g_atomic_ref_count_dec, gboolean, gatomicrefcount *);
  __tsan_release (arc);
  last = real_g_atomic_ref_count_dec (arc);
  if (last)
    __tsan_acquire (arc);
  return last;
}

/* g_once ----------------------------------------------------------------- */

void
(g_once_init_leave) (volatile void *location,
                     gsize          result)
{
  REAL (g_once_init_leave, void, volatile void *, gsize);
  __tsan_release ((void *) location);
  real_g_once_init_leave (location, result);
}

gboolean
(g_once_init_enter) (volatile void *location)
{
  gboolean need_init;
  REAL (g_once_init_enter, gboolean, volatile void *);
  need_init = real_g_once_init_enter (location);
  if (!need_init)
    __tsan_acquire ((void *) location);
  return need_init;
}
