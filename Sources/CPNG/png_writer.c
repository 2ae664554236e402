#include "ms_png.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

static void copy_message(const char *message, char *buffer, size_t capacity) {
    if (buffer == NULL || capacity == 0) return;
    snprintf(buffer, capacity, "%s", message);
}

int ms_png_write(const char *path, const uint8_t *pixels, uint32_t width, uint32_t height, int channels, char *error,
                 size_t error_capacity) {
    int color_type;
    switch (channels) {
        case 1: color_type = PNG_COLOR_TYPE_GRAY; break;
        case 3: color_type = PNG_COLOR_TYPE_RGB; break;
        case 4: color_type = PNG_COLOR_TYPE_RGB_ALPHA; break;
        default: copy_message("PNG needs 1, 3 or 4 channels", error, error_capacity); return -1;
    }
    FILE *stream = fopen(path, "wb");
    if (stream == NULL) {
        copy_message(strerror(errno), error, error_capacity);
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (png == NULL || info == NULL) {
        png_destroy_write_struct(&png, &info);
        fclose(stream);
        copy_message("libpng could not start", error, error_capacity);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(stream);
        copy_message("libpng failed while writing", error, error_capacity);
        return -1;
    }
    png_init_io(png, stream);
    png_set_IHDR(png, info, width, height, 8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)width * (size_t)channels;
    for (uint32_t row = 0; row < height; ++row) {
        png_write_row(png, (png_const_bytep)(pixels + row * stride));
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(stream) != 0) {
        copy_message(strerror(errno), error, error_capacity);
        return -1;
    }
    return 0;
}

int ms_png_read(const char *path, int channels, uint8_t *pixels, size_t capacity, uint32_t *width, uint32_t *height, char *error,
                size_t error_capacity) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) {
        copy_message(image.message, error, error_capacity);
        return -1;
    }
    *width = image.width;
    *height = image.height;
    if (pixels == NULL) {
        png_image_free(&image);
        return 0;
    }
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    if (PNG_IMAGE_SIZE(image) > capacity) {
        png_image_free(&image);
        copy_message("buffer too small for the image", error, error_capacity);
        return -1;
    }
    if (!png_image_finish_read(&image, NULL, pixels, 0, NULL)) {
        copy_message(image.message, error, error_capacity);
        return -1;
    }
    return 0;
}
