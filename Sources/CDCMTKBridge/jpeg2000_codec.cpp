// JPEG 2000 decoding for DCMTK through OpenJPEG: Debian's DCMTK 3.6.7 is built
// without a JPEG 2000 codec, so this registers one with DCMTK's codec list.
// Everything that reads pixels (DicomImage, getUncompressedFrame,
// chooseRepresentation) then decodes JPEG 2000 like JPEG, JPEG-LS and RLE.

#include "bridge_internal.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcswap.h"
#include "dcmtk/dcmdata/dcvrpobw.h"
#include "dcmtk/dcmdata/dcxfer.h"

#include <openjpeg-2.5/openjpeg.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

/// Why the last JPEG 2000 frame decoded on this thread failed, or "".
thread_local std::string last_error;

/// The first bytes of a raw JPEG 2000 codestream: SOC then SIZ (ISO/IEC 15444-1 A.4).
const Uint8 kCodestreamStart[] = {0xFF, 0x4F, 0xFF, 0x51};
/// The JP2 signature box, which some writers put around the codestream.
const Uint8 kJP2Signature[] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A};

OFCondition failure(const std::string &reason) {
    last_error = reason;
    return makeOFCondition(OFM_dcmdata, 0x0900, OF_error, "JPEG 2000 decoding failed");
}

/// The image pixel attributes a decoded frame is checked against and laid out by.
struct FrameLayout {
    Uint16 rows = 0, columns = 0, samples = 1, bits_allocated = 0, planar = 0;
    Sint32 frames = 1;
    OFString photometric;

    size_t bytes_per_sample() const { return bits_allocated <= 8 ? 1 : 2; }
    size_t frame_bytes() const { return size_t(rows) * columns * samples * bytes_per_sample(); }
};

OFCondition read_layout(DcmItem *item, FrameLayout &layout) {
    if (item->findAndGetUint16(DCM_Rows, layout.rows).bad() || item->findAndGetUint16(DCM_Columns, layout.columns).bad() ||
        item->findAndGetUint16(DCM_BitsAllocated, layout.bits_allocated).bad()) {
        return failure("the image has no Rows, Columns or Bits Allocated");
    }
    item->findAndGetUint16(DCM_SamplesPerPixel, layout.samples);
    item->findAndGetUint16(DCM_PlanarConfiguration, layout.planar);
    item->findAndGetOFString(DCM_PhotometricInterpretation, layout.photometric);
    if (item->findAndGetSint32(DCM_NumberOfFrames, layout.frames).bad() || layout.frames < 1) layout.frames = 1;
    if (layout.bits_allocated > 16) {
        return failure("Bits Allocated " + std::to_string(layout.bits_allocated) + " (at most 16 are decoded)");
    }
    if (layout.samples != 1 && layout.samples != 3) {
        return failure("Samples per Pixel " + std::to_string(layout.samples) + " (1 or 3 are decoded)");
    }
    return EC_Normal;
}

/// The colour model of decoded pixels: OpenJPEG undoes the reversible and the
/// irreversible colour transforms itself, so YBR_RCT and YBR_ICT come out RGB.
OFString decoded_color_model(const OFString &photometric) {
    return photometric == "YBR_RCT" || photometric == "YBR_ICT" ? OFString("RGB") : photometric;
}

bool starts_with(const std::vector<Uint8> &bytes, const Uint8 *prefix, size_t count) {
    return bytes.size() >= count && memcmp(bytes.data(), prefix, count) == 0;
}

/// The first bytes of fragment `index`, read without loading the whole value.
std::vector<Uint8> fragment_head(DcmPixelSequence *sequence, Uint32 index) {
    DcmPixelItem *item = nullptr;
    if (sequence->getItem(item, index).bad() || item == nullptr) return {};
    std::vector<Uint8> head(std::min<Uint32>(item->getLength(), sizeof kJP2Signature));
    if (item->getPartialValue(head.data(), 0, static_cast<Uint32>(head.size())).bad()) return {};
    return head;
}

bool starts_codestream(DcmPixelSequence *sequence, Uint32 index) {
    std::vector<Uint8> head = fragment_head(sequence, index);
    return starts_with(head, kCodestreamStart, sizeof kCodestreamStart) || starts_with(head, kJP2Signature, sizeof kJP2Signature);
}

/// The fragments `first`...`last` of frame `frame` (item 0 is the Basic Offset
/// Table). A frame may span fragments and a fragment never holds two frames
/// (PS3.5 A.4), and every JPEG 2000 frame begins with a codestream start, so
/// the frames are found by their starts: the offset table is optional and
/// sometimes wrong. `hint`, when not 0, is where DCMTK expects the frame to begin.
OFCondition frame_fragments(DcmPixelSequence *sequence, const FrameLayout &layout, Uint32 frame, Uint32 hint, Uint32 &first, Uint32 &last) {
    Uint32 fragments = sequence->card() > 0 ? static_cast<Uint32>(sequence->card() - 1) : 0;
    Uint32 frames = static_cast<Uint32>(layout.frames);
    if (fragments == 0) return failure("the pixel data has no fragments");
    if (frame >= frames) return failure("frame " + std::to_string(frame) + " of " + std::to_string(frames));
    if (frames == 1) {
        first = 1;
        last = fragments;
        return EC_Normal;
    }
    if (fragments == frames) {
        first = last = frame + 1;
        return EC_Normal;
    }
    Uint32 found = 0;
    if (hint > 0 && hint <= fragments && starts_codestream(sequence, hint)) {
        found = hint;
    } else {
        Uint32 starts = 0;
        for (Uint32 index = 1; index <= fragments && found == 0; ++index) {
            if (starts_codestream(sequence, index) && starts++ == frame) found = index;
        }
    }
    if (found == 0) {
        return failure("frame " + std::to_string(frame) + " has no codestream start among " + std::to_string(fragments) + " fragments");
    }
    first = last = found;
    while (last < fragments && !starts_codestream(sequence, last + 1)) ++last;
    return EC_Normal;
}

/// OpenJPEG reads the codestream from memory through these.
struct MemoryStream {
    const Uint8 *bytes;
    size_t count, position;
};

OPJ_SIZE_T read_stream(void *buffer, OPJ_SIZE_T wanted, void *user) {
    MemoryStream *stream = static_cast<MemoryStream *>(user);
    if (stream->position >= stream->count) return static_cast<OPJ_SIZE_T>(-1);  // end of stream
    OPJ_SIZE_T given = std::min<OPJ_SIZE_T>(wanted, stream->count - stream->position);
    memcpy(buffer, stream->bytes + stream->position, given);
    stream->position += given;
    return given;
}

OPJ_OFF_T skip_stream(OPJ_OFF_T offset, void *user) {
    MemoryStream *stream = static_cast<MemoryStream *>(user);
    if (offset < 0 ? static_cast<OPJ_OFF_T>(stream->position) < -offset
                   : static_cast<OPJ_OFF_T>(stream->count - stream->position) < offset) {
        return -1;
    }
    stream->position = static_cast<size_t>(static_cast<OPJ_OFF_T>(stream->position) + offset);
    return offset;
}

OPJ_BOOL seek_stream(OPJ_OFF_T offset, void *user) {
    MemoryStream *stream = static_cast<MemoryStream *>(user);
    if (offset < 0 || static_cast<OPJ_UINT64>(offset) > stream->count) return OPJ_FALSE;
    stream->position = static_cast<size_t>(offset);
    return OPJ_TRUE;
}

void record_error(const char *message, void *) {
    if (!last_error.empty()) return;  // the first message names the cause
    last_error = message;
    while (!last_error.empty() && (last_error.back() == '\n' || last_error.back() == ' ')) last_error.pop_back();
}

void ignore_message(const char *, void *) {}

