// allot: the device-placement optimizer's command line. Every subcommand is registered in tools/commands.h.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "graph/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  // allot builds large transient structures again and again (an IR per model compared, per placement
  // simulated; protobuf messages per import). glibc's defaults hand every freed block over 128 KiB back to the
  // kernel, and each page of the next one faults in again, which costs ~10 us a page on the VMs allot is
  // benchmarked on: repeated imports of NMT-8 spent two thirds of their IR build in page faults. Keep freed
  // memory (up to 256 MiB of it) for reuse instead, and map only blocks over 32 MiB separately.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
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
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line and exit 1, as for every other bad input; the option's value is cut to a readable length.
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    if (what.size() > 200) what = what.substr(0, 200) + "...";
    std::fprintf(stderr, "allot: %s (see --help)\n", what.c_str());
    return 1;
  } catch (const allot::Error& e) {
    std::fprintf(stderr, "allot: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "allot: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
