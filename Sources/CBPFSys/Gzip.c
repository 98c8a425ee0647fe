#include "CBPFSysGzip.h"
#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

long sbpf_gunzip_file(const char *path, unsigned char **out)
{
	gzFile file = gzopen(path, "rb");
	size_t capacity = 1 << 16, length = 0;
	unsigned char *buffer;

	*out = NULL;
	if (!file)
		return -1;
	buffer = malloc(capacity);
	if (!buffer) {
		gzclose(file);
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		int n;
		if (length == capacity) {
			unsigned char *bigger = realloc(buffer, capacity * 2);
			if (!bigger) {
				free(buffer);
				gzclose(file);
				errno = ENOMEM;
				return -1;
			}
			buffer = bigger;
			capacity *= 2;
		}
		n = gzread(file, buffer + length, (unsigned)(capacity - length));
		if (n < 0) {
			free(buffer);
			gzclose(file);
			errno = EIO;
			return -1;
		}
		if (n == 0)
			break;
		length += (size_t)n;
	}
	gzclose(file);
	*out = buffer;
	return (long)length;
}
