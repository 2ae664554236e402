/// Linux calls that Swift's Glibc module does not export (they need _GNU_SOURCE).
#ifndef MEDSYNTH_PLATFORM_H
#define MEDSYNTH_PLATFORM_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// syncfs(2): flushes the file system holding `descriptor`.
int ms_syncfs(int descriptor);

/// copy_file_range(2) between the current offsets of two descriptors.
ssize_t ms_copy_file_range(int input, int output, size_t length);

#ifdef __cplusplus
}
#endif

#endif