struct CodecDeleter {
    void operator()(opj_codec_t *codec) const { opj_destroy_codec(codec); }
};
struct StreamDeleter {
    void operator()(opj_stream_t *stream) const { opj_stream_destroy(stream); }
};
struct ImageDeleter {
    void operator()(opj_image_t *image) const { opj_image_destroy(image); }
};

/// Why the codestream's header does not describe the frame the dataset declares, or "".
/// Checked before decoding, so that a codestream declaring a larger image
/// than Rows and Columns allocates nothing for it.
std::string header_problem(const opj_image_t &image, const FrameLayout &layout) {
    if (image.numcomps != layout.samples) {
        return "the codestream has " + std::to_string(image.numcomps) + " components for Samples per Pixel " +
               std::to_string(layout.samples);
    }
    for (OPJ_UINT32 c = 0; c < image.numcomps; ++c) {
        const opj_image_comp_t &component = image.comps[c];
        if (component.w != layout.columns || component.h != layout.rows) {
            return "the codestream's image is " + std::to_string(component.w) + "x" + std::to_string(component.h) + ", the dataset's " +
                   std::to_string(layout.columns) + "x" + std::to_string(layout.rows);
        }
        if (component.dx != 1 || component.dy != 1) return "the codestream has subsampled components";
        if (component.prec == 0 || component.prec > layout.bits_allocated) {
            return "the codestream has " + std::to_string(component.prec) + "-bit samples for Bits Allocated " +
                   std::to_string(layout.bits_allocated);
        }
    }
    return "";
}

/// Copies decoded components into `output` in the dataset's layout: samples
/// interleaved or planar as Planar Configuration says, one byte per sample up
/// to 8 bits allocated, else a 16-bit word, values clamped to their precision
/// (lossy decoding can overshoot) and signed ones sign-extended.
void copy_samples(const opj_image_t &image, const FrameLayout &layout, Uint8 *output) {
    size_t pixels = size_t(layout.rows) * layout.columns;
    for (OPJ_UINT32 c = 0; c < image.numcomps; ++c) {
        const opj_image_comp_t &component = image.comps[c];
        OPJ_INT32 lowest = component.sgnd ? -(1 << (component.prec - 1)) : 0;
        OPJ_INT32 highest = component.sgnd ? (1 << (component.prec - 1)) - 1 : (1 << component.prec) - 1;
        for (size_t i = 0; i < pixels; ++i) {
            OPJ_INT32 value = std::min(std::max(component.data[i], lowest), highest);
            size_t index = layout.planar == 1 ? c * pixels + i : i * layout.samples + c;
            if (layout.bytes_per_sample() == 1) {
                output[index] = static_cast<Uint8>(value);
            } else {
                reinterpret_cast<Uint16 *>(output)[index] = static_cast<Uint16>(static_cast<Sint16>(value));
            }
        }
    }
}

/// The bytes of fragments `first`...`last`, joined.
OFCondition join_fragments(DcmPixelSequence *sequence, Uint32 first, Uint32 last, std::vector<Uint8> &codestream) {
    for (Uint32 index = first; index <= last; ++index) {
        DcmPixelItem *item = nullptr;
        Uint8 *bytes = nullptr;
        if (sequence->getItem(item, index).bad() || item == nullptr || item->getUint8Array(bytes).bad() ||
            (bytes == nullptr && item->getLength() > 0)) {
            return failure("pixel data fragment " + std::to_string(index) + " cannot be read");
        }
        codestream.insert(codestream.end(), bytes, bytes + item->getLength());
        item->compact();  // the fragment's value leaves memory again
    }
    return EC_Normal;
}

/// Decodes one codestream into `output` (`layout.frame_bytes()` bytes, local byte order).
OFCondition decode_codestream(const std::vector<Uint8> &codestream, const FrameLayout &layout, Uint32 frame, Uint8 *output) {
    OPJ_CODEC_FORMAT format;
    if (starts_with(codestream, kCodestreamStart, sizeof kCodestreamStart)) {
        format = OPJ_CODEC_J2K;
    } else if (starts_with(codestream, kJP2Signature, sizeof kJP2Signature)) {
        format = OPJ_CODEC_JP2;
    } else {
        return failure("frame " + std::to_string(frame) + " does not begin with a JPEG 2000 codestream");
    }
    std::unique_ptr<opj_codec_t, CodecDeleter> codec(opj_create_decompress(format));
    std::unique_ptr<opj_stream_t, StreamDeleter> stream(opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE));
    if (!codec || !stream) return failure("OpenJPEG could not start a decoder");
    opj_set_error_handler(codec.get(), record_error, nullptr);
    opj_set_warning_handler(codec.get(), ignore_message, nullptr);
    opj_set_info_handler(codec.get(), ignore_message, nullptr);
    opj_dparameters_t parameters;
    opj_set_default_decoder_parameters(&parameters);  // every layer, full resolution
    MemoryStream memory{codestream.data(), codestream.size(), 0};
    opj_stream_set_user_data(stream.get(), &memory, nullptr);
    opj_stream_set_user_data_length(stream.get(), memory.count);
    opj_stream_set_read_function(stream.get(), read_stream);
    opj_stream_set_skip_function(stream.get(), skip_stream);
    opj_stream_set_seek_function(stream.get(), seek_stream);
    opj_image_t *header = nullptr;
    if (!opj_setup_decoder(codec.get(), &parameters) || !opj_read_header(stream.get(), codec.get(), &header)) {
        opj_image_destroy(header);
        return failure(last_error.empty() ? "the codestream header cannot be read" : last_error);
    }
    std::unique_ptr<opj_image_t, ImageDeleter> image(header);
    std::string problem = header_problem(*image, layout);
    if (!problem.empty()) return failure(problem);
    if (!opj_decode(codec.get(), stream.get(), image.get()) || !opj_end_decompress(codec.get(), stream.get())) {
        return failure(last_error.empty() ? "the codestream does not decode" : last_error);
    }
    for (OPJ_UINT32 c = 0; c < image->numcomps; ++c) {
        if (image->comps[c].data == nullptr) return failure("OpenJPEG decoded no samples");
    }
    copy_samples(*image, layout, output);
    // DCMTK's decoders hand over 8-bit samples as a little-endian byte stream in 16-bit words.
    if (layout.bytes_per_sample() == 1) {
        swapIfNecessary(gLocalByteOrder, EBO_LittleEndian, output, static_cast<Uint32>(layout.frame_bytes()), sizeof(Uint16));
    }
    return EC_Normal;
}

/// Decodes frame `frame` into `output`; `start_fragment` is DCMTK's hint where
/// it begins, and on return where the next frame begins.
OFCondition decode_frame(DcmPixelSequence *sequence, const FrameLayout &layout, Uint32 frame, Uint32 &start_fragment, Uint8 *output) {
    last_error.clear();
    Uint32 first = 0, last = 0;
    std::vector<Uint8> codestream;
    OFCondition status = frame_fragments(sequence, layout, frame, start_fragment, first, last);
    if (status.good()) status = join_fragments(sequence, first, last, codestream);
    if (status.good()) status = decode_codestream(codestream, layout, frame, output);
    if (status.good()) start_fragment = last + 1;
    return status;
}

class JPEG2000Decoder : public DcmCodec {
public:
    OFCondition decode(const DcmRepresentationParameter *, DcmPixelSequence *sequence, DcmPolymorphOBOW &uncompressed,
                       const DcmCodecParameter *, const DcmStack &stack, OFBool &removeOldRep) const override {
        DcmStack local(stack);
        local.pop();  // the pixel data element
        DcmObject *parent = local.pop();
        if (parent == nullptr || (parent->ident() != EVR_dataset && parent->ident() != EVR_item)) {
            return EC_InvalidTag;
        }
        DcmItem *item = OFstatic_cast(DcmItem *, parent);
        FrameLayout layout;
        OFCondition status = read_layout(item, layout);
        if (status.bad()) return status;
        unsigned long long total = static_cast<unsigned long long>(layout.frame_bytes()) * layout.frames;
        if (total >= 0xFFFFFFFEULL) return EC_ElemLengthExceeds32BitField;
        if (total & 1) ++total;
        Uint16 *words = nullptr;
        status = uncompressed.createUint16Array(static_cast<Uint32>(total / 2), words);
        if (status.bad()) return status;
        Uint8 *output = reinterpret_cast<Uint8 *>(words);
        Uint32 start_fragment = 0;
        for (Sint32 frame = 0; frame < layout.frames && status.good(); ++frame) {
            status =
                decode_frame(sequence, layout, static_cast<Uint32>(frame), start_fragment, output + size_t(frame) * layout.frame_bytes());
        }
        if (status.bad()) return status;
        OFString model = decoded_color_model(layout.photometric);
        if (model != layout.photometric) {
            // The compressed representation's colour model no longer matches the dataset.
            removeOldRep = OFTrue;
            return item->putAndInsertString(DCM_PhotometricInterpretation, model.c_str());
        }
        return EC_Normal;
    }

    OFCondition decodeFrame(const DcmRepresentationParameter *, DcmPixelSequence *sequence, const DcmCodecParameter *, DcmItem *dataset,
                            Uint32 frameNo, Uint32 &startFragment, void *buffer, Uint32 bufSize,
                            OFString &decompressedColorModel) const override {
        if (dataset == nullptr) return EC_IllegalParameter;
        FrameLayout layout;
        OFCondition status = read_layout(dataset, layout);
        if (status.bad()) return status;
        if (layout.frame_bytes() > bufSize) return EC_IllegalCall;
        status = decode_frame(sequence, layout, frameNo, startFragment, static_cast<Uint8 *>(buffer));
        if (status.good()) decompressedColorModel = decoded_color_model(layout.photometric);
        return status;
    }

    OFCondition encode(const Uint16 *, const Uint32, const DcmRepresentationParameter *, DcmPixelSequence *&, const DcmCodecParameter *,
                       DcmStack &, OFBool &) const override {
        return EC_IllegalCall;  // a decoder only
    }

    OFCondition encode(const E_TransferSyntax, const DcmRepresentationParameter *, DcmPixelSequence *, const DcmRepresentationParameter *,
                       DcmPixelSequence *&, const DcmCodecParameter *, DcmStack &, OFBool &) const override {
        return EC_IllegalCall;
    }

    OFBool canChangeCoding(const E_TransferSyntax oldRepType, const E_TransferSyntax newRepType) const override {
        return (oldRepType == EXS_JPEG2000LosslessOnly || oldRepType == EXS_JPEG2000) && DcmXfer(newRepType).isNotEncapsulated();
    }

    OFCondition determineDecompressedColorModel(const DcmRepresentationParameter *, DcmPixelSequence *, const DcmCodecParameter *,
                                                DcmItem *dataset, OFString &decompressedColorModel) const override {
        if (dataset == nullptr) return EC_IllegalParameter;
        OFString photometric;
        OFCondition status = dataset->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
        if (status.good()) decompressedColorModel = decoded_color_model(photometric);
        return status;
    }
};

/// DCMTK's codec list wants both parameter kinds; a decoder has no settings.
class JPEG2000Parameters : public DcmCodecParameter, public DcmRepresentationParameter {
public:
    JPEG2000Parameters *clone() const override { return new JPEG2000Parameters(); }
    const char *className() const override { return "JPEG2000Parameters"; }
    OFBool operator==(const DcmRepresentationParameter &other) const override { return strcmp(other.className(), className()) == 0; }
};

}  // namespace

void ms_register_jpeg2000_decoder() {
    // Registered once, for the life of the process, like DCMTK's own decoders.
    static JPEG2000Decoder decoder;
    static JPEG2000Parameters parameters;
    DcmCodecList::registerCodec(&decoder, &parameters, &parameters);
}

std::string ms_jpeg2000_take_error() {
    std::string error;
    error.swap(last_error);
    return error;
}
