// SHA-256 through OpenSSL (ms_dicom_digest.h): of a file, of a copy as it is
// made, of bytes in memory, and of a DICOM dataset written by DCMTK in one
// canonical encoding into the digest instead of a file.

#include "ms_dicom_digest.h"

#include "bridge_internal.h"
#include "dicom_handle.h"

#include "dcmtk/dcmdata/dcwcache.h"

#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

namespace {

void hex_digest(EVP_MD_CTX *context, char *hex) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(context, digest, &length);
    for (unsigned int i = 0; i < length; ++i) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/// Reads `input` to its end, hashing every chunk and handing it to `sink`
/// (which returns false on failure). Returns the error text, or "".
std::string digest_stream(int input, EVP_MD_CTX *context, char *hex, const std::function<bool(const unsigned char *, size_t)> &sink) {
    EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
    std::unique_ptr<unsigned char[]> chunk(new unsigned char[1 << 20]);
    while (true) {
        ssize_t count = read(input, chunk.get(), 1 << 20);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) return std::string("cannot read: ") + strerror(errno);
        if (count == 0) break;
        EVP_DigestUpdate(context, chunk.get(), static_cast<size_t>(count));
        if (!sink(chunk.get(), static_cast<size_t>(count))) return std::string("cannot write: ") + strerror(errno);
    }
    hex_digest(context, hex);
    return "";
}

using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

/// A DCMTK output stream's end that hashes what it is given instead of storing it.
class DigestConsumer : public DcmConsumer {
public:
    explicit DigestConsumer(EVP_MD_CTX *context) : context_(context) {}
    OFBool good() const override { return OFTrue; }
    OFCondition status() const override { return EC_Normal; }
    OFBool isFlushed() const override { return OFTrue; }
    offile_off_t avail() const override { return 1 << 20; }
    offile_off_t write(const void *bytes, offile_off_t count) override {
        EVP_DigestUpdate(context_, bytes, static_cast<size_t>(count));
        return count;
    }
    void flush() override {}

private:
    EVP_MD_CTX *context_;
};

/// DCMTK's output stream over a consumer (its constructor is protected).
class ConsumerStream : public DcmOutputStream {
public:
    explicit ConsumerStream(DcmConsumer *consumer) : DcmOutputStream(consumer) {}
};

}  // namespace

extern "C" {

int ms_sha256_file(const char *path, char *hex, char *error, size_t error_capacity) {
    int input = open(path, O_RDONLY | O_CLOEXEC);
    if (input < 0) {
        copy_message(std::string("cannot open: ") + strerror(errno), error, error_capacity);
        return -1;
    }
    DigestContext context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::string failure = digest_stream(input, context.get(), hex, [](const unsigned char *, size_t) { return true; });
    close(input);
    if (!failure.empty()) {
        copy_message(failure, error, error_capacity);
        return -1;
    }
    return 0;
}

int ms_copy_with_sha256(const char *source, const char *destination, char *hex, long long *size, char *error, size_t error_capacity) {
    int input = open(source, O_RDONLY | O_CLOEXEC);
    if (input < 0) {
        copy_message(std::string("cannot open: ") + strerror(errno), error, error_capacity);
        return -1;
    }
    int output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (output < 0) {
        copy_message(std::string("cannot create ") + destination + ": " + strerror(errno), error, error_capacity);
        close(input);
        return -1;
    }
    long long copied = 0;
    DigestContext context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::string failure = digest_stream(input, context.get(), hex, [&](const unsigned char *bytes, size_t count) {
        size_t written = 0;
        while (written < count) {
            ssize_t result = write(output, bytes + written, count - written);
            if (result < 0 && errno == EINTR) continue;
            if (result <= 0) return false;
            written += static_cast<size_t>(result);
        }
        copied += static_cast<long long>(count);
        return true;
    });
    close(input);
    if (close(output) != 0 && failure.empty()) failure = std::string("cannot write: ") + strerror(errno);
    if (!failure.empty()) {
        unlink(destination);
        copy_message(failure, error, error_capacity);
        return -1;
    }
    *size = copied;
    return 0;
}

int ms_dataset_sha256(const char *path, char *hex, char *error, size_t error_capacity) {
    DcmFileFormat format;
    if (!load_within_limits(path, format, error, error_capacity)) return -1;
    DcmDataset *dataset = format.getDataset();
    // Implicit VR for native pixel data: the value bytes of an uncompressed dataset
    // are the same in any little-endian syntax, but its VRs are not (8-bit pixels
    // read back from implicit VR are OW, written by most explicit-VR writers as OB).
    // Encapsulated pixel data hash in their own syntax.
    E_TransferSyntax xfer = dataset->getOriginalXfer();
    if (xfer == EXS_Unknown || !DcmXfer(xfer).isEncapsulated()) xfer = EXS_LittleEndianImplicit;
    DigestContext context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
    DigestConsumer consumer(context.get());
    ConsumerStream stream(&consumer);
    DcmWriteCache cache;  // one open of the file for all values left on disk
    OFCondition status;
    dataset->transferInit();
    do {
        status = dataset->write(stream, xfer, EET_ExplicitLength, &cache, EGL_withoutGL, EPD_withoutPadding);
    } while (status == EC_StreamNotifyClient);
    dataset->transferEnd();
    stream.flush();
    if (status.bad()) {
        copy_message(std::string("cannot encode the dataset (") + status.text() + ")", error, error_capacity);
        return -1;
    }
    hex_digest(context.get(), hex);
    return 0;
}

void ms_sha256_bytes(const void *bytes, size_t count, char *hex) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(bytes, count, digest, &length, EVP_sha256(), nullptr);
    for (unsigned int i = 0; i < length; ++i) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

}  // extern "C"
