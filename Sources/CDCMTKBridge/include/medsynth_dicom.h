/// A small C API over DCMTK, so that Swift never sees C++.
///
/// Every function that can fail returns a status (0 = success) and writes a
/// human-readable reason into the caller's `error` buffer. Handles are owned by
/// the Swift `DicomFile` class, which calls `ms_dicom_close` in `deinit`.
#ifndef MEDSYNTH_DICOM_H
#define MEDSYNTH_DICOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An opened DICOM file: its dataset is parsed, large values (pixel data) stay
/// on disk until a frame is decoded.
typedef struct ms_dicom_file ms_dicom_file;

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

/// Limits checked before any pixel memory is allocated.
enum {
    /// Largest decoded frame in bytes (rows x columns x samples x bytes per sample).
    MS_MAX_FRAME_BYTES = 256 * 1024 * 1024,
    /// Largest Number of Frames accepted.
    MS_MAX_FRAMES = 100000,
    /// Deepest nesting of sequences accepted.
    MS_MAX_SEQUENCE_DEPTH = 16,
    /// Most fragments of encapsulated pixel data accepted.
    MS_MAX_FRAGMENTS = 1000000
};

/// The pre-scan: walks the raw bytes of a file before DCMTK parses them and
/// rejects what would exhaust DCMTK's stack or memory or make its decoders
/// read out of bounds: sequences nested deeper than MS_MAX_SEQUENCE_DEPTH,
/// more than MS_MAX_FRAGMENTS fragments, empty fragments, fewer fragments than
/// frames, an offset table that points between fragments, RLE headers whose
/// segment offsets lie, JPEG fragments on which DCMTK's marker scan never ends. Returns 0 when the file may be parsed, -1 with the
/// reason otherwise. `ms_dicom_open` runs it on every file.
int ms_dicom_prescan(const char *path, char *reason, size_t reason_capacity);

/// Checks one RLE Lossless fragment's 64-byte header (PS3.5 Annex G): a
/// segment count of `expected_segments` (1 to 15), the first segment at 64,
/// each next one further on, all inside the fragment. Returns 0, or -1 with
/// the problem (a phrase that follows "RLE frame N") in `problem`. DCMTK's RLE
/// decoder trusts these offsets and reads past the fragment when they lie.
int ms_rle_fragment_problem(const uint8_t *fragment, size_t length, long expected_segments,
                            char *problem, size_t problem_capacity);

/// Whether `uid` is a JPEG transfer syntax that DCMTK's dcmjpeg decodes
/// (1.2.840.10008.1.2.4.50 to .70).
int ms_is_dcmjpeg_syntax(const char *uid);

/// Walks the markers of one JPEG fragment as DCMTK 3.6.7's
/// `DJCodecDecoder::scanJpegDataForBitDepth` does before decoding, and returns
/// -1 with the problem when that walk would never end (a TEM marker, 0xFF01,
/// before the frame header: DCMTK bug #1190); 0 otherwise.
int ms_jpeg_fragment_problem(const uint8_t *data, size_t length, char *problem, size_t problem_capacity);

/// The pre-scan over `count` bytes in memory (the fuzzing harness's entry).
int ms_dicom_prescan_bytes(const uint8_t *bytes, size_t count, char *reason,
                           size_t reason_capacity);

/// Pre-scans (`ms_dicom_prescan`), opens and parses `path` (with or without
/// preamble and meta header). Values longer than 4 KiB are not read until
/// needed. Returns NULL and a reason in `error` when the file is not readable
/// DICOM or the pre-scan rejects it.
ms_dicom_file *ms_dicom_open(const char *path, char *error, size_t error_capacity);

/// Frees the handle and everything DCMTK allocated for it.
void ms_dicom_close(ms_dicom_file *file);

/// Copies the value of attribute (group, element) as text into `buffer`
/// (multiple values joined by a backslash, as DICOM stores them). Attributes of
/// group 0002 are read from the meta header. Returns the full length of the
/// value (which may exceed `capacity`, then call again with a larger buffer),
/// or -1 when the attribute is absent.
long ms_dicom_get_string(ms_dicom_file *file, uint16_t group, uint16_t element,
                         char *buffer, size_t capacity);

/// Like ms_dicom_get_string, for the attribute at `path` (DCMTK's path
/// syntax, see ms_dicom_set_path_string), such as "(0018,6011)[0].(0018,6018)".
/// Returns -1 when the path leads to no attribute; creates nothing.
long ms_dicom_get_path_string(ms_dicom_file *file, const char *path, char *buffer,
                              size_t capacity);

