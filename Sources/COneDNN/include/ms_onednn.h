// Convolutions and transposed convolutions on oneDNN (Debian's libdnnl 2.6),
// over the engine's NCHW or channel-blocked (nChw16c) tensors: each pass
// reorders its operands into the layouts oneDNN's fastest kernels want and
// back where they differ, in a scratch buffer the caller owns, so nothing but
// the primitives persists between calls.
#ifndef MS_ONEDNN_H
#define MS_ONEDNN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One layer at one batch shape. `transposed` selects a transposed
/// convolution (oneDNN's deconvolution): its weight is [in, out, k, k] as
/// PyTorch stores it; a convolution's is [out, in, k, k], or with `groups`
/// above 1 (a depthwise convolution when it equals the channels)
/// [out, in / groups, k, k]. The output size is the caller's: padding on the
/// right/bottom follows from it. `blocked_input` and `blocked_output` give
/// the input (and its gradient) and the output (and its gradient) in nChw16c
/// instead of NCHW; they need channels divisible by 16.
typedef struct {
    int transposed, groups;
    int batch, in_channels, in_height, in_width;
    int out_channels, out_height, out_width;
    int kernel, stride, padding;
    int has_bias;
    int blocked_input, blocked_output;
} ms_convolution_shape;

typedef struct ms_convolution ms_convolution;

/// NULL when oneDNN has no implementation for the shape; `error` then says why.
ms_convolution *ms_convolution_create(const ms_convolution_shape *shape, char *error, size_t error_length);
void ms_convolution_destroy(ms_convolution *convolution);

/// Bytes of scratch a forward or backward call needs (the reordered operands).
size_t ms_convolution_scratch_bytes(const ms_convolution *convolution);

/// dst [N, O, Ho, Wo] = conv(src [N, C, H, W], weights) + bias. 0 on success.
int ms_convolution_forward(ms_convolution *convolution, const float *src, const float *weights, const float *bias, float *dst,
                           void *scratch);

/// diff_src = the input gradient (overwritten; NULL: not computed);
/// diff_weights and diff_bias are ADDED to (NULL: not computed). 0 on success.
int ms_convolution_backward(ms_convolution *convolution, const float *src, const float *weights, const float *diff_dst, float *diff_src,
                            float *diff_weights, float *diff_bias, void *scratch);

/// The number of OpenMP threads oneDNN's kernels run on, set on every call's
/// thread (OpenMP keeps the setting per thread).
void ms_onednn_set_threads(int threads);

#ifdef __cplusplus
}
#endif

#endif
