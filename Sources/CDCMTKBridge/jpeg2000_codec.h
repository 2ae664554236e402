// The bridge's JPEG 2000 decoder (jpeg2000_codec.cpp), private to the bridge.
#pragma once

#include <string>

/// Registers the OpenJPEG-based JPEG 2000 decoder with DCMTK's codec list.
/// Called once, from ms_dicom_initialize, before any thread decodes.
void ms_register_jpeg2000_decoder();

/// Why the last JPEG 2000 frame decoded on the calling thread failed, or "";
/// taking it clears it, so that it is never reported for a later failure.
std::string ms_jpeg2000_take_error();
