#pragma once
// Shared by the kernel families (kernels_*.cc); not part of the runtime's interface. Declares every kernel
// function (registered in kernels.cc's table) and the helpers that more than one family needs.
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "runtime/kernels.h"

#define ALLOT_KERNEL(name) std::vector<at::Tensor> name(const KernelContext& ctx)

namespace allot::runtime {

// ---- helpers ---------------------------------------------------------------------------------------------------

using Tensors = std::vector<at::Tensor>;

// The first input, which every kernel that uses this name requires.
inline const at::Tensor& X(const KernelContext& ctx) { return ctx.Required(0); }

// begin, begin + 1, ..., end - 1 (dim lists).
std::vector<int64_t> DimRange(int64_t begin, int64_t end);

// Throws allot::Error("node 'n' (Op): message").
[[noreturn]] void Fail(const KernelContext& ctx, const std::string& message);

// An axis in [-rank, rank) as a non-negative index; out of range is an error naming the node.
int64_t NormalizeAxis(const KernelContext& ctx, int64_t axis, int64_t rank);
std::vector<int64_t> NormalizeAxes(const KernelContext& ctx, const std::vector<int64_t>& axes, int64_t rank);

// Values of a (scalar or 1-D) integer or floating tensor.
std::vector<int64_t> ToInts(const at::Tensor& t);
std::vector<double> ToDoubles(const at::Tensor& t);
int64_t ToInt(const at::Tensor& t);
double ToDouble(const at::Tensor& t);
at::Tensor LongTensor(const std::vector<int64_t>& values);  // 1-D int64

// The axes of ops that moved them from an attribute to input `input` at opset `input_since` (Squeeze,
// Unsqueeze, the Reduce ops); empty when neither is given.
std::vector<int64_t> AxesArgument(const KernelContext& ctx, size_t input, int input_since);

// Before opset 7, binary ops broadcast only with broadcast=1, aligning B's dims with A's from `axis` (default:
// the trailing dims); returns B reshaped so that numpy broadcasting gives that result. Later opsets: B as is.
at::Tensor LegacyBroadcast(const KernelContext& ctx, const at::Tensor& a, const at::Tensor& b);

bool IsFloatingType(const at::Tensor& t);

// Kernel size, strides, dilations and explicit begin/end pads of Conv and the pooling ops, with auto_pad
// (SAME_UPPER/SAME_LOWER/VALID) resolved against the input's spatial sizes.
struct WindowGeometry {
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end;
  bool Symmetric() const { return pad_begin == pad_end; }
  bool Unpadded() const;
};
WindowGeometry ResolveWindow(const KernelContext& ctx, at::IntArrayRef spatial, std::vector<int64_t> kernel);

// Pads (or crops, for negative values) the dims from `first_dim` on with `value`; begin/end per padded dim.
at::Tensor PadDims(const at::Tensor& x, int64_t first_dim, const std::vector<int64_t>& begin,
                   const std::vector<int64_t>& end, const at::Scalar& value);

// ---- kernels: math (kernels_math.cc) ---------------------------------------------------------------------------

ALLOT_KERNEL(Abs); ALLOT_KERNEL(Acos); ALLOT_KERNEL(Acosh); ALLOT_KERNEL(Asin); ALLOT_KERNEL(Asinh);
ALLOT_KERNEL(Atan); ALLOT_KERNEL(Atanh); ALLOT_KERNEL(Ceil); ALLOT_KERNEL(Celu); ALLOT_KERNEL(Cos);
ALLOT_KERNEL(Cosh); ALLOT_KERNEL(Elu); ALLOT_KERNEL(Erf); ALLOT_KERNEL(Exp); ALLOT_KERNEL(Floor);
ALLOT_KERNEL(Gelu); ALLOT_KERNEL(HardSigmoid); ALLOT_KERNEL(HardSwish); ALLOT_KERNEL(IsInf); ALLOT_KERNEL(IsNaN);
ALLOT_KERNEL(LeakyRelu); ALLOT_KERNEL(Log); ALLOT_KERNEL(Mish); ALLOT_KERNEL(Neg); ALLOT_KERNEL(Not);
ALLOT_KERNEL(PRelu); ALLOT_KERNEL(Reciprocal); ALLOT_KERNEL(Relu); ALLOT_KERNEL(Round); ALLOT_KERNEL(Selu);
ALLOT_KERNEL(Shrink); ALLOT_KERNEL(Sigmoid); ALLOT_KERNEL(Sign); ALLOT_KERNEL(Sin); ALLOT_KERNEL(Sinh);
ALLOT_KERNEL(Softplus); ALLOT_KERNEL(Softsign); ALLOT_KERNEL(Sqrt); ALLOT_KERNEL(Tan); ALLOT_KERNEL(Tanh);
ALLOT_KERNEL(ThresholdedRelu);

ALLOT_KERNEL(Add); ALLOT_KERNEL(And); ALLOT_KERNEL(BitShift); ALLOT_KERNEL(Div); ALLOT_KERNEL(Equal);
ALLOT_KERNEL(Greater); ALLOT_KERNEL(GreaterOrEqual); ALLOT_KERNEL(Less); ALLOT_KERNEL(LessOrEqual);
ALLOT_KERNEL(Mod); ALLOT_KERNEL(Mul); ALLOT_KERNEL(Or); ALLOT_KERNEL(Pow); ALLOT_KERNEL(Sub); ALLOT_KERNEL(Xor);
ALLOT_KERNEL(BitwiseAnd); ALLOT_KERNEL(BitwiseNot); ALLOT_KERNEL(BitwiseOr); ALLOT_KERNEL(BitwiseXor);
ALLOT_KERNEL(Where); ALLOT_KERNEL(Max); ALLOT_KERNEL(Min); ALLOT_KERNEL(Sum); ALLOT_KERNEL(Mean);
ALLOT_KERNEL(Clip);

ALLOT_KERNEL(MatMul); ALLOT_KERNEL(Gemm); ALLOT_KERNEL(Einsum); ALLOT_KERNEL(Det); ALLOT_KERNEL(DFT);
ALLOT_KERNEL(BlackmanWindow); ALLOT_KERNEL(HammingWindow); ALLOT_KERNEL(HannWindow);

ALLOT_KERNEL(ReduceL1); ALLOT_KERNEL(ReduceL2); ALLOT_KERNEL(ReduceLogSum); ALLOT_KERNEL(ReduceLogSumExp);
ALLOT_KERNEL(ReduceMax); ALLOT_KERNEL(ReduceMean); ALLOT_KERNEL(ReduceMin); ALLOT_KERNEL(ReduceProd);
ALLOT_KERNEL(ReduceSum); ALLOT_KERNEL(ReduceSumSquare);
ALLOT_KERNEL(ArgMax); ALLOT_KERNEL(ArgMin); ALLOT_KERNEL(TopK); ALLOT_KERNEL(CumSum);
ALLOT_KERNEL(Softmax); ALLOT_KERNEL(LogSoftmax); ALLOT_KERNEL(Hardmax);

// ---- kernels: tensor manipulation (kernels_tensor.cc) ----------------------------------------------------------

ALLOT_KERNEL(Cast); ALLOT_KERNEL(CastLike); ALLOT_KERNEL(Compress); ALLOT_KERNEL(Concat); ALLOT_KERNEL(Constant);
ALLOT_KERNEL(ConstantOfShape); ALLOT_KERNEL(DepthToSpace); ALLOT_KERNEL(Expand); ALLOT_KERNEL(EyeLike);
ALLOT_KERNEL(Flatten); ALLOT_KERNEL(Gather); ALLOT_KERNEL(GatherElements); ALLOT_KERNEL(GatherND);
ALLOT_KERNEL(Identity); ALLOT_KERNEL(NonZero); ALLOT_KERNEL(OneHot); ALLOT_KERNEL(Pad); ALLOT_KERNEL(Range);
ALLOT_KERNEL(Reshape); ALLOT_KERNEL(ReverseSequence); ALLOT_KERNEL(ScatterElements); ALLOT_KERNEL(ScatterND);
ALLOT_KERNEL(Shape); ALLOT_KERNEL(Size); ALLOT_KERNEL(Slice); ALLOT_KERNEL(SpaceToDepth); ALLOT_KERNEL(Split);
ALLOT_KERNEL(Squeeze); ALLOT_KERNEL(Tile); ALLOT_KERNEL(Transpose); ALLOT_KERNEL(Trilu); ALLOT_KERNEL(Unique);
ALLOT_KERNEL(Unsqueeze);

// ---- kernels: neural-network layers (kernels_nn.cc) ------------------------------------------------------------

ALLOT_KERNEL(Conv); ALLOT_KERNEL(ConvTranspose);
ALLOT_KERNEL(AveragePool); ALLOT_KERNEL(MaxPool); ALLOT_KERNEL(LpPool); ALLOT_KERNEL(GlobalAveragePool);
ALLOT_KERNEL(GlobalMaxPool); ALLOT_KERNEL(GlobalLpPool); ALLOT_KERNEL(MaxUnpool);
ALLOT_KERNEL(GridSample); ALLOT_KERNEL(NonMaxSuppression); ALLOT_KERNEL(RoiAlign); ALLOT_KERNEL(LpNormalization);
ALLOT_KERNEL(BatchNormalization); ALLOT_KERNEL(InstanceNormalization); ALLOT_KERNEL(LayerNormalization);
ALLOT_KERNEL(LRN); ALLOT_KERNEL(MeanVarianceNormalization); ALLOT_KERNEL(Dropout);
ALLOT_KERNEL(Resize); ALLOT_KERNEL(Upsample);
ALLOT_KERNEL(NegativeLogLikelihoodLoss); ALLOT_KERNEL(SoftmaxCrossEntropyLoss);

// ---- kernels: quantization (kernels_quant.cc) ------------------------------------------------------------------

ALLOT_KERNEL(ConvInteger); ALLOT_KERNEL(DequantizeLinear); ALLOT_KERNEL(DynamicQuantizeLinear);
ALLOT_KERNEL(MatMulInteger); ALLOT_KERNEL(QLinearConv); ALLOT_KERNEL(QLinearMatMul); ALLOT_KERNEL(QuantizeLinear);

// ---- kernels: recurrent layers (kernels_rnn.cc) ----------------------------------------------------------------

ALLOT_KERNEL(GRU); ALLOT_KERNEL(LSTM); ALLOT_KERNEL(RNN);

// ---- kernels: control flow (kernels_control_flow.cc) -----------------------------------------------------------

ALLOT_KERNEL(If); ALLOT_KERNEL(Loop); ALLOT_KERNEL(Scan);

}  // namespace allot::runtime
