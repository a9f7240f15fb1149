// `allot export`: a placement as an annotated ONNX model, as per-device ONNX submodels with a manifest, or as the
// simulated schedule's Chrome trace.
#include <onnx/onnx_pb.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cost_model/cost_graph.h"
#include "cost_model/placement.h"
#include "cost_model/simulator.h"
#include "cost_model/trace.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/onnx_export.h"
#include "graph/onnx_import.h"
#include "models/model_zoo.h"
#include "tools/cluster_args.h"
#include "tools/commands.h"
#include "tools/placement_args.h"
#include "tools/simulation_report.h"
#include "tools/option_checks.h"

namespace allot::tools {
namespace {

namespace fs = std::filesystem;

struct ExportArgs {
  ModelArgs model;
  ClusterArgs cluster;
  std::string placement, format = "onnx", out, order = "fifo";
};

// The ModelProto behind MODEL, made the way LoadModel makes it (before binding and shape inference).
onnx::ModelProto LoadModelProto(const ModelArgs& args) {
  if (args.model.rfind("gen:", 0) == 0) {
    auto [name, model_options] = models::ParseModelSpec(args.model.substr(4));
    if (args.batch > 0 && model_options.batch == 0) model_options.batch = args.batch;
    if (args.seq > 0 && model_options.seq == 0) model_options.seq = args.seq;
    return models::Generate(name, model_options);
  }
  return ReadModelProto(args.model);
}

std::string Serialize(const onnx::ModelProto& model, const std::string& what) {
  std::string bytes;
  if (model.ByteSizeLong() > static_cast<size_t>(INT_MAX) || !model.SerializeToString(&bytes))
    throw Error(what + ": the model is larger than protobuf's 2 GiB limit");
  return bytes;
}

void WriteBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path.string() + ": cannot write");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw Error(path.string() + ": write failed");
}

