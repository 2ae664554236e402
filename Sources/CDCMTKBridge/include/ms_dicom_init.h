/// The bridge's one-time setup: DCMTK's decompression codecs and its log.
#ifndef MS_DICOM_INIT_H
#define MS_DICOM_INIT_H

#ifdef __cplusplus
extern "C" {
#endif

/// Log levels passed to the log callback, as DCMTK's oflog defines them.
enum ms_log_level {
    MS_LOG_TRACE = 0,
    MS_LOG_DEBUG = 1,
    MS_LOG_INFO = 2,
    MS_LOG_WARN = 3,
    MS_LOG_ERROR = 4,
    MS_LOG_FATAL = 5
};

/// Receives every line DCMTK logs, instead of DCMTK printing to stderr.
typedef void (*ms_log_callback)(int level, const char *logger_name, const char *message);

/// Registers the decompression codecs (JPEG, JPEG-LS, RLE) and routes DCMTK's
/// log through `callback` at `minimum_level` and above. Safe to call more than
/// once and from several threads: only the first call has an effect.
void ms_dicom_initialize(ms_log_callback callback, int minimum_level);

#ifdef __cplusplus
}
#endif

#endif
