#include "ms_onednn.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// libgomp's, which libdnnl links; declared here because clang does not ship
// GCC's omp.h.
extern void omp_set_num_threads(int threads);

static dnnl_engine_t shared_engine;
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static int onednn_threads;

static void create_engine(void) { engine_status = dnnl_engine_create(&shared_engine, dnnl_cpu, 0); }

void ms_onednn_set_threads(int threads) { __atomic_store_n(&onednn_threads, threads, __ATOMIC_RELAXED); }

static void apply_threads(void) {
    int threads = __atomic_load_n(&onednn_threads, __ATOMIC_RELAXED);
    if (threads > 0) omp_set_num_threads(threads);
}

/// One operand of a pass: the caller's layout (`user`), the layout the
/// primitive runs on (`inner`), and the reorder between them when they differ,
/// into or out of the scratch buffer at `offset`.
typedef struct {
    dnnl_memory_desc_t user, inner;
    int reordered;
    dnnl_primitive_t reorder;
    dnnl_memory_t user_memory, inner_memory;
    size_t offset;
} operand;

struct ms_convolution {
    dnnl_stream_t stream;
    dnnl_primitive_desc_t forward_pd, data_pd, weights_pd;
    dnnl_primitive_t forward, backward_data, backward_weights;
    operand forward_src, forward_weights, forward_dst;
    operand data_diff_dst, data_weights, data_diff_src;
    operand weights_src, weights_diff_dst, weights_diff_weights;
    dnnl_memory_t bias_memory, diff_bias_memory;
    size_t forward_bytes, backward_bytes, plain_diff_weights_offset, diff_bias_offset;
    size_t weight_count;
    int out_channels, has_bias;
    /// Both backward passes read the output gradient in one layout: reordered once.
    int shared_diff_dst;
};

static size_t aligned(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

#define CHECK(call, what)                                                                       \
    do {                                                                                        \
        dnnl_status_t status_ = (call);                                                         \
        if (status_ != dnnl_success) {                                                          \
            if (error) snprintf(error, error_length, "%s: %s", what, dnnl_status2str(status_)); \
            return 0;                                                                           \
        }                                                                                       \
    } while (0)

/// `input`: the reorder runs user -> inner before the primitive; otherwise
/// inner -> user after it.
static int operand_init(operand *op, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *inner, int input, size_t *offset,
                        char *error, size_t error_length) {
    op->user = *user;
    op->inner = *inner;
    op->reordered = !dnnl_memory_desc_equal(user, inner);
    CHECK(dnnl_memory_create(&op->user_memory, &op->user, shared_engine, DNNL_MEMORY_NONE), "memory");
    if (!op->reordered) return 1;
    CHECK(dnnl_memory_create(&op->inner_memory, &op->inner, shared_engine, DNNL_MEMORY_NONE), "memory");
    dnnl_primitive_desc_t reorder_pd;
    const dnnl_memory_desc_t *from = input ? &op->user : &op->inner, *to = input ? &op->inner : &op->user;
    CHECK(dnnl_reorder_primitive_desc_create(&reorder_pd, from, shared_engine, to, shared_engine, NULL), "reorder");
    dnnl_status_t status = dnnl_primitive_create(&op->reorder, reorder_pd);
    dnnl_primitive_desc_destroy(reorder_pd);
    CHECK(status, "reorder");
    op->offset = *offset;
    *offset += aligned(dnnl_memory_desc_get_size(&op->inner));
    return 1;
}

static void operand_destroy(operand *op) {
    if (op->reorder) dnnl_primitive_destroy(op->reorder);
    if (op->user_memory) dnnl_memory_destroy(op->user_memory);
    if (op->inner_memory) dnnl_memory_destroy(op->inner_memory);
}

/// The memory the primitive reads: the caller's, or its reordered copy.
static dnnl_memory_t operand_read(dnnl_stream_t stream, operand *op, const void *data, char *scratch, int reorder) {
    dnnl_memory_set_data_handle(op->user_memory, (void *)data);
    if (!op->reordered) return op->user_memory;
    dnnl_memory_set_data_handle(op->inner_memory, scratch + op->offset);
    if (reorder) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, op->user_memory}, {DNNL_ARG_TO, op->inner_memory}};
        dnnl_primitive_execute(op->reorder, stream, 2, args);
    }
    return op->inner_memory;
}

