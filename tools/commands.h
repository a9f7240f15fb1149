#pragma once
// The `allot` subcommands. Each Register* adds one subcommand to the app; its callback runs the command and throws
// allot::Error on bad input (main prints it on one line and exits 1).
namespace CLI {
class App;
}

namespace allot::tools {

void RegisterInspect(CLI::App& app);
void RegisterModels(CLI::App& app);  // `models` (list generators) and `gen` (write one as ONNX)
void RegisterBench(CLI::App& app);
void RegisterSimulate(CLI::App& app);  // `clusters` and `simulate`

}  // namespace allot::tools
