#define _GNU_SOURCE
#include "medsynth_platform.h"

#include <unistd.h>

int ms_syncfs(int descriptor) { return syncfs(descriptor); }

ssize_t ms_copy_file_range(int input, int output, size_t length) {
    return copy_file_range(input, NULL, output, NULL, length, 0);
}