/// The memory the primitive writes; `operand_written` moves it to the caller's.
static dnnl_memory_t operand_write(operand *op, void *data, char *scratch) {
    dnnl_memory_set_data_handle(op->user_memory, data);
    if (!op->reordered) return op->user_memory;
    dnnl_memory_set_data_handle(op->inner_memory, scratch + op->offset);
    return op->inner_memory;
}

static void operand_written(dnnl_stream_t stream, operand *op) {
    if (!op->reordered) return;
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, op->inner_memory}, {DNNL_ARG_TO, op->user_memory}};
    dnnl_primitive_execute(op->reorder, stream, 2, args);
}

/// The caller's layouts and the layout-free ("any") descriptors oneDNN
/// chooses from, for one shape.
typedef struct {
    dnnl_memory_desc_t user_src, user_dst, user_weights, bias, any_src, any_dst, any_weights;
    dnnl_dims_t strides, padding_l, padding_r;
} descriptors;

static int describe(descriptors *m, const ms_convolution_shape *s, char *error, size_t error_length) {
    dnnl_dims_t src_dims = {s->batch, s->in_channels, s->in_height, s->in_width};
    dnnl_dims_t dst_dims = {s->batch, s->out_channels, s->out_height, s->out_width};
    int groups = s->groups > 1 ? s->groups : 1, weight_rank = groups > 1 ? 5 : 4;
    dnnl_dims_t weight_dims = {s->out_channels, s->in_channels, s->kernel, s->kernel};
    dnnl_dims_t grouped_weight_dims = {groups, s->out_channels / groups, s->in_channels / groups, s->kernel, s->kernel};
    dnnl_format_tag_t weight_tag = groups > 1 ? dnnl_goihw : s->transposed ? dnnl_iohw : dnnl_oihw;
    dnnl_dims_t bias_dims = {s->out_channels};
    // The right/bottom padding that gives the caller's output size: the
    // convolution relation, read from the small side for a transposed one.
    int small = s->transposed ? s->in_height : s->out_height, large = s->transposed ? s->out_height : s->in_height;
    int small_w = s->transposed ? s->in_width : s->out_width, large_w = s->transposed ? s->out_width : s->in_width;
    dnnl_dim_t pad_bottom = (dnnl_dim_t)(small - 1) * s->stride + s->kernel - large - s->padding;
    dnnl_dim_t pad_right = (dnnl_dim_t)(small_w - 1) * s->stride + s->kernel - large_w - s->padding;
    if (pad_bottom < 0 || pad_right < 0) {
        snprintf(error, error_length, "output padding beyond the padding");
        return 0;
    }
    m->strides[0] = m->strides[1] = s->stride;
    m->padding_l[0] = m->padding_l[1] = s->padding;
    m->padding_r[0] = pad_bottom;
    m->padding_r[1] = pad_right;
    CHECK(dnnl_memory_desc_init_by_tag(&m->user_src, 4, src_dims, dnnl_f32, s->blocked_input ? dnnl_nChw16c : dnnl_nchw), "src");
    CHECK(dnnl_memory_desc_init_by_tag(&m->user_dst, 4, dst_dims, dnnl_f32, s->blocked_output ? dnnl_nChw16c : dnnl_nchw), "dst");
    const dnnl_dim_t *weight_shape = groups > 1 ? grouped_weight_dims : weight_dims;
    CHECK(dnnl_memory_desc_init_by_tag(&m->user_weights, weight_rank, weight_shape, dnnl_f32, weight_tag), "weights");
    CHECK(dnnl_memory_desc_init_by_tag(&m->bias, 1, bias_dims, dnnl_f32, dnnl_x), "bias");
    CHECK(dnnl_memory_desc_init_by_tag(&m->any_src, 4, src_dims, dnnl_f32, dnnl_format_tag_any), "src");
    CHECK(dnnl_memory_desc_init_by_tag(&m->any_dst, 4, dst_dims, dnnl_f32, dnnl_format_tag_any), "dst");
    CHECK(dnnl_memory_desc_init_by_tag(&m->any_weights, weight_rank, weight_shape, dnnl_f32, dnnl_format_tag_any), "weights");
    return 1;
}

