/// PNG output through libpng. libpng reports errors by longjmp, which must not
/// cross Swift frames, so the whole write happens in C.
#ifndef MS_PNG_H
#define MS_PNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Writes an 8-bit image of `channels` interleaved channels (1 gray, 3 RGB,
/// 4 RGBA), rows top to bottom, to `path`. Returns 0, or -1 with the reason.
int ms_png_write(const char *path, const uint8_t *pixels, uint32_t width, uint32_t height, int channels, char *error,
                 size_t error_capacity);

/// Reads a PNG as 8-bit samples of `channels` interleaved channels (1 or 3),
/// converting as libpng's simplified API does. Call with `pixels` NULL to get
/// the size in `width` and `height`. Returns 0, or -1 with the reason.
int ms_png_read(const char *path, int channels, uint8_t *pixels, size_t capacity, uint32_t *width, uint32_t *height, char *error,
                size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif
