// libFuzzer harness over the bridge's parse-and-decode entry point: the same
// calls an import makes on an untrusted file (pre-scan, parse, metadata,
// decode of every frame). Built with AddressSanitizer by scripts/fuzz.sh;
// docs/catalog.md says how to run it and what it found.

#include "ms_dicom_file.h"
#include "ms_dicom_frames.h"
#include "ms_dicom_init.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace {

void ignore_log(int, const char *, const char *) {}

/// The input goes through a file, as every import does (DCMTK reads pixel
/// data lazily from the file).
std::string input_path() {
    const char *folder = getenv("FUZZ_SCRATCH");
    return std::string(folder ? folder : "/dev/shm") + "/medsynth-fuzz-" + std::to_string(getpid()) + ".dcm";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool initialized = [] {
        ms_dicom_initialize(ignore_log, MS_LOG_FATAL);
        return true;
    }();
    (void)initialized;
    static const std::string path = input_path();
    FILE *file = fopen(path.c_str(), "wb");
    if (file == nullptr) abort();
    if (size > 0 && fwrite(data, 1, size, file) != size) abort();
    fclose(file);

    char error[512];
    ms_dicom_file *dicom = ms_dicom_open(path.c_str(), error, sizeof error);
    if (dicom == nullptr) return 0;
    char value[256];
    for (uint16_t element : {0x0010, 0x0020, 0x0030, 0x0040}) {
        ms_dicom_get_string(dicom, 0x0010, element, value, sizeof value);
    }
    ms_dicom_get_string(dicom, 0x0002, 0x0010, value, sizeof value);
    char uid[128], name[256];
    ms_dicom_transfer_syntax(dicom, uid, sizeof uid, name, sizeof name);
    if (ms_dicom_verify_frames(dicom, error, sizeof error) == 0) {
        // What `show` does after import: the display rendering of frame 0.
        static uint8_t display[3 * 64 * 1024 * 1024];
        int channels = 0;
        ms_dicom_decode_frame_display(dicom, 0, display, sizeof display, &channels, error, sizeof error);
    }
    ms_dicom_close(dicom);
    return 0;
}