// Writes `files` as directory `dir`, all or nothing: into a fresh "<dir>.tmp-XXXXXX" next to it, renamed to `dir`
// at the end. An earlier export there (a directory with a manifest.json, or an empty one) is replaced; anything
// else at `dir` is an error.
void WriteDirectoryAtomic(std::string dir, const std::vector<std::pair<std::string, std::string>>& files) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const fs::path target(dir);
  std::error_code ec;
  const bool exists = fs::exists(fs::symlink_status(target, ec));
  if (exists) {
    if (!fs::is_directory(target, ec)) throw Error(dir + ": exists and is not a directory");
    if (!fs::is_empty(target, ec) && !fs::exists(target / "manifest.json", ec))
      throw Error(dir + ": exists and is not an allot export (no manifest.json); remove it or choose another path");
  }
  std::string pattern = dir + ".tmp-XXXXXX";
  if (!mkdtemp(pattern.data()))
    throw Error(dir + ": cannot create a temporary directory next to it: " + std::strerror(errno));
  const fs::path tmp(pattern);
  try {
    for (const auto& [name, bytes] : files) WriteBytes(tmp / name, bytes);
    if (!exists) {
      fs::rename(tmp, target, ec);
      if (ec) throw Error(dir + ": cannot rename the temporary directory: " + ec.message());
      return;
    }
    std::string old_pattern = dir + ".old-XXXXXX";
    if (!mkdtemp(old_pattern.data()))
      throw Error(dir + ": cannot create a temporary directory next to it: " + std::strerror(errno));
    const fs::path old(old_pattern);
    fs::rename(target, old, ec);  // onto the empty directory just made
    if (ec) {
      fs::remove(old, ec);
      throw Error(dir + ": cannot move the earlier export aside: " + ec.message());
    }
    fs::rename(tmp, target, ec);
    if (ec) {
      const std::string message = ec.message();
      fs::rename(old, target, ec);
      throw Error(dir + ": cannot rename the temporary directory: " + message);
    }
    fs::remove_all(old, ec);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

// Initializers stored as external data keep their "location", relative to the model's directory: say so when the
// output lands elsewhere (the data files are not copied).
void WarnAboutExternalData(const onnx::ModelProto& model, const std::string& source, const std::string& out,
                           bool out_is_directory) {
  if (source.rfind("gen:", 0) == 0) return;
  size_t external = 0;
  for (const auto& init : model.graph().initializer())
    external += init.data_location() == onnx::TensorProto::EXTERNAL;
  if (external == 0) return;
  std::error_code ec;
  const fs::path model_dir = fs::absolute(fs::path(source).parent_path(), ec);
  fs::path out_dir = fs::absolute(out_is_directory ? fs::path(out) : fs::path(out).parent_path(), ec);
  if (fs::weakly_canonical(model_dir, ec) == fs::weakly_canonical(out_dir, ec)) return;
  std::cerr << "allot: note: " << external << " initializers of " << source
            << " are external data; their files are referenced relative to the output and are not copied (copy "
               "them from "
            << model_dir.string() << ")\n";
}

void RunExport(const ExportArgs& args) {
  // What the placement file says it was made for stands in for options not given.
  const std::string text = ReadFile(args.placement);
  ModelArgs model_args = args.model;
  ClusterArgs cluster_args = args.cluster;
  TakePlacementContext(args.placement, model_args, &cluster_args.cluster, cluster_args.cluster_option);
  if (args.format != "trace" && LooksLikeCostGraph(model_args.model))
    throw Error(model_args.model + ": --format " + args.format +
                " needs an ONNX model or gen:SPEC; a cost graph has no ONNX to export (use --format trace)");

  CostedModel m = LoadCostedModel(model_args, cluster_args);
  const Graph& graph = m.model.graph;
  const std::vector<DeviceId> placement = ParsePlacementJson(text, args.placement, graph, m.cluster);

  if (args.format == "trace") {
    SimOptions options;
    options.order = ParseDispatchOrder(args.order);
    options.record_schedule = true;
    Simulator sim(graph, m.cluster, m.costs, options);
    const SimResult& r = sim.Run(placement);
    WriteFileAtomic(args.out, ChromeTrace(graph, m.cluster, r));
    std::cout << "wrote " << args.out << " (" << r.ops.size() << " ops, " << r.transfers.size()
              << " transfers, step " << r.step_time * 1e3 << " ms)\n";
    return;
  }

  // ONNX formats: forward node i of the graph is node i of the ONNX main graph; other forward nodes (a training
  // graph's loss) and the gradient and update ops have no ONNX node.
  onnx::ModelProto proto = LoadModelProto(model_args);
  const size_t n = static_cast<size_t>(proto.graph().node_size());
  const std::vector<std::string> names = OnnxNodeNames(proto.graph());
  if (graph.num_nodes() < n) throw Error(model_args.model + ": the model changed while it was being exported");
  std::vector<std::string> devices(n);
  for (size_t i = 0; i < n; ++i) {
    const Node& node = graph.node(static_cast<NodeId>(i));
    if (node.role != NodeRole::kForward || node.name != names[i])
      throw Error(model_args.model + ": node " + std::to_string(i) + " is '" + names[i] + "' in the ONNX graph but '" +
                  std::string(node.name) + "' in the imported graph");
    devices[i] = m.cluster.device(placement[i]).name;
  }

  WarnAboutExternalData(proto, model_args.model, args.out, args.format == "submodels");

  if (args.format == "onnx") {
    PlacementAnnotation info;
    info.graph_hash = graph.hash_hex();
    info.cluster = cluster_args.cluster;
    info.mode = model_args.mode;
    if (model_args.mode == "training") info.optimizer = model_args.optimizer;
    if (const DimBindings b = ParseBindings(model_args); !b.empty()) info.bindings = BindingsToJson(b);
    for (NodeId v = static_cast<NodeId>(n); v < graph.num_nodes(); ++v)
      if (graph.node(v).role == NodeRole::kForward)
        info.extra_nodes.emplace_back(graph.node(v).name, m.cluster.device(placement[v]).name);
    AnnotateModel(proto, devices, info);
    WriteFileAtomic(args.out, Serialize(proto, args.out));
    std::cout << "wrote " << args.out << " (" << n << " nodes annotated)\n";
    return;
  }

  SplitOptions options;
  options.check = !model_args.no_check;
  options.tensor_bytes = [&graph](const std::string& name) -> uint64_t {
    const TensorId t = graph.FindTensor(name);
    return t == kNone ? 0 : graph.tensor(t).bytes;
  };
  SplitModelResult split;
  try {
    split = SplitModel(proto, devices, options);
  } catch (const Error& e) {
    throw Error(model_args.model + ": " + e.what());
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (const Submodel& sub : split.submodels) files.emplace_back(sub.file, Serialize(sub.model, sub.file));
  files.emplace_back("manifest.json", split.manifest);
  WriteDirectoryAtomic(args.out, files);
  std::cout << "wrote " << args.out << "/ (" << split.submodels.size() << " submodels, " << split.transfers.size()
            << " transfers)\n";
}

}  // namespace

void RegisterExport(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Export a placement: the ONNX model annotated with it (onnx), one ONNX model per device with a manifest "
      "(submodels), or the simulated schedule (trace). For training-mode placements, onnx and submodels export "
      "the forward ops only (the ONNX model has no backward ops; gradient and update ops run with their forward "
      "op).");
  cmd->add_option("placement", args->placement, "placement JSON (from `allot place`)")->required();
  AddModelOptions(*cmd, args->model, /*model_option=*/true);
  AddClusterOptions(*cmd, args->cluster);
  cmd->add_option("--format", args->format,
                  "onnx: the model with each node's device (metadata_props \"allot.placement\" and doc_string "
                  "\"allot.device=\" lines); submodels: directory OUT with one ONNX model per device (per stage "
                  "when the placement goes back and forth) and manifest.json; trace: Chrome/Perfetto trace JSON")
      ->check(CLI::IsMember({"onnx", "submodels", "trace"}));
  cmd->add_option("--order", args->order, "trace: ready-op dispatch, fifo or critical-path")
      ->check(CLI::IsMember({"fifo", "critical-path"}));
  cmd->add_option("-o,--output", args->out, "output file (onnx, trace) or directory (submodels); written atomically")
      ->required()
      ->check(kOutputPath);
  cmd->callback([args] { RunExport(*args); });
}

}  // namespace allot::tools
