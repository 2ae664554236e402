// `medsynth send`: a DICOM Storage SCU on DCMTK's DcmStorageSCU, the class
// behind DCMTK's own dcmsend.

#include "ms_dicom_network.h"

#include "bridge_internal.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmnet/diutil.h"
#include "dcmtk/dcmnet/dstorscu.h"

#include <cstdlib>
#include <string>

namespace {

const int kNoPresentationContext = 0xFFFF;
const int kInvalidDataset = 0xFFFE;

/// Reports each instance once its C-STORE has an answer, or once it is clear
/// that no request can be sent (no presentation context for it was accepted).
class ReportingStorageSCU : public DcmStorageSCU {
public:
    ReportingStorageSCU(ms_send_status_callback callback, void *context) : callback_(callback), context_(context) {}

protected:
    void notifySOPInstanceSent(const TransferEntry &entry) override {
        std::string path = entry.Filename.getCharPointer() ? entry.Filename.getCharPointer() : "";
        int status = static_cast<int>(entry.ResponseStatusCode);
        // dstorscu.cc's own codes for requests it never sent (defined only there).
        if (!entry.RequestSent || status == kNoPresentationContext) status = MS_SEND_NOT_SENT;
        if (status == kInvalidDataset) status = MS_SEND_UNREADABLE;
        const char *detail = status >= 0                    ? DcmXfer(entry.NetworkTransferSyntax).getXferName()
                             : status == MS_SEND_UNREADABLE ? "DCMTK found the dataset invalid"
                                                            : "";
        callback_(context_, path.c_str(), entry.SOPInstanceUID.c_str(), status, detail);
    }

private:
    ms_send_status_callback callback_;
    void *context_;
};

}  // namespace

extern "C" int ms_send_files(const char *host, uint16_t port, const char *called_ae, const char *calling_ae, const char *const *paths,
                             size_t count, int timeout_seconds, ms_send_status_callback callback, void *context, char *error,
                             size_t error_capacity) {
    // Debian's DCMTK leaves Nagle's algorithm on unless this is set: a loopback
    // C-STORE then waits for delayed acknowledgements (about 90 ms each). A
    // value the user set is kept.
    setenv("TCP_NODELAY", "1", 0);
    ReportingStorageSCU scu(callback, context);
    scu.setPeerHostName(host);
    scu.setPeerPort(port);
    scu.setPeerAETitle(called_ae);
    scu.setAETitle(calling_ae);
    scu.setConnectionTimeout(timeout_seconds);
    scu.setACSETimeout(static_cast<Uint32>(timeout_seconds));
    scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    scu.setDIMSETimeout(static_cast<Uint32>(timeout_seconds));
    scu.setMaxReceivePDULength(ASC_DEFAULTMAXPDU);
    // Propose each file's own transfer syntax and the uncompressed ones, and
    // decompress (lossy or lossless) for a peer that accepts only those.
    scu.setDecompressionMode(DcmStorageSCU::DM_lossyAndLossless);
    scu.setDatasetConversionMode(OFTrue);
    scu.setHaltOnUnsuccessfulStoreMode(OFFalse);
    scu.setHaltOnInvalidFileMode(OFFalse);
    for (size_t i = 0; i < count; ++i) {
        OFCondition added = scu.addDicomFile(OFFilename(paths[i]), ERM_fileOnly, OFFalse);
        if (added.bad()) callback(context, paths[i], "", MS_SEND_UNREADABLE, added.text());
    }
    if (scu.getNumberOfSOPInstances() == 0) return 0;
    // As dcmsend does: one association per group of at most 128 presentation
    // contexts, until every instance has been offered.
    OFCondition status;
    while ((status = scu.addPresentationContexts()).good()) {
        status = scu.initNetwork();
        if (status.good()) status = scu.negotiateAssociation();
        if (status.good()) {
            status = scu.sendSOPInstances();
        } else if (status == NET_EC_NoAcceptablePresentationContexts) {
            status = EC_Normal;  // those instances are reported as not sent
        }
        if (status.bad()) {
            scu.releaseAssociation();
            copy_message(
                std::string("association with ") + called_ae + "@" + host + ":" + std::to_string(port) + " failed (" + status.text() + ")",
                error, error_capacity);
            return -1;
        }
        scu.releaseAssociation();
    }
    return 0;
}
