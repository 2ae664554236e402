// The bridge's one-time setup (ms_dicom_init.h): registers DCMTK's JPEG,
// JPEG-LS and RLE decoders and the bridge's JPEG 2000 decoder, and routes
// DCMTK's log (oflog) to the application's callback.

#include "ms_dicom_init.h"

#include "bridge_internal.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/appender.h"
#include "dcmtk/oflog/logger.h"
#include "dcmtk/oflog/oflog.h"
#include "dcmtk/oflog/spi/logevent.h"

#include <mutex>

namespace {

/// Forwards DCMTK's log events to the application's callback.
class CallbackAppender : public dcmtk::log4cplus::Appender {
public:
    explicit CallbackAppender(ms_log_callback callback) : callback_(callback) {}
    ~CallbackAppender() override { destructorImpl(); }
    void close() override {}

protected:
    void append(const dcmtk::log4cplus::spi::InternalLoggingEvent &event) override {
        int level = MS_LOG_TRACE;
        switch (event.getLogLevel()) {
            case dcmtk::log4cplus::FATAL_LOG_LEVEL: level = MS_LOG_FATAL; break;
            case dcmtk::log4cplus::ERROR_LOG_LEVEL: level = MS_LOG_ERROR; break;
            case dcmtk::log4cplus::WARN_LOG_LEVEL: level = MS_LOG_WARN; break;
            case dcmtk::log4cplus::INFO_LOG_LEVEL: level = MS_LOG_INFO; break;
            case dcmtk::log4cplus::DEBUG_LOG_LEVEL: level = MS_LOG_DEBUG; break;
            default: level = MS_LOG_TRACE; break;
        }
        callback_(level, event.getLoggerName().c_str(), event.getMessage().c_str());
    }

private:
    ms_log_callback callback_;
};

dcmtk::log4cplus::LogLevel oflog_level(int level) {
    switch (level) {
        case MS_LOG_TRACE: return dcmtk::log4cplus::TRACE_LOG_LEVEL;
        case MS_LOG_DEBUG: return dcmtk::log4cplus::DEBUG_LOG_LEVEL;
        case MS_LOG_INFO: return dcmtk::log4cplus::INFO_LOG_LEVEL;
        case MS_LOG_WARN: return dcmtk::log4cplus::WARN_LOG_LEVEL;
        case MS_LOG_ERROR: return dcmtk::log4cplus::ERROR_LOG_LEVEL;
        default: return dcmtk::log4cplus::FATAL_LOG_LEVEL;
    }
}

std::once_flag initialization_flag;

}  // namespace

extern "C" {

void ms_dicom_initialize(ms_log_callback callback, int minimum_level) {
    std::call_once(initialization_flag, [&] {
        // Attributes stored with VR UN (an explicit VR writer that did not know
        // them) are read with their dictionary VR, as pydicom does.
        dcmEnableUnknownVRConversion.set(OFTrue);
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
        ms_register_jpeg2000_decoder();
        dcmtk::log4cplus::Logger root = dcmtk::log4cplus::Logger::getRoot();
        root.removeAllAppenders();
        if (callback != nullptr) {
            root.addAppender(dcmtk::log4cplus::SharedAppenderPtr(new CallbackAppender(callback)));
        }
        root.setLogLevel(oflog_level(minimum_level));
    });
}

}  // extern "C"