/// The number of items of the sequence at `path`, or -1 when there is no
/// sequence there.
long ms_dicom_count_items(ms_dicom_file *file, const char *path);

/// The transfer syntax the dataset was read in (UID and DCMTK's name).
void ms_dicom_transfer_syntax(ms_dicom_file *file, char *uid, size_t uid_capacity,
                              char *name, size_t name_capacity);

/// Whether frames can be decoded here. Returns 1 if so; 0 with the reason in
/// `reason` otherwise (a compressed transfer syntax no registered decoder
/// reads: DCMTK's JPEG, JPEG-LS and RLE decoders and the bridge's JPEG 2000
/// decoder are registered).
int ms_dicom_is_decodable(ms_dicom_file *file, char *reason, size_t reason_capacity);

/// Checks the image attributes against the MS_MAX_* limits and against the
/// length of the pixel data actually present. Returns 0 when the pixel data is
/// consistent, 1 when the file has no pixel data (not an image), and -1 with a
/// reason otherwise.
int ms_dicom_check_pixel_data(ms_dicom_file *file, char *reason, size_t reason_capacity);

/// Proves the pixel data decodable: checks it (`ms_dicom_check_pixel_data`),
/// then decodes every frame as `ms_dicom_decode_frame_gray8` would. Returns 0
/// when every frame decodes, 1 when the file has no pixel data, 2 with the
/// reason when DCMTK does not render this kind of image at all (32-bit colour,
/// segmented palettes:
/// a limit of the decoder, not a fault of the file), and -1 with the reason
/// (naming the frame) when the pixel data does not decode. Import runs it on every instance,
/// so that a file accepted as decodable is decodable.
int ms_dicom_verify_frames(ms_dicom_file *file, char *reason, size_t reason_capacity);

/// Decodes frame `frame_index` (0-based) alone, without the other frames in
/// memory, into `output` as 8-bit grayscale (rows x columns bytes), pixel data
/// only (overlay planes are not drawn). Grayscale images: the modality rescale,
/// then the file's first VOI window, else the stored values when exactly 8 bits
/// are stored, else a min-max window over the frame; DCMTK rounds down to 8
/// bits after inverting MONOCHROME1. Colour images (RGB, YBR_*, PALETTE COLOR)
/// are converted to RGB by DCMTK, then to luma with the ITU-R BT.601 weights
/// 0.299, 0.587, 0.114, rounded to nearest.
int ms_dicom_decode_frame_gray8(ms_dicom_file *file, unsigned long frame_index,
                                uint8_t *output, size_t output_capacity,
                                char *error, size_t error_capacity);

/// Decodes frame `frame_index` to its stored sample values, before any
/// modality rescale, window or colour conversion (colour samples interleaved,
/// in the colour model the decoder returns: RGB for JPEG's and JPEG 2000's
/// YCbCr), into `output` (rows x columns x samples values), masked to Bits
/// Stored and sign-extended when Pixel Representation is 1. Returns 0, or -1
/// with the reason; images of more than 16 bits allocated, of 1 bit, with
/// planar colour or subsampled YBR_*_422 storage are refused.
int ms_dicom_decode_frame_samples(ms_dicom_file *file, unsigned long frame_index, int32_t *output,
                                  size_t output_capacity, char *error, size_t error_capacity);

/// Decodes frame `frame_index` for display: grayscale as in
/// `ms_dicom_decode_frame_gray8` (one channel), colour as interleaved 8-bit RGB
/// (three channels), overlay planes drawn as a viewer would. Writes the channel count into `channels`.
int ms_dicom_decode_frame_display(ms_dicom_file *file, unsigned long frame_index,
                                  uint8_t *output, size_t output_capacity, int *channels,
                                  char *error, size_t error_capacity);

/// Sets attribute (group, element) of the dataset to `value` (multiple
/// values separated by backslashes), inserting it when absent. `vr` names the
/// value representation ("CS", "UI", ...) for attributes DCMTK's dictionary
/// does not know; NULL uses the dictionary's. Returns 0, or -1 with the reason.
int ms_dicom_set_string(ms_dicom_file *file, uint16_t group, uint16_t element, const char *vr,
                        const char *value, char *error, size_t error_capacity);

