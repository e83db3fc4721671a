/*
 * PEM files for the TLS key and chain: read a bounded file, decode each object to DER,
 * encode DER back to PEM for `mailnook cert`. BearSSL does the base64; we own the memory.
 */
#ifndef MAILNOOK_PEM_H
#define MAILNOOK_PEM_H

#include <stddef.h>

/* Called once per decoded object, name being its banner ("CERTIFICATE"): 0 goes on,
 * -1 stops the reading with an error. */
typedef int (*pem_object_fn)(void *ctx, const char *name, const unsigned char *der,
    size_t len);

/*
 * Read path (at most PEM_FILE_MAX bytes) and call fn for each PEM object in order.
 * Returns the number of objects, or -1 with err set (I/O, bad base64, object larger
 * than PEM_OBJ_MAX, or fn refused one).
 */
int pem_read_objects(const char *path, pem_object_fn fn, void *ctx, char *err,
    size_t errlen);

/* Encode der as a PEM object named name (64-column lines, LF) into out (capacity cap,
 * NUL terminated); the length, or 0 if it does not fit. */
size_t pem_encode(char *out, size_t cap, const char *name, const unsigned char *der,
    size_t len);

#endif
