#ifndef CBPFSYS_GZIP_H
#define CBPFSYS_GZIP_H
#include <stddef.h>

/* Decompresses the gzip file at `path` (e.g. /proc/config.gz) into a malloc'd buffer.
 * Returns the length, or -1 on error (errno set); the caller frees *out. */
long sbpf_gunzip_file(const char *path, unsigned char **out);

#endif
