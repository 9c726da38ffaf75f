// One time step of a layer of integrate-and-fire neurons in a single pass over the feature map.
//
// Built on first use by spkeras/simulate/fused.py (TensorFlow's custom-op API: tf.sysconfig flags,
// tf.load_op_library). It computes exactly what the stock IntegrateAndFire.step does with TensorFlow's
// elementwise ops, with the same float operations (one add, one compare, one subtract per neuron), so
// potentials and outputs are bit-identical; only the number of passes over memory changes (one instead of
// five) and the spike count is summed exactly in integers.
//
//   p      = potential + current                      (charge)
//   spike  = p >= threshold                            (fire; threshold per layer or per last-axis channel)
//   new    = soft reset: p - (spike ? threshold : 0)   hard reset: spike ? 0 : p
//   output = spike ? (emit_threshold ? threshold : 1) : 0
//   count  = number of spikes (a float scalar, like reduce_sum of the spikes)

#include <atomic>
#include <cstdint>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;

REGISTER_OP("SpkerasIntegrateAndFireStep")
    .Input("potential: float")
    .Input("current: float")
    .Input("threshold: float")
    .Attr("soft_reset: bool")
    .Attr("emit_threshold: bool")
    .Output("new_potential: float")
    .Output("output: float")
    .Output("count: float")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* context) {
      context->set_output(0, context->input(0));
      context->set_output(1, context->input(0));
      context->set_output(2, context->Scalar());
      return absl::OkStatus();
    });

// Steps `length` neurons that share the thresholds `threshold[0..channels)` cyclically (channels divides the
// block). Returns the number of spikes. Same-index aliasing of outputs and inputs is allowed (forwarded buffers).
template <bool kSoft, bool kEmitThreshold>
int64_t StepBlock(const float* potential, const float* current, const float* threshold, int64_t channels,
                  int64_t length, float* new_potential, float* output) {
  int64_t spikes = 0;
  for (int64_t start = 0; start < length; start += channels) {
    const float* v = potential + start;
    const float* i = current + start;
    float* w = new_potential + start;
    float* o = output + start;
    int32_t block_spikes = 0;
#pragma GCC ivdep
    for (int64_t c = 0; c < channels; ++c) {
      const float p = v[c] + i[c];
      const float theta = threshold[c];
      const bool spike = p >= theta;
      const float scaled = spike ? theta : 0.0f;
      w[c] = kSoft ? p - scaled : (spike ? 0.0f : p);
      o[c] = kEmitThreshold ? scaled : (spike ? 1.0f : 0.0f);
      block_spikes += spike ? 1 : 0;
    }
    spikes += block_spikes;
  }
  return spikes;
}

class IntegrateAndFireStepOp : public OpKernel {
 public:
  explicit IntegrateAndFireStepOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("soft_reset", &soft_reset_));
    OP_REQUIRES_OK(context, context->GetAttr("emit_threshold", &emit_threshold_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& potential = context->input(0);
    const Tensor& current = context->input(1);
    const Tensor& threshold = context->input(2);
    OP_REQUIRES(context, potential.shape() == current.shape(),
                absl::InvalidArgumentError("potential and current must have the same shape."));
    const int64_t size = potential.NumElements();
    const int64_t channels = threshold.NumElements();
    const int64_t last = potential.dims() > 0 ? potential.dim_size(potential.dims() - 1) : 1;
    OP_REQUIRES(context, threshold.dims() <= 1 && (channels == 1 || channels == last),
                absl::InvalidArgumentError("threshold must be a scalar or hold one value per channel."));
    Tensor* new_potential = nullptr;
    OP_REQUIRES_OK(context, context->forward_input_or_allocate_output({0}, 0, potential.shape(), &new_potential));
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->forward_input_or_allocate_output({1}, 1, potential.shape(), &output));
    Tensor* count = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({}), &count));

    // A scalar threshold is repeated over a block of 64 so that the inner loop stays vectorised.
    constexpr int64_t kBlock = 64;
    float repeated[kBlock];
    const float* thresholds = threshold.flat<float>().data();
    int64_t width = channels;
    if (channels == 1) {
      for (float& value : repeated) value = thresholds[0];
      thresholds = repeated;
      width = kBlock;
    }
    const int64_t rows = size / width;  // whole blocks; the tail (scalar threshold only) is done at the end
    const float* v = potential.flat<float>().data();
    const float* i = current.flat<float>().data();
    float* w = new_potential->flat<float>().data();
    float* o = output->flat<float>().data();
    const bool soft = soft_reset_, emit = emit_threshold_;
    auto block = [&](int64_t offset, int64_t length, const float* theta, int64_t period) -> int64_t {
      if (soft && emit) return StepBlock<true, true>(v + offset, i + offset, theta, period, length, w + offset, o + offset);
      if (soft) return StepBlock<true, false>(v + offset, i + offset, theta, period, length, w + offset, o + offset);
      if (emit) return StepBlock<false, true>(v + offset, i + offset, theta, period, length, w + offset, o + offset);
      return StepBlock<false, false>(v + offset, i + offset, theta, period, length, w + offset, o + offset);
    };
    std::atomic<int64_t> total{0};
    auto work = [&](int64_t begin, int64_t end) {
      total += block(begin * width, (end - begin) * width, thresholds, width);
    };
    auto* workers = context->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, rows, 8 * width, work);
    const int64_t tail = size - rows * width;
    if (tail > 0) total += block(rows * width, tail, thresholds, tail);
    count->scalar<float>()() = static_cast<float>(total.load());
  }

 private:
  bool soft_reset_ = true;
  bool emit_threshold_ = false;
};

REGISTER_KERNEL_BUILDER(Name("SpkerasIntegrateAndFireStep").Device(tensorflow::DEVICE_CPU), IntegrateAndFireStepOp);

}  // namespace
