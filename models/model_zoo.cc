#include "models/model_zoo.h"

#include <charconv>
#include <limits>
#include <set>
#include <sstream>
#include <type_traits>

#include "graph/error.h"
#include "models/generators.h"

namespace allot::models {
namespace {

// Which sizes a generator reads; weights and seed apply to all of them.
enum OptionBit : unsigned { kBatch = 1, kSeq = 2, kLayers = 4, kHidden = 8, kVocab = 16 };
constexpr unsigned kSequenceModel = kBatch | kSeq | kLayers | kHidden | kVocab;

struct Entry {
  GeneratorInfo info;
  onnx::ModelProto (*generate)(const ModelOptions&);
  unsigned accepted;
};

const std::vector<Entry>& Registry() {
  static const std::vector<Entry> registry = {
      {{"inception_v3",
        "Inception-V3 (Szegedy 2016, torchvision layout without the aux head): 299x299 images, Conv+BN+Relu units, "
        "mixed blocks 5b-7c, 1000 classes; options batch (32)"},
       detail::GenerateInceptionV3, kBatch},
      {{"resnet50",
        "ResNet v1.5 with bottleneck blocks: 224x224 images, 1000 classes; options batch (32), layers 50/101/152 (50)"},
       detail::GenerateResNet, kBatch | kLayers},
      {{"rnnlm",
        "LSTM language model (Zaremba 2014 / Jozefowicz 2016 style) unrolled into 13-op LSTM cells, LogSoftmax per "
        "step; options batch (64), seq (20), layers (2), hidden (2048), vocab (32000)"},
       detail::GenerateRnnLm, kSequenceModel},
      {{"nmt",
        "attentional LSTM encoder-decoder (GNMT-like: bidirectional bottom encoder layer, residuals from layer 3, "
        "Luong attention with input feeding), unrolled; options batch (64), seq (40, source and target), "
        "layers (4 encoder + 4 decoder), hidden (1024), vocab (32000)"},
       detail::GenerateNmt, kSequenceModel},
      {{"transformer",
        "Transformer base (Vaswani 2017): post-LN encoder-decoder, 64-wide heads, FFN 4*d_model, shared embedding; "
        "options batch (32), seq (128, source and target), layers (6 + 6), hidden (d_model 512), vocab (32000)"},
       detail::GenerateTransformer, kSequenceModel},
      {{"gpt2",
        "GPT-2 small-like decoder: pre-LN blocks, causal mask, erf GELU, tied LM head; options batch (8), seq (1024), "
        "layers (12), hidden (768), vocab (50257)"},
       detail::GenerateGpt2, kSequenceModel},
      {{"mlp", "tiny MLP for tests: Gemm+Relu layers on 784 inputs, 10 classes; options batch (32), layers (2), hidden (256)"},
       detail::GenerateMlp, kBatch | kLayers | kHidden},
      {{"chain", "a linear chain of cheap unary ops; options layers (= node count, 1000), batch (1), hidden (64)"},
       detail::GenerateChain, kBatch | kLayers | kHidden},
      {{"synthetic",
        "a deep random DAG of cheap ops (elementwise, with a MatMul every ~10 ops), seeded by seed; options layers "
        "(= node count, 1000; e.g. 100000 for the import benchmark), batch (1), hidden (64)"},
       detail::GenerateSynthetic, kBatch | kLayers | kHidden},
      {{"nas_cnn",
        "a CNN sampled from the ENAS micro search space (Pham 2018), seed selects the architecture: 32x32 images, "
        "ConvBn stem, 3 stages of normal cells split by 2 stride-2 reduction cells (channels doubled), 5-node cells "
        "of sep_conv 3x3/5x5, avg/max pool 3x3 and identity, 10 classes; options batch (32), layers (normal cells "
        "per stage, 2), hidden (initial channels, 20)"},
       detail::GenerateNasCnn, kBatch | kLayers | kHidden},
      {{"nas_rnn",
        "a language model with a recurrent cell sampled from the ENAS search space (Pham 2018), seed selects the "
        "architecture: 8-node cell (tanh/relu/identity/sigmoid over a random DAG, mean of loose ends) unrolled, "
        "LogSoftmax per step; options batch (64), seq (35), layers (1), hidden (200), vocab (10000)"},
       detail::GenerateNasRnn, kSequenceModel},
  };
  return registry;
}

std::string KnownNames() {
  std::string names;
  for (const Entry& e : Registry()) names += (names.empty() ? "" : ", ") + e.info.name;
  return names;
}

const Entry& FindEntry(const std::string& name) {
  for (const Entry& e : Registry()) {
    if (e.info.name == name) return e;
  }
  throw Error("unknown model generator '" + name + "' (known: " + KnownNames() + ")");
}

std::string Trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const auto end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

// The largest size a spec may give: products of sizes (batch x seq x hidden) must stay far inside int64.
constexpr int64_t kMaxSize = 1 << 20;

template <typename T>
bool ParseUnsigned(const std::string& text, T* out) {
  if (text.empty()) return false;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, *out);
  if (ec != std::errc() || ptr != last) return false;
  if constexpr (std::is_signed_v<T>) return *out >= 0;
  return true;
}

}  // namespace

