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
void RegisterRuntimeBench(CLI::App& bench);  // `bench fidelity` and `bench overhead` (called by RegisterBench)
void RegisterSimulate(CLI::App& app);  // `clusters` and `simulate`
void RegisterPlace(CLI::App& app);     // `placers` and `place`
void RegisterExport(CLI::App& app);    // `export` (annotated ONNX, per-device submodels, trace)
void RegisterRun(CLI::App& app);       // `run` and `profile`
void RegisterCompare(CLI::App& app);   // `compare`: every placer on every model, one report
void RegisterTrain(CLI::App& app);     // `train`: a learned placer's policy, with checkpoints (rl/)

}  // namespace allot::tools
