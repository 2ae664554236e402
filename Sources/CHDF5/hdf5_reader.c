// The libhdf5 side of the Keras weight reader. HDF5's own error printing is
// switched off; every failure becomes a return code and a reason.
#include "ms_hdf5.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest string attribute read (layer and weight name lists are a few kB). */
#define MS_H5_MAX_ATTRIBUTE_BYTES ((size_t)16 << 20)

struct ms_h5_file {
    hid_t id;
};

static void set_error(char *error, size_t capacity, const char *message) {
    if (capacity > 0) snprintf(error, capacity, "%s", message);
}

ms_h5_file *ms_h5_open(const char *path, char *error, size_t error_capacity) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) <= 0) {
        set_error(error, error_capacity, "not an HDF5 file");
        return NULL;
    }
    hid_t id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) {
        set_error(error, error_capacity, "cannot open the HDF5 file");
        return NULL;
    }
    ms_h5_file *file = malloc(sizeof(ms_h5_file));
    file->id = id;
    return file;
}

void ms_h5_close(ms_h5_file *file) {
    if (file == NULL) return;
    H5Fclose(file->id);
    free(file);
}

/* Appends one string of an attribute to `buffer`, newline-separated, as far
   as it fits (leaving one byte for the final NUL); counts what all need. */
static void append_string(const char *text, size_t length, int last, char *buffer, size_t capacity, size_t *used, size_t *needed) {
    size_t separator = last ? 0 : 1;
    *needed += length + separator;
    if (*used + length + separator < capacity) {
        memcpy(buffer + *used, text, length);
        *used += length;
        if (!last) buffer[(*used)++] = '\n';
    }
}

/* A variable-length string attribute; -2 when it cannot be read. */
static long read_variable_strings(hid_t attribute, hid_t type, hid_t space, hssize_t count, char *buffer, size_t capacity, size_t *used) {
    size_t items = (size_t)(count > 0 ? count : 1), needed = 0;
    long result = -2;
    char **strings = items <= MS_H5_MAX_ATTRIBUTE_BYTES / sizeof(char *) ? calloc(items, sizeof(char *)) : NULL;
    hid_t memory = H5Tcopy(H5T_C_S1);
    H5Tset_size(memory, H5T_VARIABLE);
    /* h5py writes str as UTF-8; HDF5 will not convert it to an ASCII memory type. */
    H5Tset_cset(memory, H5Tget_cset(type));
    if (strings && H5Aread(attribute, memory, strings) >= 0) {
        for (hssize_t i = 0; i < count; i++) {
            append_string(strings[i] ? strings[i] : "", strings[i] ? strlen(strings[i]) : 0, i + 1 == count, buffer, capacity, used,
                          &needed);
        }
        H5Dvlen_reclaim(memory, space, H5P_DEFAULT, strings);
        result = (long)needed;
    }
    H5Tclose(memory);
    free(strings);
    return result;
}

/* A fixed-length string attribute; -2 when it cannot be read. */
static long read_fixed_strings(hid_t attribute, hid_t type, hssize_t count, char *buffer, size_t capacity, size_t *used) {
    size_t size = H5Tget_size(type), items = (size_t)(count > 0 ? count : 1), needed = 0;
    long result = -2;
    /* The sizes come from the file: refuse an attribute over 16 MB before allocating it. */
    char *raw = size > 0 && items <= MS_H5_MAX_ATTRIBUTE_BYTES / size ? calloc(items * size + 1, 1) : NULL;
    if (raw && H5Aread(attribute, type, raw) >= 0) {
        for (hssize_t i = 0; i < count; i++) {
            const char *item = raw + (size_t)i * size;
            append_string(item, strnlen(item, size), i + 1 == count, buffer, capacity, used, &needed);
        }
        result = (long)needed;
    }
    free(raw);
    return result;
}