/// The forward, data-gradient and weight-gradient primitives. Direct
/// algorithms only: Winograd would be faster for 3 x 3 but rounds differently
/// from the references the tests hold the engine to.
static int make_primitives(ms_convolution *c, const descriptors *m, int transposed, int has_bias, char *error, size_t error_length) {
    const dnnl_memory_desc_t *bias_md = has_bias ? &m->bias : NULL;
    if (transposed) {
        dnnl_deconvolution_desc_t forward, data, weights;
        CHECK(dnnl_deconvolution_forward_desc_init(&forward, dnnl_forward_training, dnnl_deconvolution_direct, &m->any_src, &m->any_weights,
                                                   bias_md, &m->any_dst, m->strides, m->padding_l, m->padding_r),
              "forward");
        CHECK(dnnl_primitive_desc_create(&c->forward_pd, &forward, NULL, shared_engine, NULL), "forward");
        CHECK(dnnl_deconvolution_backward_data_desc_init(&data, dnnl_deconvolution_direct, &m->any_src, &m->any_weights, &m->any_dst,
                                                         m->strides, m->padding_l, m->padding_r),
              "backward data");
        CHECK(dnnl_primitive_desc_create(&c->data_pd, &data, NULL, shared_engine, c->forward_pd), "backward data");
        CHECK(dnnl_deconvolution_backward_weights_desc_init(&weights, dnnl_deconvolution_direct, &m->any_src, &m->any_weights, bias_md,
                                                            &m->any_dst, m->strides, m->padding_l, m->padding_r),
              "backward weights");
        CHECK(dnnl_primitive_desc_create(&c->weights_pd, &weights, NULL, shared_engine, c->forward_pd), "backward weights");
    } else {
        dnnl_convolution_desc_t forward, data, weights;
        CHECK(dnnl_convolution_forward_desc_init(&forward, dnnl_forward_training, dnnl_convolution_direct, &m->any_src, &m->any_weights,
                                                 bias_md, &m->any_dst, m->strides, m->padding_l, m->padding_r),
              "forward");
        CHECK(dnnl_primitive_desc_create(&c->forward_pd, &forward, NULL, shared_engine, NULL), "forward");
        CHECK(dnnl_convolution_backward_data_desc_init(&data, dnnl_convolution_direct, &m->any_src, &m->any_weights, &m->any_dst,
                                                       m->strides, m->padding_l, m->padding_r),
              "backward data");
        CHECK(dnnl_primitive_desc_create(&c->data_pd, &data, NULL, shared_engine, c->forward_pd), "backward data");
        CHECK(dnnl_convolution_backward_weights_desc_init(&weights, dnnl_convolution_direct, &m->any_src, &m->any_weights, bias_md,
                                                          &m->any_dst, m->strides, m->padding_l, m->padding_r),
              "backward weights");
        CHECK(dnnl_primitive_desc_create(&c->weights_pd, &weights, NULL, shared_engine, c->forward_pd), "backward weights");
    }
    CHECK(dnnl_primitive_create(&c->forward, c->forward_pd), "forward");
    CHECK(dnnl_primitive_create(&c->backward_data, c->data_pd), "backward data");
    CHECK(dnnl_primitive_create(&c->backward_weights, c->weights_pd), "backward weights");
    return 1;
}

/// The layout the primitive `pd` wants for operand `what`.
static const dnnl_memory_desc_t *query_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

