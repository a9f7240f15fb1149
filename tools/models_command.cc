#include <onnx/onnx_pb.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "graph/error.h"
#include "graph/file_io.h"
#include "models/model_zoo.h"
#include "tools/commands.h"
#include "tools/format.h"
#include "tools/model_loader.h"
#include "tools/option_checks.h"

namespace allot::tools {

void RegisterModels(CLI::App& app) {
  CLI::App* list = app.add_subcommand("models", "List the benchmark model generators (use as gen:NAME,key=value)");
  list->callback([] {
    for (const auto& g : models::ListGenerators()) std::printf("%-14s %s\n", g.name.c_str(), g.description.c_str());
  });

  struct GenArgs {
    std::string spec, out;
  };
  auto args = std::make_shared<GenArgs>();
  CLI::App* gen = app.add_subcommand("gen", "Write a generated benchmark model as an ONNX file");
  gen->add_option("spec", args->spec, "NAME[,layers=L,batch=B,seq=S,hidden=H,vocab=V,weights=0|1,seed=N]")->required();
  gen->add_option("-o,--output", args->out, "output .onnx path")->required()->check(kOutputPath);
  gen->callback([args] {
    std::string spec = args->spec;
    if (spec.rfind("gen:", 0) == 0) spec = spec.substr(4);
    const auto [name, options] = models::ParseModelSpec(spec);
    const onnx::ModelProto model = models::Generate(name, options);
    std::string bytes;
    if (!model.SerializeToString(&bytes)) throw Error(args->out + ": serialization failed (model over 2 GiB?)");
    WriteFileAtomic(args->out, bytes);
    std::printf("wrote %s: %d nodes, %s\n", args->out.c_str(), model.graph().node_size(),
                FormatBytes(static_cast<double>(bytes.size())).c_str());
  });
}

}  // namespace allot::tools
