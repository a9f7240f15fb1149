#include "rl/policy_io.h"

#include <nlohmann/json.hpp>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <filesystem>

#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/json_io.h"
#include "rl/archive_file.h"
#include "rl/checked_load.h"
#include "rl/trainer.h"

namespace allot::rl {
namespace {
constexpr const char* kFormat = "allot-seq2seq-policy-1";
}

PolicyMetadata MetadataOf(const Trainer& trainer, const TrainResult& result) {
  PolicyMetadata m;
  const TrainerConfig& c = trainer.config();
  m.policy = c.policy;
  m.max_groups = c.max_groups;
  m.fuse_chains = c.fuse_chains;
  m.num_groups = static_cast<int64_t>(trainer.decision_groups().num_groups());
  m.num_devices = c.policy.num_devices;
  m.gpu_only = c.gpu_only;
  m.graph_hash = trainer.problem().graph->hash_hex();
  m.cluster = trainer.problem().cluster->name();
  m.steps = result.steps_done;
  m.best_step_time = result.best_placement.empty() ? 0 : result.best_step_time;
  return m;
}

void SavePolicyDirectory(const std::string& dir, const Seq2SeqPolicy& policy, const PolicyMetadata& m) {
  const std::filesystem::path d(dir);
  std::filesystem::create_directories(d);
  nlohmann::ordered_json j;
  j["format"] = kFormat;
  j["model"] = m.model;
  j["mode"] = m.mode;
  j["graph_hash"] = m.graph_hash;
  j["cluster"] = m.cluster;
  j["num_devices"] = m.num_devices;
  j["gpu_only"] = m.gpu_only;
  j["num_groups"] = m.num_groups;
  j["max_groups"] = m.max_groups;
  j["fuse_chains"] = m.fuse_chains;
  j["hidden"] = m.policy.hidden;
  j["op_embedding"] = m.policy.op_embedding;
  j["device_embedding"] = m.policy.device_embedding;
  j["attention"] = m.policy.attention;
  j["bidirectional"] = m.policy.bidirectional;
  j["temperature"] = m.policy.temperature;
  j["logit_clip"] = m.policy.logit_clip;
  j["steps"] = m.steps;
  j["best_step_time_s"] = m.best_step_time;

  torch::serialize::OutputArchive a;
  policy->save(a);
  SaveArchive(a, (d / "policy.pt").string());
  WriteFileAtomic((d / "policy.json").string(), j.dump(2) + "\n");
}

LoadedPolicy LoadPolicyDirectory(const std::string& dir) {
  const std::filesystem::path d(dir);
  const std::string json_path = (d / "policy.json").string(), pt = (d / "policy.pt").string();
  LoadedPolicy out;
  PolicyMetadata& m = out.meta;
  // Every size the network is built from is bounded: an edited file must not allocate a 2^40-wide layer.
  const nlohmann::json j = ParseJsonText(ReadFile(json_path), json_path);
  if (!j.is_object()) throw Error(json_path + ": not a seq2seq policy (not a JSON object)");
  if (JsonString(j, "format", json_path, "") != kFormat) throw Error(json_path + ": not a seq2seq policy");
  constexpr int64_t kWidth = 1 << 13, kGroups = int64_t{1} << 22;
  m.model = JsonString(j, "model", json_path, "", 4096);
  m.mode = JsonString(j, "mode", json_path, "");
  m.graph_hash = JsonString(j, "graph_hash", json_path);
  m.cluster = JsonString(j, "cluster", json_path);
  m.num_devices = JsonInteger(j, "num_devices", json_path, 1, 1024);
  m.gpu_only = JsonBool(j, "gpu_only", json_path, false);
  m.num_groups = JsonInteger(j, "num_groups", json_path, 1, kGroups);
  m.max_groups = static_cast<size_t>(JsonInteger(j, "max_groups", json_path, 0, kGroups));
  m.fuse_chains = JsonBool(j, "fuse_chains", json_path);
  m.policy.hidden = JsonInteger(j, "hidden", json_path, 1, kWidth);
  m.policy.op_embedding = JsonInteger(j, "op_embedding", json_path, 1, kWidth);
  m.policy.device_embedding = JsonInteger(j, "device_embedding", json_path, 1, kWidth);
  m.policy.attention = JsonInteger(j, "attention", json_path, 1, kWidth);
  m.policy.bidirectional = JsonBool(j, "bidirectional", json_path);
  m.policy.temperature = JsonNumber(j, "temperature", json_path);
  if (!(m.policy.temperature >= 1e-3 && m.policy.temperature <= 1e6))
    throw Error(json_path + ": field 'temperature' must be from 0.001 to 1e6");
  m.policy.logit_clip = JsonNumber(j, "logit_clip", json_path);
  if (!(m.policy.logit_clip >= 0 && m.policy.logit_clip <= 1e6))
    throw Error(json_path + ": field 'logit_clip' must be from 0 to 1e6");
  if (m.policy.bidirectional && m.policy.hidden % 2 != 0)
    throw Error(json_path + ": field 'hidden' must be even for a bidirectional encoder (each direction gets half)");
  m.policy.num_devices = m.num_devices;
  m.steps = JsonInteger(j, "steps", json_path, 0, INT64_MAX, 0);
  m.best_step_time = JsonNonNegative(j, "best_step_time_s", json_path, 0.0);
  try {
    out.policy = Seq2SeqPolicy(m.policy);
  } catch (const c10::Error& e) {  // any other rule the network's constructor checks
    throw Error(json_path + ": " + e.what_without_backtrace());
  }
  torch::serialize::InputArchive a;
  LoadArchive(a, pt);
  LoadModuleChecked(*out.policy, a, pt);
  return out;
}

}  // namespace allot::rl