long ms_h5_string_attribute(ms_h5_file *file, const char *object_path, const char *name, char *buffer, size_t capacity) {
    if (H5Aexists_by_name(file->id, object_path, name, H5P_DEFAULT) <= 0) return -1;
    hid_t attribute = H5Aopen_by_name(file->id, object_path, name, H5P_DEFAULT, H5P_DEFAULT);
    if (attribute < 0) return -1;
    hid_t type = H5Aget_type(attribute);
    hid_t space = H5Aget_space(attribute);
    long result = -2;
    if (H5Tget_class(type) == H5T_STRING) {
        hssize_t count = H5Sget_simple_extent_npoints(space);
        size_t used = 0;
        result = H5Tis_variable_str(type) > 0 ? read_variable_strings(attribute, type, space, count, buffer, capacity, &used)
                                              : read_fixed_strings(attribute, type, count, buffer, capacity, &used);
        if (capacity > 0) buffer[used < capacity ? used : capacity - 1] = '\0';
    }
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(attribute);
    return result;
}

struct member_names {
    char *buffer;
    size_t capacity, used, needed;
    int count;
};

static herr_t append_member(hid_t group, const char *name, const H5L_info_t *info, void *context) {
    (void)group;
    (void)info;
    struct member_names *names = context;
    /* Newline-separated: the separator goes before every name but the first. */
    if (names->count++ > 0) append_string("", 0, 0, names->buffer, names->capacity, &names->used, &names->needed);
    append_string(name, strlen(name), 1, names->buffer, names->capacity, &names->used, &names->needed);
    /* A group of over 16 MB of names is not a weights file: stop. */
    return names->needed > MS_H5_MAX_ATTRIBUTE_BYTES ? 1 : 0;
}

long ms_h5_group_members(ms_h5_file *file, const char *group_path, char *buffer, size_t capacity) {
    if (strcmp(group_path, "/") != 0 && H5Lexists(file->id, group_path, H5P_DEFAULT) <= 0) return -1;
    /* Fails on a dataset as on a missing path. */
    hid_t group = H5Gopen2(file->id, group_path, H5P_DEFAULT);
    if (group < 0) return -1;
    struct member_names names = {buffer, capacity, 0, 0, 0};
    hsize_t index = 0;
    herr_t status = H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &index, append_member, &names);
    H5Gclose(group);
    if (capacity > 0) buffer[names.used < capacity ? names.used : capacity - 1] = '\0';
    return status < 0 ? -1 : (long)names.needed;
}

int ms_h5_dataset_shape(ms_h5_file *file, const char *path, long long *dims, int max_rank) {
    if (H5Lexists(file->id, path, H5P_DEFAULT) <= 0) return -1;
    hid_t dataset = H5Dopen2(file->id, path, H5P_DEFAULT);
    if (dataset < 0) return -1;
    hid_t space = H5Dget_space(dataset);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t sizes[32];
    if (rank < 0) {
        rank = -1;
    } else if (rank > max_rank || rank > 32) {
        rank = -2;
    } else {
        H5Sget_simple_extent_dims(space, sizes, NULL);
        for (int i = 0; i < rank; i++) dims[i] = (long long)sizes[i];
    }
    H5Sclose(space);
    H5Dclose(dataset);
    return rank;
}

int ms_h5_read_floats(ms_h5_file *file, const char *path, float *values, size_t count, char *error, size_t error_capacity) {
    hid_t dataset = H5Dopen2(file->id, path, H5P_DEFAULT);
    if (dataset < 0) {
        set_error(error, error_capacity, "no such dataset");
        return -1;
    }
    hid_t space = H5Dget_space(dataset);
    hid_t type = H5Dget_type(dataset);
    int status = 0;
    if (H5Tget_class(type) != H5T_FLOAT) {
        set_error(error, error_capacity, "the dataset does not hold floating-point values");
        status = -1;
    } else if ((size_t)H5Sget_simple_extent_npoints(space) != count) {
        set_error(error, error_capacity, "the dataset holds another number of values");
        status = -1;
    } else if (H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0) {
        set_error(error, error_capacity, "cannot read the dataset");
        status = -1;
    }
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(dataset);
    return status;
}
