// HDF5 from Debian's libhdf5-dev (serial, thread-safe build), found through pkg-config `hdf5`.
// Imported by PhantomHDF5 only.
//
// HDF5's constants are C macros that expand to `H5OPEN <global>_g`; Swift imports neither the macros
// nor (in Swift 6 mode) the mutable globals, so each is re-exported here as an inline function.
#ifndef PHANTOM_CHDF5_SHIM_H
#define PHANTOM_CHDF5_SHIM_H
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

static inline hid_t phantom_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t phantom_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t phantom_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline unsigned phantom_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned phantom_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned phantom_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned phantom_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline size_t phantom_H5T_VARIABLE(void) { return H5T_VARIABLE; }

static inline hid_t phantom_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t phantom_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t phantom_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t phantom_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t phantom_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t phantom_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t phantom_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t phantom_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t phantom_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t phantom_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t phantom_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t phantom_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t phantom_H5P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }
static inline hid_t phantom_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }

/// 1 when the link `name` in `loc` is a hard link (an object stored in this file), 0 for a soft or external
/// link, negative on error. External links would read objects from other files.
static inline int phantom_link_is_hard(hid_t loc, const char *name) {
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
    return info.type == H5L_TYPE_HARD ? 1 : 0;
}

/// 1 when the dataset's data lives in this file (not a virtual dataset, no external raw storage), 0 when
/// not, negative on error.
static inline int phantom_dataset_is_local(hid_t dataset) {
    hid_t plist = H5Dget_create_plist(dataset);
    if (plist < 0) return -1;
    H5D_layout_t layout = H5Pget_layout(plist);
    int external = H5Pget_external_count(plist);
    H5Pclose(plist);
    if (layout < 0 || external < 0) return -1;
    return (layout != H5D_VIRTUAL && external == 0) ? 1 : 0;
}

/// A file-access property list that opens an in-memory copy of a file (the core driver with a file image, no
/// backing store; the image is copied): the bytes that were hashed are the bytes that are parsed.
static inline hid_t phantom_image_access(const void *buffer, size_t size) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return -1;
    if (H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 || H5Pset_file_image(fapl, (void *)buffer, size) < 0) { H5Pclose(fapl); return -1; }
    return fapl;
}

/// Walks the calling thread's error stack and appends "function: description" lines to `buffer`
/// (NUL-terminated, truncated to `capacity`), then clears the stack.
static inline herr_t phantom_walk_callback(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    char **cursor = (char **)data;
    char *buf = cursor[0];
    size_t cap = (size_t)(cursor[1] - cursor[0]);
    size_t used = strlen(buf);
    if (used + 2 >= cap) return 0;
    char minor[160] = {0};
    H5Eget_msg(e->min_num, NULL, minor, sizeof minor);
    snprintf(buf + used, cap - used, "%s%s: %s%s%s", used ? "; " : "",
             e->func_name ? e->func_name : "?", e->desc ? e->desc : "",
             minor[0] ? " — " : "", minor);
    return 0;
}
static inline void phantom_error_stack(char *buffer, size_t capacity) {
    if (capacity == 0) return;
    buffer[0] = 0;
    char *cursor[2] = { buffer, buffer + capacity };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, phantom_walk_callback, cursor);
    H5Eclear2(H5E_DEFAULT);
}
static inline void phantom_silence_errors(void) {
    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
#endif