/// Each pass's operands and where their reordered copies go in the scratch.
static int lay_out_operands(ms_convolution *c, const descriptors *m, char *error, size_t error_length) {
    const dnnl_primitive_desc_t f = c->forward_pd, d = c->data_pd, w = c->weights_pd;
    size_t offset = 0;
    if (!operand_init(&c->forward_src, &m->user_src, query_md(f, dnnl_query_src_md), 1, &offset, error, error_length)) return 0;
    if (!operand_init(&c->forward_weights, &m->user_weights, query_md(f, dnnl_query_weights_md), 1, &offset, error, error_length)) return 0;
    if (!operand_init(&c->forward_dst, &m->user_dst, query_md(f, dnnl_query_dst_md), 0, &offset, error, error_length)) return 0;
    c->forward_bytes = offset;

    // Backward: the output gradient, reordered once when both passes want the
    // same layout, then the weight pass's operands and, over the same bytes
    // (the passes run one after the other), the data pass's.
    offset = 0;
    if (!operand_init(&c->data_diff_dst, &m->user_dst, query_md(d, dnnl_query_diff_dst_md), 1, &offset, error, error_length)) return 0;
    const dnnl_memory_desc_t *weights_diff_dst = dnnl_primitive_desc_query_md(w, dnnl_query_diff_dst_md, 0);
    c->shared_diff_dst = c->data_diff_dst.reordered && dnnl_memory_desc_equal(&c->data_diff_dst.inner, weights_diff_dst);
    size_t weights_pass = offset;
    if (!operand_init(&c->weights_diff_dst, &m->user_dst, weights_diff_dst, 1, &weights_pass, error, error_length)) return 0;
    if (c->shared_diff_dst) {
        weights_pass = offset;
        c->weights_diff_dst.offset = c->data_diff_dst.offset;
    }
    size_t data_pass = weights_pass;
    if (!operand_init(&c->weights_src, &m->user_src, query_md(w, dnnl_query_src_md), 1, &weights_pass, error, error_length)) return 0;
    const dnnl_memory_desc_t *diff_weights = query_md(w, dnnl_query_diff_weights_md);
    if (!operand_init(&c->weights_diff_weights, &m->user_weights, diff_weights, 0, &weights_pass, error, error_length)) return 0;
    c->plain_diff_weights_offset = weights_pass;
    weights_pass += aligned(c->weight_count * sizeof(float));
    c->diff_bias_offset = weights_pass;
    weights_pass += aligned((size_t)c->out_channels * sizeof(float));
    if (!operand_init(&c->data_weights, &m->user_weights, query_md(d, dnnl_query_weights_md), 1, &data_pass, error, error_length)) return 0;
    if (!operand_init(&c->data_diff_src, &m->user_src, query_md(d, dnnl_query_diff_src_md), 0, &data_pass, error, error_length)) return 0;
    c->backward_bytes = weights_pass > data_pass ? weights_pass : data_pass;
    return 1;
}

static int build(ms_convolution *c, const ms_convolution_shape *s, char *error, size_t error_length) {
    pthread_once(&engine_once, create_engine);
    CHECK(engine_status, "engine");
    CHECK(dnnl_stream_create(&c->stream, shared_engine, dnnl_stream_default_flags), "stream");
    descriptors m;
    if (!describe(&m, s, error, error_length)) return 0;
    if (!make_primitives(c, &m, s->transposed, s->has_bias, error, error_length)) return 0;
    c->weight_count = (size_t)s->out_channels * (s->in_channels / (s->groups > 1 ? s->groups : 1)) * s->kernel * s->kernel;
    c->out_channels = s->out_channels;
    c->has_bias = s->has_bias;
    if (!lay_out_operands(c, &m, error, error_length)) return 0;
    if (s->has_bias) {
        CHECK(dnnl_memory_create(&c->bias_memory, &m.bias, shared_engine, DNNL_MEMORY_NONE), "bias");
        CHECK(dnnl_memory_create(&c->diff_bias_memory, &m.bias, shared_engine, DNNL_MEMORY_NONE), "bias");
    }
    return 1;
}

ms_convolution *ms_convolution_create(const ms_convolution_shape *shape, char *error, size_t error_length) {
    ms_convolution *convolution = calloc(1, sizeof *convolution);
    if (!convolution) {
        snprintf(error, error_length, "out of memory");
        return NULL;
    }
    if (!build(convolution, shape, error, error_length)) {
        ms_convolution_destroy(convolution);
        return NULL;
    }
    return convolution;
}