namespace detail {

std::string DescribeModel(const std::string& generator, const ModelOptions& options,
                          std::initializer_list<std::pair<const char*, int64_t>> sizes) {
  std::ostringstream out;
  out << "allot model generator '" << generator << "':";
  for (const auto& [key, value] : sizes) out << ' ' << key << '=' << value;
  out << " weights=" << (options.weights ? 1 : 0) << " seed=" << options.seed;
  return out.str();
}

}  // namespace detail

const std::vector<GeneratorInfo>& ListGenerators() {
  static const std::vector<GeneratorInfo> infos = [] {
    std::vector<GeneratorInfo> result;
    for (const Entry& e : Registry()) result.push_back(e.info);
    return result;
  }();
  return infos;
}

onnx::ModelProto Generate(const std::string& name, const ModelOptions& options) {
  const Entry& entry = FindEntry(name);
  const std::pair<const char*, std::pair<unsigned, int64_t>> sizes[] = {
      {"batch", {kBatch, options.batch}},   {"seq", {kSeq, options.seq}},       {"layers", {kLayers, options.layers}},
      {"hidden", {kHidden, options.hidden}}, {"vocab", {kVocab, options.vocab}},
  };
  for (const auto& [key, bit_value] : sizes) {
    const auto [bit, value] = bit_value;
    if (value < 0) {
      throw Error("model generator '" + name + "': option " + key + "=" + std::to_string(value) + " is negative");
    }
    if (value != 0 && (entry.accepted & bit) == 0) {
      throw Error("model generator '" + name + "' does not take option '" + key + "'");
    }
  }
  return entry.generate(options);
}

std::pair<std::string, ModelOptions> ParseModelSpec(const std::string& spec) {
  const std::string context = "model spec '" + spec + "'";
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(spec);
  while (std::getline(in, part, ',')) parts.push_back(Trim(part));
  if (!spec.empty() && spec.back() == ',') parts.push_back("");
  if (parts.empty() || parts[0].empty()) throw Error(context + ": missing the generator name");

  std::pair<std::string, ModelOptions> result;
  result.first = parts[0];
  FindEntry(result.first);  // fail early, with the list of known names
  ModelOptions& options = result.second;
  std::set<std::string> seen;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& item = parts[i];
    const auto eq = item.find('=');
    if (item.empty()) throw Error(context + ": empty option");
    if (eq == std::string::npos) throw Error(context + ": option '" + item + "' is not key=value");
    const std::string key = Trim(item.substr(0, eq));
    const std::string value = Trim(item.substr(eq + 1));
    if (!seen.insert(key).second) throw Error(context + ": option '" + key + "' given twice");
    auto bad_value = [&](const std::string& expected) {
      return Error(context + ": bad value '" + value + "' for '" + key + "' (expected " + expected + ")");
    };
    if (key == "weights") {
      if (value == "1" || value == "true") {
        options.weights = true;
      } else if (value == "0" || value == "false") {
        options.weights = false;
      } else {
        throw bad_value("0, 1, true or false");
      }
    } else if (key == "seed") {
      if (!ParseUnsigned(value, &options.seed)) throw bad_value("a non-negative integer");
    } else if (key == "layers") {
      // 0 stands for "the generator's default" inside ModelOptions: written out, it is a mistake.
      if (!ParseUnsigned(value, &options.layers) || options.layers < 1 || options.layers > kMaxSize)
        throw bad_value("an integer from 1 to " + std::to_string(kMaxSize));
    } else if (key == "batch" || key == "seq" || key == "hidden" || key == "vocab") {
      int64_t parsed = 0;
      if (!ParseUnsigned(value, &parsed) || parsed < 1 || parsed > kMaxSize)
        throw bad_value("an integer from 1 to " + std::to_string(kMaxSize));
      (key == "batch" ? options.batch : key == "seq" ? options.seq : key == "hidden" ? options.hidden : options.vocab) =
          parsed;
    } else {
      throw Error(context + ": unknown option '" + key + "' (known: batch, seq, layers, hidden, vocab, weights, seed)");
    }
  }
  return result;
}

}  // namespace allot::models
