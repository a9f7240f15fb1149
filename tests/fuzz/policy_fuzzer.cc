// libFuzzer targets for what `allot place --policy DIR` and `allot train --resume` read back: a policy folder
// (ALLOT_FUZZ_CHECKPOINT 0: the bytes are policy.json, a NUL, then policy.pt; without a NUL, policy.json beside a
// valid policy.pt) decoded through the registered seq2seq placer, or a training checkpoint (ALLOT_FUZZ_CHECKPOINT
// 1: the bytes are checkpoint.pt) resumed by the trainer for one more step. Both on a fixed MLP on cpu2. With
// ALLOT_FUZZ_SEED_DIR set, initialization first writes a valid input there (scripts/fuzz.sh seeds the corpus so).
// Every archive the bytes hold is resealed first (its lengths and hash recomputed, rl/archive_file.h SealArchive),
// so that mutations reach the archive's index and data as a crafted file would, not only its hash check.
// Any allot::Error is the expected answer to bad input.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "cost_model/cluster.h"
#include "cost_model/op_costs.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/onnx_import.h"
#include "models/model_zoo.h"
#include "placers/placer.h"
#include "rl/archive_file.h"
#include "rl/learned_placers.h"
#include "rl/learned_registry.h"
#include "rl/policy_io.h"
#include "rl/trainer.h"

namespace {

namespace fs = std::filesystem;

struct Fixture {
  allot::Graph graph;
  allot::Cluster cluster = allot::MakePreset("cpu2");
  allot::CostTable costs;
  allot::PlacementProblem problem;
  allot::PlacerRegistry registry;
  std::string dir;  // this process's scratch folder
  std::string valid_pt;
};

// A small seq2seq trainer writing checkpoints to `out_dir`.
std::unique_ptr<allot::rl::Trainer> MakeSmallTrainer(const Fixture& f, const std::string& out_dir, int64_t steps,
                                                     bool resume) {
  allot::rl::TrainerConfig c;
  c.out_dir = out_dir;
  c.checkpoint_every = 1;
  c.resume = resume;
  const allot::OptionValues o = f.registry.ParseOptions(
      "seq2seq:steps=" + std::to_string(steps) + ",samples=2,hidden=16,op_embedding=8,device_embedding=8");
  return allot::rl::MakeTrainer(f.problem, "seq2seq", o, c);
}

Fixture& Get() {
  static Fixture* f = [] {
    auto* x = new Fixture;
    onnx::ModelProto model = allot::models::Generate("mlp", {});
    x->graph = allot::ImportModel(model, "mlp", allot::ImportOptions{});
    x->costs = allot::ComputeCosts(x->graph, x->cluster);
    x->problem = allot::PlacementProblem::Make(x->graph, x->cluster, x->costs);
    allot::RegisterLearnedPlacers(x->registry);
    x->dir = (fs::temp_directory_path() / ("allot_fuzz_policy_" + std::to_string(getpid()))).string();
    fs::create_directories(x->dir);
    // A valid policy and checkpoint, from two training steps.
    auto trainer = MakeSmallTrainer(*x, x->dir + "/seed", 2, false);
    const allot::rl::TrainResult r = trainer->Train();
    allot::rl::SavePolicyDirectory(x->dir + "/seed/policy", trainer->policy(), allot::rl::MetadataOf(*trainer, r));
    x->valid_pt = allot::ReadFile(x->dir + "/seed/policy/policy.pt");
    if (const char* seeds = std::getenv("ALLOT_FUZZ_SEED_DIR")) {
      fs::create_directories(seeds);
      const std::string seed = ALLOT_FUZZ_CHECKPOINT
                                   ? allot::ReadFile(x->dir + "/seed/checkpoint.pt")
                                   : allot::ReadFile(x->dir + "/seed/policy/policy.json") + '\0' + x->valid_pt;
      allot::WriteFileAtomic(std::string(seeds) + "/seed", seed);
    }
    return x;
  }();
  return *f;
}

// `bytes` with a valid seal where it starts like an archive: its stored index length, clamped to the body, splits
// the body into index and data.
std::string Reseal(const std::string& bytes) {
  static const std::string header = allot::rl::SealArchive("", "");  // magic and three zero u64s
  const size_t magic = header.size() - 24;
  if (bytes.size() < header.size() || bytes.compare(0, magic, header, 0, magic) != 0) return bytes;
  uint64_t index = 0;
  for (int i = 7; i >= 0; --i) index = index << 8 | static_cast<unsigned char>(bytes[magic + static_cast<size_t>(i)]);
  const std::string body = bytes.substr(header.size());
  const size_t n = static_cast<size_t>(std::min<uint64_t>(index, body.size()));
  return allot::rl::SealArchive(std::string_view(body).substr(0, n), std::string_view(body).substr(n));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Get();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = Get();
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string dir = f.dir + "/input";
  fs::remove_all(dir);
  fs::create_directories(dir);
  try {
    if (ALLOT_FUZZ_CHECKPOINT) {
      allot::WriteFileAtomic(dir + "/checkpoint.pt", Reseal(bytes));
      MakeSmallTrainer(f, dir, 3, true)->Train();
    } else {
      const size_t nul = bytes.find('\0');
      allot::WriteFileAtomic(dir + "/policy.json", bytes.substr(0, nul));
      allot::WriteFileAtomic(dir + "/policy.pt", nul == std::string::npos ? f.valid_pt : Reseal(bytes.substr(nul + 1)));
      f.registry.Create("seq2seq:policy=" + dir)->place(f.problem);
    }
  } catch (const allot::Error&) {
  }
  return 0;
}