/// A new, empty dataset to fill with `ms_dicom_set_*` and write with
/// `ms_dicom_save` (in Explicit VR Little Endian). Freed by `ms_dicom_close`.
ms_dicom_file *ms_dicom_create(void);

/// Sets the attribute at `path` to `value`, creating sequences, items and the
/// attribute as needed. `path` is DCMTK's path syntax: tags joined by dots,
/// with an item index after each sequence, for example
/// "(0018,A001)[0].(0040,A170)[0].(0008,0100)". The attributes take their VR
/// from DCMTK's dictionary. Returns 0, or -1 with the reason.
int ms_dicom_set_path_string(ms_dicom_file *file, const char *path, const char *value,
                             char *error, size_t error_capacity);

/// Sets Pixel Data (7FE0,0010) to `count` bytes of native 8-bit samples (VR OB).
/// Returns 0, or -1 with the reason.
int ms_dicom_set_pixel_data_8bit(ms_dicom_file *file, const uint8_t *pixels, size_t count,
                                 char *error, size_t error_capacity);

/// Writes the file to `path` as a DICOM Part 10 file in its original transfer
/// syntax (Explicit VR Little Endian for a dataset made by `ms_dicom_create`),
/// updating the meta header (Media Storage SOP Class and Instance UIDs) from
/// the dataset. Returns 0, or -1 with the reason.
int ms_dicom_save(ms_dicom_file *file, const char *path, char *error, size_t error_capacity);

/// SHA-256 of a whole file, as 64 lowercase hexadecimal digits plus NUL in
/// `hex` (capacity at least 65). Returns 0, or -1 with the reason.
int ms_sha256_file(const char *path, char *hex, char *error, size_t error_capacity);

/// Copies `source` into a new file `destination` (created owner-only, never
/// overwriting) and computes the SHA-256 of the bytes copied, in one read of
/// the source: what is stored is what is hashed, even if the source changes
/// meanwhile. Writes 64 hexadecimal digits and a NUL into `hex` and the byte
/// count into `size`. Returns 0, or -1 with the reason (the destination is
/// then removed).
int ms_copy_with_sha256(const char *source, const char *destination, char *hex, long long *size,
                        char *error, size_t error_capacity);

/// SHA-256 of `count` bytes in memory, as 64 lowercase hexadecimal digits
/// and a NUL into `hex` (65 bytes).
void ms_sha256_bytes(const void *bytes, size_t count, char *hex);

/// SHA-256 of the dataset of the DICOM file at `path`, without its File Meta
/// Information (group 0002), in one canonical encoding: every element with an
/// explicit length, no group lengths, no trailing padding, Implicit VR Little
/// Endian (so that the OB or OW a writer chose does not count) unless the
/// pixel data are encapsulated (then the file's own transfer syntax). Two
/// files that differ only in what a writer or receiver chooses (meta header,
/// implicit or explicit VR, byte order, length encoding) give the same digest.
/// Loads within the limits `ms_dicom_open` applies. Writes 64 hexadecimal
/// digits and a NUL into `hex`. Returns 0, or -1 with the reason.
int ms_dataset_sha256(const char *path, char *hex, char *error, size_t error_capacity);


/// `ms_send_files` status of an instance no C-STORE request was sent for
/// (the peer accepted no presentation context for its SOP class and transfer syntaxes).
#define MS_SEND_NOT_SENT -1
/// `ms_send_files` status of a file that could not be read as a DICOM instance.
#define MS_SEND_UNREADABLE -2

/// Called once per file by `ms_send_files`: the DIMSE status of its C-STORE
/// response (0 success, 0xB000-0xBFFF warnings, others failures) or one of
/// MS_SEND_*; the transfer syntax it was sent in (DCMTK's name), or for
/// MS_SEND_UNREADABLE the reason. A file that is never reported was not sent
/// (its association failed first).
typedef void (*ms_send_status_callback)(void *context, const char *path, const char *sop_instance_uid, int status,
                                        const char *detail);

