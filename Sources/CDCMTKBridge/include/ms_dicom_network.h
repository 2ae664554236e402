/// The DICOM network on DCMTK's dcmnet and dcmtls: a Storage SCU that sends
/// files (`medsynth send`) and a Storage SCP that receives them (`medsynth
/// listen`).
#ifndef MS_DICOM_NETWORK_H
#define MS_DICOM_NETWORK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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
typedef void (*ms_send_status_callback)(void *context, const char *path, const char *sop_instance_uid, int status, const char *detail);

/// Sends the DICOM files `paths` to the Storage SCP `called_ae` at
/// `host`:`port` as `calling_ae` (C-STORE; one association per 128
/// presentation contexts, as DCMTK's dcmsend does). Each file's own transfer
/// syntax is proposed with the uncompressed ones as fallback, and a compressed
/// file is decompressed when the peer accepts only those. Sets TCP_NODELAY=1
/// in the environment unless set, for DCMTK's sockets. `timeout_seconds`
/// bounds the connection and every network wait. Returns 0 once every file
/// was offered (see the callback for each outcome), -1 with the reason when an
/// association could not be made or broke off.
int ms_send_files(const char *host, uint16_t port, const char *called_ae, const char *calling_ae, const char *const *paths, size_t count,
                  int timeout_seconds, ms_send_status_callback callback, void *context, char *error, size_t error_capacity);

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

typedef void (*ms_scp_event_callback)(void *context, ms_scp_event_kind kind, uint64_t association, const char *calling_ae_title,
                                      const char *peer_address, const char *detail);

/// Opens the listening socket (so that the port is taken once this returns)
/// and, with TLS options, loads the certificate and key. Returns NULL with the
/// reason.
ms_scp *ms_scp_create(const ms_scp_options *options, ms_scp_store_callback store, ms_scp_event_callback event, void *context, char *error,
                      size_t error_capacity);

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
