/* msb-db-version-macros.h: which symbols libmsb-db exports
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined (MSB_DB_INSIDE) && !defined (MSB_DB_COMPILATION)
#error "Only <msb-db.h> can be included directly."
#endif

/* The library is compiled with -fvisibility=hidden, so a function is
 * exported from libmsb-db only when its declaration in a public header
 * carries MSB_DB_AVAILABLE_IN_ALL. Everything else stays private to the
 * library, however many of its files use it.
 *
 * _MSB_DB_EXTERN can be defined before including <msb-db.h> by a build that
 * needs another storage class (as _GLIB_EXTERN can for GLib). */
#ifndef _MSB_DB_EXTERN
# if defined (__GNUC__) && !defined (_WIN32)
#  define _MSB_DB_EXTERN __attribute__ ((visibility ("default"))) extern
# else
#  define _MSB_DB_EXTERN extern
# endif
#endif

/* Every public function of MsbDb 1.x: none has been added after 1.0. */
#define MSB_DB_AVAILABLE_IN_ALL _MSB_DB_EXTERN
