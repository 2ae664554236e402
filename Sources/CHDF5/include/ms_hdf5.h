/// A small C API over libhdf5, enough to read the weights-only HDF5 files
/// Keras writes (`layer_names` and `weight_names` string attributes before
/// Keras 3, a group per layer in Keras 3's `.weights.h5`; float datasets),
/// without HDF5's macros reaching Swift.
#ifndef MS_HDF5_H
#define MS_HDF5_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ms_h5_file ms_h5_file;

/// Opens `path` read-only; NULL with a reason in `error` when it is not HDF5.
ms_h5_file *ms_h5_open(const char *path, char *error, size_t error_capacity);

void ms_h5_close(ms_h5_file *file);

/// The strings of attribute `name` on the object at `object_path` ("/" for
/// the file), fixed- or variable-length, joined by '\n' into `buffer`.
/// Returns the length needed (call again with more room when it exceeds
/// `capacity`), -1 when the object or attribute is absent, -2 when it is not
/// a string attribute.
long ms_h5_string_attribute(ms_h5_file *file, const char *object_path, const char *name, char *buffer, size_t capacity);

/// The names of the members of the group at `group_path`, in name order,
/// joined by '\n' into `buffer`. Returns the length needed (call again with
/// more room when it exceeds `capacity`), -1 when there is no such group.
long ms_h5_group_members(ms_h5_file *file, const char *group_path, char *buffer, size_t capacity);

/// The rank of the dataset at `path` and its dimensions in `dims` (at most
/// `max_rank`); -1 when absent or not a dataset, -2 when its rank exceeds
/// `max_rank`.
int ms_h5_dataset_shape(ms_h5_file *file, const char *path, long long *dims, int max_rank);

/// Reads the dataset at `path` (any floating-point type) as `count` floats.
/// Returns 0, or -1 with the reason.
int ms_h5_read_floats(ms_h5_file *file, const char *path, float *values, size_t count, char *error, size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif
