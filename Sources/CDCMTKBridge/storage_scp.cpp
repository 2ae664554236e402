// `medsynth listen`: a DICOM Storage SCP on DCMTK's association API and
// DcmThreadSCP (one object per association), with the listening socket owned
// here. DCMTK 3.6.7's own listeners bind every address (INADDR_ANY) and its
// thread pool cannot be stopped cleanly (docs/architecture.md, "Receiving over
// the network").

#include "ms_dicom_network.h"

#include "bridge_internal.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/dcmnet/scpthrd.h"
#include "dcmtk/dcmtls/tlslayer.h"

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

/// How long a worker waits for the next command before it looks at the stop flag again.
const int kStopPollSeconds = 1;

/// Connections that may wait for their association request beside the
/// associations being served; one more is closed at once.
const int kMaximumWaitingConnections = 16;

/// How much of a plain A-ASSOCIATE-RQ must be in the socket's buffer before
/// DCMTK reads it (all of it, when it is smaller: nearly every request is a
/// few KB), and how often to look.
const int kBufferedRequestBytes = 64 * 1024;
const int kRequestPollMilliseconds = 10;

/// Transfer syntaxes we accept, in order of preference: the sender's own
/// encoding first (so that what is stored is what was sent), then the
/// uncompressed ones. For each proposed context DCMTK picks the first of these
/// the peer proposed.
// One a line, in the order of preference:
// clang-format off
const char *const kTransferSyntaxes[] = {
    UID_JPEG2000LosslessOnlyTransferSyntax,
    UID_JPEG2000TransferSyntax,
    UID_JPEGLSLosslessTransferSyntax,
    UID_JPEGLSLossyTransferSyntax,
    UID_JPEGProcess14SV1TransferSyntax,
    UID_JPEGProcess14TransferSyntax,
    UID_JPEGProcess1TransferSyntax,
    UID_JPEGProcess2_4TransferSyntax,
    UID_RLELosslessTransferSyntax,
    UID_DeflatedExplicitVRLittleEndianTransferSyntax,
    UID_LittleEndianExplicitTransferSyntax,
    UID_BigEndianExplicitTransferSyntax,
    UID_LittleEndianImplicitTransferSyntax,
};
// clang-format on

std::string trimmed(const OFString &text) {
    std::string value = text.c_str();
    size_t first = value.find_first_not_of(' ');
    size_t last = value.find_last_not_of(' ');
    return first == std::string::npos ? "" : value.substr(first, last - first + 1);
}

std::string system_reason(const char *what) { return std::string(what) + " (" + strerror(errno) + ")"; }

}  // namespace

/// One association's bookkeeping, shared by its thread and `ms_scp_run`.
struct AssociationSlot {
    uint64_t number = 0;
    /// The accepted connection; DCMTK owns it once it has the association.
    int socket = -1;
    std::thread thread;
    /// Past negotiation: counts against `max_associations`.
    bool serving = false;
    bool finished = false;
};

struct ms_scp {
    std::string bind_address;
    uint16_t port = 0;
    std::string ae_title;
    std::vector<std::string> allowed;
    int max_associations = 4;
    int timeout_seconds = 30;
    uint64_t max_instance_bytes = 0;
    std::string incoming_directory;
    ms_scp_store_callback store = nullptr;
    ms_scp_event_callback event = nullptr;
    void *context = nullptr;

    int listen_socket = -1;
    int stop_pipe[2] = {-1, -1};
    std::atomic<bool> stopping{false};
    std::atomic<uint64_t> next_file{0};
    DcmTLSTransportLayer *tls = nullptr;

    std::mutex mutex;
    std::condition_variable slot_freed;
    /// Every connection accepted and not yet reaped: waiting for its request, or served.
    std::vector<AssociationSlot *> slots;
    /// DCMTK takes an accepted socket through one process-wide value
    /// (dcmExternalSocketHandle), so one thread at a time hands it a socket.
    std::mutex handoff;

    void report(ms_scp_event_kind kind, uint64_t association, const std::string &calling, const std::string &peer,
                const std::string &detail) {
        event(context, kind, association, calling.c_str(), peer.c_str(), detail.c_str());
    }
};

namespace {

/// Serves one association: C-ECHO, and C-STORE into a file whose status the
/// store callback decides before the response is sent.
class ReceivingSCP : public DcmThreadSCP {
public:
    ReceivingSCP(ms_scp &scp, uint64_t number, int socket) : scp_(scp), number_(number), socket_(socket) {
        // What DCMTK's own calls wait for (a data set's next PDU, a response
        // sent); `handleAssociation` waits for commands in short polls instead.
        getConfig().setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        getConfig().setDIMSETimeout(static_cast<Uint32>(scp.timeout_seconds));
        getConfig().setACSETimeout(static_cast<Uint32>(scp.timeout_seconds));
        // notifyRECEIVEProgress enforces max_instance_bytes.
        getConfig().setProgressNotificationMode(OFTrue);
    }

    /// Serves `association` (DcmSCP keeps its own pointer private).
    OFCondition serve(T_ASC_Association *association) {
        association_ = association;
        return run(association);
    }

    /// The peer, once `run` has seen the request.
    std::string calling_ae, peer_address;
    /// Why the association ended, when we aborted it.
    std::string abort_reason;
    bool released = false, rejected = false;

protected:
    void notifyAssociationRequest(const T_ASC_Parameters &params, DcmSCPActionType &action) override {
        calling_ae = trimmed(params.DULparams.callingAPTitle);
        peer_address = params.DULparams.callingPresentationAddress;
        DcmThreadSCP::notifyAssociationRequest(params, action);
    }

    void notifyAssociationAcknowledge() override { scp_.report(MS_SCP_ACCEPTED, number_, calling_ae, peer_address, ""); }

    // The contexts were chosen when the association was received (`accept_contexts`):
    // DcmSCPConfig's profiles hold at most 128 abstract syntaxes, fewer than
    // DCMTK's storage SOP classes.
    OFCondition negotiateAssociation() override { return EC_Normal; }

    OFBool checkCalledAETitleAccepted(const OFString &called) override { return trimmed(called) == scp_.ae_title; }

    OFBool checkCallingAETitleAccepted(const OFString &calling) override {
        if (scp_.allowed.empty()) return OFTrue;
        std::string title = trimmed(calling);
        return std::find(scp_.allowed.begin(), scp_.allowed.end(), title) != scp_.allowed.end();
    }

    void refuseAssociation(const DcmRefuseReasonType reason) override {
        rejected = true;
        const char *why = reason == DCMSCP_CALLED_AE_TITLE_NOT_RECOGNIZED    ? "called AE title not recognized"
                          : reason == DCMSCP_CALLING_AE_TITLE_NOT_RECOGNIZED ? "calling AE title not allowed (--allow)"
                          : reason == DCMSCP_NO_PRESENTATION_CONTEXTS        ? "no acceptable presentation context"
                          : reason == DCMSCP_BAD_APPLICATION_CONTEXT_NAME    ? "not a DICOM application context"
                                                                             : "refused";
        scp_.report(MS_SCP_REJECTED, number_, calling_ae, peer_address, why);
        DcmThreadSCP::refuseAssociation(reason);
    }

    /// DcmSCP's loop, except that a quiet second is not an error: it is when
    /// the stop flag and the idle time are looked at.
    void handleAssociation() override {
        OFCondition status = EC_Normal;
        int idle_seconds = 0;
        while (status.good() || status == DIMSE_NODATAAVAILABLE) {
            // Checked after each command and each quiet second: the instance in
            // progress has had its response.
            if (scp_.stopping.load()) {
                abort_reason = "medsynth is stopping";
                break;
            }
            idle_seconds = status == DIMSE_NODATAAVAILABLE ? idle_seconds + kStopPollSeconds : 0;
            if (idle_seconds >= scp_.timeout_seconds) {
                abort_reason = "idle for " + std::to_string(idle_seconds) + " s";
                break;
            }
            T_DIMSE_Message message;
            T_ASC_PresentationContextID context_id;
            status = DIMSE_receiveCommand(association_, DIMSE_NONBLOCKING, kStopPollSeconds, &context_id, &message, nullptr);
            if (status.good()) {
                DcmPresentationContextInfo context;
                getPresentationContextInfo(association_, context_id, context);
                status = handleIncomingCommand(&message, context);
            }
        }
        if (status == DUL_PEERREQUESTEDRELEASE) {
            released = true;
            ASC_acknowledgeRelease(association_);
        } else if (status == DUL_PEERABORTEDASSOCIATION) {
            // Ours when a data set past the limit ended the connection.
            if (abort_reason.empty()) abort_reason = "by the peer";
        } else {
            if (abort_reason.empty()) abort_reason = status.text();
            ASC_abortAssociation(association_);
        }
    }

    /// Called as a data set's bytes arrive (the count so far): DCMTK has no
    /// limit of its own, and a sender could fill the disk. Past the limit the
    /// socket is shut, so the read fails and the partial file is removed.
    void notifyRECEIVEProgress(const unsigned long byte_count) override {
        if (byte_count <= scp_.max_instance_bytes || !abort_reason.empty()) return;
        abort_reason = "a data set of more than " + std::to_string(scp_.max_instance_bytes) + " bytes (--max-instance-mib)";
        // Shut, not closed: DCMTK still owns the descriptor and closes it when the association is dropped.
        shutdown(socket_, SHUT_RDWR);
    }

    OFCondition handleIncomingCommand(T_DIMSE_Message *message, const DcmPresentationContextInfo &context) override {
        if (message->CommandField != DIMSE_C_STORE_RQ) return DcmThreadSCP::handleIncomingCommand(message, context);
        T_DIMSE_C_StoreRQ &request = message->msg.CStoreRQ;
        std::string path =
            scp_.incoming_directory + "/received-" + std::to_string(getpid()) + "-" + std::to_string(scp_.next_file.fetch_add(1)) + ".part";
        OFCondition received = receiveSTORERequest(request, context.presentationContextID, OFString(path.c_str()));
        // DCMTK drains the data set when it cannot write the file: the association goes on.
        bool unwritable = received == DIMSE_OUTOFRESOURCES;
        if (received.bad() && !unwritable) {
            unlink(path.c_str());
            return received;
        }
        ms_scp_instance instance = {number_, unwritable ? nullptr : path.c_str(), calling_ae.c_str(), peer_address.c_str(),
                                    request.AffectedSOPInstanceUID};
        Uint16 status = scp_.store(scp_.context, &instance);
        if (unwritable) unlink(path.c_str());
        return sendSTOREResponse(context.presentationContextID, request, status);
    }

private:
    ms_scp &scp_;
    uint64_t number_;
    /// The accepted connection's socket (under TLS too).
    int socket_;
    T_ASC_Association *association_ = nullptr;
};

/// Accepts Verification and every storage SOP class DCMTK knows, in the
/// transfer syntaxes of `kTransferSyntaxes` (what storescp does, without
/// DcmSCPConfig's limit of 128).
OFCondition accept_contexts(T_ASC_Parameters *params) {
    const char *verification[] = {UID_VerificationSOPClass};
    int syntax_count = static_cast<int>(sizeof(kTransferSyntaxes) / sizeof(kTransferSyntaxes[0]));
    const char **syntaxes = const_cast<const char **>(kTransferSyntaxes);
    OFCondition status = ASC_acceptContextsWithPreferredTransferSyntaxes(params, verification, 1, syntaxes, syntax_count);
    if (status.good()) {
        status = ASC_acceptContextsWithPreferredTransferSyntaxes(params, dcmAllStorageSOPClassUIDs, numberOfDcmAllStorageSOPClassUIDs,
                                                                 syntaxes, syntax_count);
    }
    return status;
}

void serve(ms_scp *scp, AssociationSlot *slot, T_ASC_Association *association) {
    {
        ReceivingSCP server(*scp, slot->number, slot->socket);
        OFCondition status = server.serve(association);
        if (!server.rejected) {
            if (server.released) {
                scp->report(MS_SCP_RELEASED, slot->number, server.calling_ae, server.peer_address, "");
            } else {
                std::string why = server.abort_reason.empty() && status.bad() ? status.text() : server.abort_reason;
                scp->report(MS_SCP_ABORTED, slot->number, server.calling_ae, server.peer_address, why);
            }
        }
    }  // ~DcmSCP drops the association and closes its socket
}

/// Joins the threads of finished associations and forgets them; with `all`,
/// first waits for every association to finish. Holds `lock`.
void reap(ms_scp *scp, std::unique_lock<std::mutex> &lock, bool all) {
    if (all) {
        scp->slot_freed.wait(
            lock, [&] { return std::all_of(scp->slots.begin(), scp->slots.end(), [](AssociationSlot *s) { return s->finished; }); });
    }
    auto finished = std::stable_partition(scp->slots.begin(), scp->slots.end(), [](AssociationSlot *s) { return !s->finished; });
    for (auto it = finished; it != scp->slots.end(); ++it) {
        (*it)->thread.join();
        delete *it;
    }
    scp->slots.erase(finished, scp->slots.end());
}

bool load_tls(ms_scp *scp, const ms_scp_options *options, std::string &reason) {
    DcmTLSTransportLayer::initializeOpenSSL();
    scp->tls = new DcmTLSTransportLayer(NET_ACCEPTOR, nullptr, OFFalse);
    if (scp->tls->setPrivateKeyFile(options->tls_private_key, DCF_Filetype_PEM).bad()) {
        reason = std::string("cannot load the TLS private key: ") + options->tls_private_key;
        return false;
    }
    if (scp->tls->setCertificateFile(options->tls_certificate, DCF_Filetype_PEM).bad()) {
        reason = std::string("cannot load the TLS certificate: ") + options->tls_certificate;
        return false;
    }
    if (!scp->tls->checkPrivateKeyMatchesCertificate()) {
        reason = std::string("the TLS private key does not match the certificate: ") + options->tls_certificate;
        return false;
    }
    // DCMTK's default profile, as its tools use: TLS 1.2 or later, no downgrade.
    if (scp->tls->setTLSProfile(TSP_Profile_BCP195_ND).bad() || scp->tls->activateCipherSuites().bad()) {
        reason = "cannot set up the TLS cipher suites";
        return false;
    }
    if (options->tls_ca != nullptr) {
        if (scp->tls->addTrustedCertificateFile(options->tls_ca, DCF_Filetype_PEM).bad()) {
            reason = std::string("cannot load the TLS CA certificate: ") + options->tls_ca;
            return false;
        }
        scp->tls->setCertificateVerification(DCV_requireCertificate);
    } else {
        // DCMTK's default is to require one, which no peer without a CA can satisfy.
        scp->tls->setCertificateVerification(DCV_ignoreCertificate);
    }
    return true;
}

bool open_listen_socket(ms_scp *scp, std::string &reason) {
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_port = htons(scp->port);
    if (inet_pton(AF_INET, scp->bind_address.c_str(), &address.sin_addr) != 1) {
        reason = "not an IPv4 address: " + scp->bind_address;
        return false;
    }
    scp->listen_socket = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (scp->listen_socket < 0 || setsockopt(scp->listen_socket, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        reason = system_reason("cannot create a socket");
        return false;
    }
    if (bind(scp->listen_socket, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 || listen(scp->listen_socket, 64) != 0) {
        reason = system_reason("cannot listen") + ": " + scp->bind_address + ":" + std::to_string(scp->port);
        return false;
    }
    if (pipe2(scp->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        reason = system_reason("cannot create a pipe");
        return false;
    }
    return true;
}

/// The peer's IPv4 address; empty when it cannot be read.
std::string peer_of(int socket) {
    sockaddr_in address = {};
    socklen_t length = sizeof address;
    char text[INET_ADDRSTRLEN] = "";
    if (getpeername(socket, reinterpret_cast<sockaddr *>(&address), &length) != 0 ||
        inet_ntop(AF_INET, &address.sin_addr, text, sizeof text) == nullptr)
        return "";
    return text;
}

/// Waits, on the connection's own thread, until DCMTK can read the
/// association request without waiting for the peer: a connection that
/// sends nothing (a port scan, a load balancer's health check) or sends its
/// request slowly then holds up no other connection, since the handoff to
/// DCMTK is one at a time. For a plain connection that is the whole
/// A-ASSOCIATE-RQ, or its first `kBufferedRequestBytes`; for TLS the first
/// bytes of the handshake, which goes on under the handoff. False, with the
/// reason, when the peer closes, sends nothing in time, or the listener stops.
bool wait_for_request(ms_scp *scp, int socket, std::string &reason) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(scp->timeout_seconds);
    bool closed = false;
    for (;;) {
        int buffered = 0;
        if (ioctl(socket, FIONREAD, &buffered) != 0) {
            reason = system_reason("cannot read the connection");
            return false;
        }
        if (buffered > 0 && scp->tls != nullptr) return true;
        unsigned char head[6];
        if (buffered >= static_cast<int>(sizeof head) && recv(socket, head, sizeof head, MSG_PEEK | MSG_DONTWAIT) == 6) {
            // PDU header: type, reserved, length (big-endian, the bytes after the header).
            int64_t length = (int64_t(head[2]) << 24) | (int64_t(head[3]) << 16) | (int64_t(head[4]) << 8) | head[5];
            if (buffered >= std::min<int64_t>(length + 6, kBufferedRequestBytes)) return true;
        }
        if (closed) {
            reason = "the peer closed the connection before its association request";
            return false;
        }
        int64_t remaining_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (remaining_ms <= 0) {
            reason = std::string(buffered > 0 ? "the association request did not arrive in full" : "no association request") +
                     " within the timeout (" + std::to_string(scp->timeout_seconds) + " s)";
            return false;
        }
        // With nothing buffered, wake when bytes come; with part of a request,
        // look again shortly (POLLIN would not wait: bytes are there).
        short events = buffered > 0 ? POLLRDHUP : POLLIN | POLLRDHUP;
        int wait_ms = static_cast<int>(buffered > 0 ? std::min<int64_t>(remaining_ms, kRequestPollMilliseconds) : remaining_ms);
        pollfd waits[2] = {{socket, events, 0}, {scp->stop_pipe[0], POLLIN, 0}};
        if (poll(waits, 2, wait_ms) < 0 && errno != EINTR) {
            reason = system_reason("cannot wait for the association request");
            return false;
        }
        if (waits[1].revents != 0 || scp->stopping.load()) {
            reason = "the listener is stopping";
            return false;
        }
        // Looked at once more above: a request sent in full just before the close is still read.
        closed = (waits[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    }
}

/// Reads one A-ASSOCIATE-RQ from the slot's socket (after the TLS handshake, with
/// TLS) on the connection's thread; nil, reported, when there is none, or
/// when `max_associations` are being served (rejected).
T_ASC_Association *receive_association(ms_scp *scp, T_ASC_Network *network, AssociationSlot *slot) {
    int socket = slot->socket;
    int one = 1;
    setsockopt(socket, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string reason;
    if (!wait_for_request(scp, socket, reason)) {
        scp->report(MS_SCP_REJECTED, slot->number, "", peer_of(socket), "no association: " + reason);
        close(socket);
        return nullptr;
    }
    T_ASC_Association *association = nullptr;
    OFCondition status;
    {
        std::lock_guard<std::mutex> handoff(scp->handoff);
        // Makes DCMTK take this connection instead of calling accept() on a socket of its own.
        dcmExternalSocketHandle.set(socket);
        status = ASC_receiveAssociation(network, &association, ASC_MAXIMUMPDUSIZE, nullptr, nullptr, scp->tls != nullptr, DUL_NOBLOCK,
                                        scp->timeout_seconds);
        dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
    }
    std::string calling = association ? trimmed(association->params->DULparams.callingAPTitle) : "";
    std::string peer = association ? association->params->DULparams.callingPresentationAddress : peer_of(socket);
    if (status.bad()) {
        scp->report(MS_SCP_REJECTED, slot->number, calling, peer, std::string("no association: ") + status.text());
        if (association) {
            ASC_dropAssociation(association);
            ASC_destroyAssociation(&association);
        } else {
            close(socket);
        }
        return nullptr;
    }
    {
        std::lock_guard<std::mutex> lock(scp->mutex);
        int serving = static_cast<int>(std::count_if(scp->slots.begin(), scp->slots.end(), [](AssociationSlot *s) { return s->serving; }));
        slot->serving = serving < scp->max_associations;
    }
    if (!slot->serving) {
        T_ASC_RejectParameters busy = {ASC_RESULT_REJECTEDTRANSIENT, ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
                                       ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED};
        ASC_rejectAssociation(association, &busy);
        ASC_dropAssociation(association);
        ASC_destroyAssociation(&association);
        scp->report(MS_SCP_REJECTED, slot->number, calling, peer,
                    "too many associations at once (" + std::to_string(scp->max_associations) + ")");
        return nullptr;
    }
    accept_contexts(association->params);
    return association;
}

/// One accepted connection, on its own thread: its association request, then the association.
void handle_connection(ms_scp *scp, T_ASC_Network *network, AssociationSlot *slot) {
    if (T_ASC_Association *association = receive_association(scp, network, slot)) serve(scp, slot, association);
    std::lock_guard<std::mutex> lock(scp->mutex);
    slot->finished = true;
    scp->slot_freed.notify_all();
}

/// Gives an accepted connection a thread of its own, or closes it when
/// `max_associations` plus `kMaximumWaitingConnections` are open.
void admit_connection(ms_scp *scp, T_ASC_Network *network, int socket, uint64_t number) {
    std::unique_lock<std::mutex> lock(scp->mutex);
    reap(scp, lock, false);
    int limit = scp->max_associations + kMaximumWaitingConnections;
    if (static_cast<int>(scp->slots.size()) >= limit) {
        lock.unlock();
        scp->report(MS_SCP_REJECTED, number, "", peer_of(socket),
                    "too many connections at once (" + std::to_string(limit) + "): closed before its association request");
        close(socket);
        return;
    }
    AssociationSlot *slot = new AssociationSlot();
    slot->number = number;
    slot->socket = socket;
    scp->slots.push_back(slot);
    slot->thread = std::thread(handle_connection, scp, network, slot);
}

}  // namespace

extern "C" ms_scp *ms_scp_create(const ms_scp_options *options, ms_scp_store_callback store, ms_scp_event_callback event, void *context,
                                 char *error, size_t error_capacity) {
    ms_scp *scp = new ms_scp();
    scp->bind_address = options->bind_address;
    scp->port = options->port;
    scp->ae_title = options->ae_title;
    scp->max_instance_bytes = options->max_instance_bytes;
    for (size_t i = 0; i < options->allowed_count; ++i) scp->allowed.emplace_back(options->allowed_calling_ae_titles[i]);
    scp->max_associations = std::max(1, options->max_associations);
    scp->timeout_seconds = std::max(1, options->timeout_seconds);
    scp->incoming_directory = options->incoming_directory;
    scp->store = store;
    scp->event = event;
    scp->context = context;
    std::string reason;
    bool ready = open_listen_socket(scp, reason);
    if (ready && options->tls_certificate != nullptr) ready = load_tls(scp, options, reason);
    if (!ready) {
        copy_message(reason, error, error_capacity);
        ms_scp_destroy(scp);
        return nullptr;
    }
    return scp;
}

extern "C" int ms_scp_run(ms_scp *scp, char *error, size_t error_capacity) {
    // Debian's DCMTK leaves Nagle's algorithm on unless this is set (see ms_send_files).
    setenv("TCP_NODELAY", "1", 0);
    // No reverse DNS lookup of every peer.
    dcmDisableGethostbyaddr.set(OFTrue);
    T_ASC_Network *network = nullptr;
    // A valid handle keeps DCMTK from binding a listening socket of its own (on every address).
    dcmExternalSocketHandle.set(scp->listen_socket);
    OFCondition status = ASC_initializeNetwork(NET_ACCEPTOR, scp->port, scp->timeout_seconds, &network);
    dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
    if (status.good() && scp->tls != nullptr) status = ASC_setTransportLayer(network, scp->tls, 0);
    if (status.bad()) {
        copy_message(std::string("cannot start the DICOM network (") + status.text() + ")", error, error_capacity);
        if (network) ASC_dropNetwork(&network);
        return -1;
    }
    int result = 0;
    uint64_t number = 0;
    while (!scp->stopping.load()) {
        pollfd waits[2] = {{scp->listen_socket, POLLIN, 0}, {scp->stop_pipe[0], POLLIN, 0}};
        if (poll(waits, 2, -1) < 0) {
            if (errno == EINTR) continue;
            copy_message(system_reason("cannot wait for connections"), error, error_capacity);
            result = -1;
            break;
        }
        if (waits[1].revents != 0 || scp->stopping.load()) break;
        int socket = accept4(scp->listen_socket, nullptr, nullptr, SOCK_CLOEXEC);
        if (socket < 0) continue;  // the peer gave up, or a transient shortage: keep listening
        admit_connection(scp, network, socket, ++number);
    }
    scp->stopping.store(true);
    // New connections are refused from here on; those in progress finish their instance.
    close(scp->listen_socket);
    scp->listen_socket = -1;
    {
        std::unique_lock<std::mutex> lock(scp->mutex);
        reap(scp, lock, true);
    }
    ASC_dropNetwork(&network);
    return result;
}

extern "C" void ms_scp_stop(ms_scp *scp) {
    scp->stopping.store(true);
    char byte = 1;
    // Async-signal-safe; a full pipe already holds a wake-up.
    ssize_t written = write(scp->stop_pipe[1], &byte, 1);
    (void)written;
}

extern "C" void ms_scp_destroy(ms_scp *scp) {
    if (scp == nullptr) return;
    if (scp->listen_socket >= 0) close(scp->listen_socket);
    for (int end : scp->stop_pipe) {
        if (end >= 0) close(end);
    }
    delete scp->tls;
    delete scp;
}
