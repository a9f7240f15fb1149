// RNN, GRU and LSTM: one time loop shared by the three, with ONNX's gate orders (GRU z-r-h, LSTM i-o-f-c),
// activations, clip, sequence_lens, initial states, directions and both layouts.
#include <algorithm>
#include <cctype>

#include "runtime/kernels_common.h"

namespace allot::runtime {
namespace {

enum class Cell { kRnn, kGru, kLstm };

struct Activation {
  std::string name;  // lower case
  double alpha = 0, beta = 0;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// activation_alpha/beta are consumed in order by the activations that take them, each with its own default.
std::vector<Activation> ParseActivations(const KernelContext& ctx, const std::vector<std::string>& names) {
  const std::vector<float> alphas = ctx.Floats("activation_alpha"), betas = ctx.Floats("activation_beta");
  size_t next_alpha = 0, next_beta = 0;
  auto take = [](const std::vector<float>& v, size_t& next, double fallback) {
    return next < v.size() ? static_cast<double>(v[next++]) : fallback;
  };
  std::vector<Activation> out;
  for (const std::string& raw : names) {
    Activation a{Lower(raw)};
    if (a.name == "leakyrelu") a.alpha = take(alphas, next_alpha, 0.01);
    else if (a.name == "thresholdedrelu" || a.name == "elu") a.alpha = take(alphas, next_alpha, 1.0);
    else if (a.name == "affine" || a.name == "scaledtanh" || a.name == "hardsigmoid") {
      const bool hard = a.name == "hardsigmoid";
      a.alpha = take(alphas, next_alpha, hard ? 0.2 : 1.0);
      a.beta = take(betas, next_beta, hard ? 0.5 : a.name == "affine" ? 0.0 : 1.0);
    } else if (a.name != "relu" && a.name != "tanh" && a.name != "sigmoid" && a.name != "softsign" &&
               a.name != "softplus") {
      Fail(ctx, "unknown activation '" + raw + "'");
    }
    out.push_back(a);
  }
  return out;
}

at::Tensor Apply(const Activation& a, const at::Tensor& x) {
  const std::string& n = a.name;
  if (n == "sigmoid") return at::sigmoid(x);
  if (n == "tanh") return at::tanh(x);
  if (n == "relu") return at::relu(x);
  if (n == "leakyrelu") return at::leaky_relu(x, a.alpha);
  if (n == "thresholdedrelu") return at::where(x > a.alpha, x, at::zeros_like(x));
  if (n == "elu") return at::elu(x, a.alpha);
  if (n == "affine") return x * a.alpha + a.beta;
  if (n == "scaledtanh") return at::tanh(x * a.beta) * a.alpha;
  if (n == "hardsigmoid") return at::clamp(x * a.alpha + a.beta, 0, 1);
  if (n == "softsign") return x / (at::abs(x) + 1);
  return at::softplus(x);  // "softplus"; names are checked by ParseActivations
}

struct CellParams {
  Cell cell;
  int64_t hidden;
  double clip;  // <= 0: none
  const Activation* act;  // f, g, h of this direction
  at::Tensor r, rb, peephole;  // R[dir]^T split by callers as needed, R's bias, LSTM's P[dir]
  bool linear_before_reset, input_forget;
};

at::Tensor Clipped(const CellParams& p, const at::Tensor& x) { return p.clip > 0 ? at::clamp(x, -p.clip, p.clip) : x; }

// One step: x_part is X_t W^T + Wb for this direction; h and c are the previous states. Returns (H_t, C_t).
std::pair<at::Tensor, at::Tensor> Step(const CellParams& p, const at::Tensor& x_part, const at::Tensor& h,
                                       const at::Tensor& c) {
  const int64_t n = p.hidden;
  switch (p.cell) {
    case Cell::kRnn:
      return {Apply(p.act[0], Clipped(p, x_part + at::matmul(h, p.r) + p.rb)), c};
    case Cell::kGru: {
      at::Tensor hz_hr = at::matmul(h, p.r.narrow(1, 0, 2 * n)) + p.rb.narrow(0, 0, 2 * n);
      at::Tensor z = Apply(p.act[0], Clipped(p, x_part.narrow(1, 0, n) + hz_hr.narrow(1, 0, n)));
      at::Tensor r = Apply(p.act[0], Clipped(p, x_part.narrow(1, n, n) + hz_hr.narrow(1, n, n)));
      at::Tensor rh = p.r.narrow(1, 2 * n, n), rbh = p.rb.narrow(0, 2 * n, n);
      at::Tensor recurrent = p.linear_before_reset ? r * (at::matmul(h, rh) + rbh) : at::matmul(r * h, rh) + rbh;
      at::Tensor candidate = Apply(p.act[1], Clipped(p, x_part.narrow(1, 2 * n, n) + recurrent));
      return {(1 - z) * candidate + z * h, c};
    }
    case Cell::kLstm: {
      at::Tensor g = x_part + at::matmul(h, p.r) + p.rb;  // i, o, f, c
      at::Tensor gi = g.narrow(1, 0, n), go = g.narrow(1, n, n), gf = g.narrow(1, 2 * n, n), gc = g.narrow(1, 3 * n, n);
      if (p.peephole.defined()) {
        gi = gi + p.peephole.narrow(0, 0, n) * c;
        gf = gf + p.peephole.narrow(0, 2 * n, n) * c;
      }
      at::Tensor i = Apply(p.act[0], Clipped(p, gi));
      at::Tensor f = p.input_forget ? 1 - i : Apply(p.act[0], Clipped(p, gf));
      at::Tensor c_new = f * c + i * Apply(p.act[1], Clipped(p, gc));
      if (p.peephole.defined()) go = go + p.peephole.narrow(0, n, n) * c_new;
      at::Tensor o = Apply(p.act[0], Clipped(p, go));
      return {o * Apply(p.act[2], c_new), c_new};
    }
  }
  return {h, c};
}

Tensors Recurrent(const KernelContext& ctx, Cell cell) {
  const int gates = cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 3 : 4;
  const size_t per_direction = cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 2 : 3;
  const bool batch_first = ctx.Int("layout", 0) != 0;
  auto time_major = [batch_first](const at::Tensor& t) { return batch_first && t.defined() ? t.transpose(0, 1) : t; };
  const at::Tensor x = time_major(ctx.Required(0));
  const at::Tensor& w = ctx.Required(1);
  const at::Tensor& r = ctx.Required(2);
  const at::Tensor& bias = ctx.Input(3);
  const at::Tensor& lens = ctx.Input(4);
  const at::Tensor h0 = time_major(ctx.Input(5));
  const at::Tensor c0 = cell == Cell::kLstm ? time_major(ctx.Input(6)) : at::Tensor();
  const at::Tensor& peephole = cell == Cell::kLstm ? ctx.Input(7) : at::Tensor();

  const std::string direction = ctx.String("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    Fail(ctx, "unknown direction '" + direction + "'");
  const int64_t directions = direction == "bidirectional" ? 2 : 1;
  const int64_t hidden = ctx.Int("hidden_size", r.size(-1));
  const int64_t steps = x.size(0), batch = x.size(1);

  std::vector<std::string> names = ctx.Strings("activations");
  if (names.empty()) {
    const std::vector<std::string> defaults =
        cell == Cell::kRnn ? std::vector<std::string>{"Tanh"}
        : cell == Cell::kGru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                             : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
    for (int64_t d = 0; d < directions; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  }
  const std::vector<Activation> activations = ParseActivations(ctx, names);
  if (activations.size() < per_direction * directions) Fail(ctx, "too few activations");

  // Steps at or past a sequence's length keep its state and output zeros.
  at::Tensor valid_until = lens.defined() ? lens.to(at::kLong).reshape({batch, 1}) : at::Tensor();
  const auto opts = x.options();
  Tensors y_directions, h_final, c_final;
  for (int64_t d = 0; d < directions; ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    at::Tensor b = bias.defined() ? bias[d] : at::zeros({2 * gates * hidden}, opts);
    CellParams p{cell, hidden, ctx.HasAttr("clip") ? ctx.Float("clip", 0) : 0.0, &activations[per_direction * d],
                 r[d].t(), b.narrow(0, gates * hidden, gates * hidden),
                 peephole.defined() ? peephole[d] : at::Tensor(), ctx.Int("linear_before_reset", 0) != 0,
                 ctx.Int("input_forget", 0) != 0};
    at::Tensor x_parts = at::matmul(x, w[d].t()) + b.narrow(0, 0, gates * hidden);  // all steps at once
    at::Tensor h = h0.defined() ? h0[d] : at::zeros({batch, hidden}, opts);
    at::Tensor c = c0.defined() ? c0[d] : at::zeros({batch, hidden}, opts);
    Tensors outputs(static_cast<size_t>(steps));
    for (int64_t s = 0; s < steps; ++s) {
      const int64_t t = reverse ? steps - 1 - s : s;
      auto [h_new, c_new] = Step(p, x_parts[t], h, c);
      if (valid_until.defined()) {
        at::Tensor live = valid_until > t;
        h_new = at::where(live, h_new, h);
        c_new = at::where(live, c_new, c);
        outputs[t] = at::where(live, h_new, at::zeros_like(h_new));
      } else {
        outputs[t] = h_new;
      }
      h = h_new;
      c = c_new;
    }
    y_directions.push_back(steps > 0 ? at::stack(outputs) : at::zeros({0, batch, hidden}, opts));
    h_final.push_back(h);
    c_final.push_back(c);
  }
  at::Tensor y = at::stack(y_directions, 1);  // [steps, directions, batch, hidden]
  at::Tensor y_h = at::stack(h_final), y_c = at::stack(c_final);
  if (batch_first) {
    y = y.permute({2, 0, 1, 3});
    y_h = y_h.transpose(0, 1);
    y_c = y_c.transpose(0, 1);
  }
  if (cell == Cell::kLstm) return {y, y_h, y_c};
  return {y, y_h};
}

}  // namespace

ALLOT_KERNEL(RNN) { return Recurrent(ctx, Cell::kRnn); }
ALLOT_KERNEL(GRU) { return Recurrent(ctx, Cell::kGru); }
ALLOT_KERNEL(LSTM) { return Recurrent(ctx, Cell::kLstm); }

}  // namespace allot::runtime