/// Sends the DICOM files `paths` to the Storage SCP `called_ae` at
/// `host`:`port` as `calling_ae` (C-STORE; one association per 128
/// presentation contexts, as DCMTK's dcmsend does). Each file's own transfer
/// syntax is proposed with the uncompressed ones as fallback, and a compressed
/// file is decompressed when the peer accepts only those. Sets TCP_NODELAY=1
/// in the environment unless set, for DCMTK's sockets. `timeout_seconds`
/// bounds the connection and every network wait. Returns 0 once every file
/// was offered (see the callback for each outcome), -1 with the reason when an
/// association could not be made or broke off.
int ms_send_files(const char *host, uint16_t port, const char *called_ae, const char *calling_ae,
                  const char *const *paths, size_t count, int timeout_seconds, ms_send_status_callback callback,
                  void *context, char *error, size_t error_capacity);

/// A DICOM Storage SCP (`ms_scp_create`): C-ECHO and C-STORE of every storage
/// SOP class DCMTK knows, each association on its own thread.
typedef struct ms_scp ms_scp;

/// How `ms_scp_create` listens.
typedef struct {
    /// IPv4 address to listen on (DCMTK 3.6.7 accepts over IPv4 only).
    const char *bind_address;
    uint16_t port;
    /// Our AE title: an association calling another is rejected (called AE title not recognized).
    const char *ae_title;
    /// Calling AE titles allowed; none (count 0) allows every one.
    const char *const *allowed_calling_ae_titles;
    size_t allowed_count;
    /// Associations served at once; one more is rejected (local limit exceeded).
    int max_associations;
    /// Bounds the association handshake and every wait for the peer; an
    /// association idle this long is aborted.
    int timeout_seconds;
    /// Folder the received data sets are written into, one file each, before
    /// the store callback decides their status.
    const char *incoming_directory;
    /// Largest data set one C-STORE may send, in bytes: past it the
    /// association is aborted as the bytes arrive and the partial file removed.
    uint64_t max_instance_bytes;
    /// DICOM TLS: PEM certificate and private key (both, or neither for plain
    /// TCP), and a PEM CA file; with a CA the peer must present a certificate
    /// it signed, without one no peer certificate is asked for.
    const char *tls_certificate;
    const char *tls_private_key;
    const char *tls_ca;
} ms_scp_options;

/// One received instance, as the store callback sees it.
typedef struct {
    /// Number of its association (from 1, in the order accepted).
    uint64_t association;
    /// The file the data set was written to, with a meta header made from the
    /// request (the data set is as sent, in the accepted transfer syntax). The
    /// callback owns it: it moves or removes it.
    const char *path;
    const char *calling_ae_title;
    /// The peer's IPv4 address.
    const char *peer_address;
    /// The SOP Instance UID the request announced.
    const char *sop_instance_uid;
} ms_scp_instance;

/// Decides the C-STORE status of a received instance (0 success only once it
/// is durable; 0xA700 out of resources, 0xA900 data set does not match SOP
/// class, 0xC000 cannot understand), called on the association's thread; the
/// response is sent when it returns. `path` is NULL when the data set could not
/// be written (out of resources).
typedef uint16_t (*ms_scp_store_callback)(void *context, const ms_scp_instance *instance);

/// What happened to an association.
typedef enum {
    MS_SCP_ACCEPTED = 0,
    /// Rejected at association time: `detail` says why.
    MS_SCP_REJECTED = 1,
    /// Released by the peer.
    MS_SCP_RELEASED = 2,
    /// Aborted by the peer, or by us (`detail` says why).
    MS_SCP_ABORTED = 3,
} ms_scp_event_kind;

typedef void (*ms_scp_event_callback)(void *context, ms_scp_event_kind kind, uint64_t association,
                                      const char *calling_ae_title, const char *peer_address, const char *detail);

/// Opens the listening socket (so that the port is taken once this returns)
/// and, with TLS options, loads the certificate and key. Returns NULL with the
/// reason.
ms_scp *ms_scp_create(const ms_scp_options *options, ms_scp_store_callback store, ms_scp_event_callback event,
                      void *context, char *error, size_t error_capacity);

/// Accepts associations until `ms_scp_stop`, then waits for the associations
/// in progress: each finishes the instance it is receiving (its response is
/// sent) and is aborted. Sets TCP_NODELAY=1 in the environment unless set.
/// Returns 0, or -1 with the reason when accepting failed.
int ms_scp_run(ms_scp *scp, char *error, size_t error_capacity);

/// Makes `ms_scp_run` return; safe from any thread and from a signal handler.
void ms_scp_stop(ms_scp *scp);

/// Closes the socket and frees the SCP (after `ms_scp_run` returned).
void ms_scp_destroy(ms_scp *scp);

#ifdef __cplusplus
}
#endif

#endif
