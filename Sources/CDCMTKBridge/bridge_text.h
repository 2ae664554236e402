// Text helpers the bridge's C++ files share, private to the bridge.
#pragma once

#include <cstring>
#include <string>

/// Copies `message` into the caller's C buffer of `capacity` bytes, cut to fit
/// and always terminated; nothing is written when there is no buffer.
inline void copy_message(const std::string &message, char *buffer, size_t capacity) {
    if (buffer == nullptr || capacity == 0) return;
    size_t length = message.size() < capacity - 1 ? message.size() : capacity - 1;
    memcpy(buffer, message.data(), length);
    buffer[length] = '\0';
}