void ms_convolution_destroy(ms_convolution *c) {
    if (!c) return;
    operand *operands[] = {&c->forward_src,   &c->forward_weights, &c->forward_dst,      &c->data_diff_dst,       &c->data_weights,
                           &c->data_diff_src, &c->weights_src,     &c->weights_diff_dst, &c->weights_diff_weights};
    for (size_t i = 0; i < sizeof operands / sizeof *operands; i++) operand_destroy(operands[i]);
    dnnl_primitive_t primitives[] = {c->forward, c->backward_data, c->backward_weights};
    for (size_t i = 0; i < 3; i++)
        if (primitives[i]) dnnl_primitive_destroy(primitives[i]);
    dnnl_primitive_desc_t descriptors[] = {c->forward_pd, c->data_pd, c->weights_pd};
    for (size_t i = 0; i < 3; i++)
        if (descriptors[i]) dnnl_primitive_desc_destroy(descriptors[i]);
    if (c->bias_memory) dnnl_memory_destroy(c->bias_memory);
    if (c->diff_bias_memory) dnnl_memory_destroy(c->diff_bias_memory);
    if (c->stream) dnnl_stream_destroy(c->stream);
    free(c);
}

size_t ms_convolution_scratch_bytes(const ms_convolution *c) {
    return c->forward_bytes > c->backward_bytes ? c->forward_bytes : c->backward_bytes;
}

int ms_convolution_forward(ms_convolution *c, const float *src, const float *weights, const float *bias, float *dst, void *scratch) {
    apply_threads();
    char *space = scratch;
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, operand_read(c->stream, &c->forward_src, src, space, 1)},
        {DNNL_ARG_WEIGHTS, operand_read(c->stream, &c->forward_weights, weights, space, 1)},
        {DNNL_ARG_DST, operand_write(&c->forward_dst, dst, space)},
    };
    int count = 3;
    if (c->has_bias) {
        dnnl_memory_set_data_handle(c->bias_memory, (void *)bias);
        args[count++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, c->bias_memory};
    }
    if (dnnl_primitive_execute(c->forward, c->stream, count, args) != dnnl_success) return 1;
    operand_written(c->stream, &c->forward_dst);
    return dnnl_stream_wait(c->stream) != dnnl_success;
}

int ms_convolution_backward(ms_convolution *c, const float *src, const float *weights, const float *diff_dst, float *diff_src,
                            float *diff_weights, float *diff_bias, void *scratch) {
    apply_threads();
    char *space = scratch;
    if (diff_weights) {
        float *plain = (float *)(space + c->plain_diff_weights_offset);
        dnnl_exec_arg_t args[4] = {
            {DNNL_ARG_SRC, operand_read(c->stream, &c->weights_src, src, space, 1)},
            {DNNL_ARG_DIFF_DST, operand_read(c->stream, &c->weights_diff_dst, diff_dst, space, 1)},
            {DNNL_ARG_DIFF_WEIGHTS, operand_write(&c->weights_diff_weights, plain, space)},
        };
        int count = 3;
        // The primitive writes the bias gradient whenever it has a bias; it is
        // added to the caller's only when asked for.
        float *bias_sums = (float *)(space + c->diff_bias_offset);
        if (c->has_bias) {
            dnnl_memory_set_data_handle(c->diff_bias_memory, bias_sums);
            args[count++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_BIAS, c->diff_bias_memory};
        }
        if (dnnl_primitive_execute(c->backward_weights, c->stream, count, args) != dnnl_success) return 1;
        operand_written(c->stream, &c->weights_diff_weights);
        if (dnnl_stream_wait(c->stream) != dnnl_success) return 1;
        // oneDNN overwrites; the engine's gradients accumulate.
        for (size_t i = 0; i < c->weight_count; i++) diff_weights[i] += plain[i];
        if (c->has_bias && diff_bias)
            for (int i = 0; i < c->out_channels; i++) diff_bias[i] += bias_sums[i];
    }
    if (diff_src) {
        dnnl_exec_arg_t args[3] = {
            {DNNL_ARG_DIFF_DST, operand_read(c->stream, &c->data_diff_dst, diff_dst, space, !(c->shared_diff_dst && diff_weights))},
            {DNNL_ARG_WEIGHTS, operand_read(c->stream, &c->data_weights, weights, space, 1)},
            {DNNL_ARG_DIFF_SRC, operand_write(&c->data_diff_src, diff_src, space)},
        };
        if (dnnl_primitive_execute(c->backward_data, c->stream, 3, args) != dnnl_success) return 1;
        operand_written(c->stream, &c->data_diff_src);
        if (dnnl_stream_wait(c->stream) != dnnl_success) return 1;
    }
    return 0;
}
