// allot: the device-placement optimizer's command line. Every subcommand is registered in tools/commands.h.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "graph/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"allot: device placement for neural networks (ONNX in, placements out)"};
  app.require_subcommand(1);
  allot::tools::RegisterInspect(app);
  allot::tools::RegisterModels(app);
  allot::tools::RegisterSimulate(app);
  allot::tools::RegisterPlace(app);
  allot::tools::RegisterRun(app);
  allot::tools::RegisterCompare(app);
  allot::tools::RegisterTrain(app);
  allot::tools::RegisterBench(app);
  allot::tools::RegisterExport(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const allot::Error& e) {
    std::fprintf(stderr, "allot: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "allot: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
