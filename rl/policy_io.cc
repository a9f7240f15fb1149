#include "rl/policy_io.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/json_io.h"
#include "rl/archive_file.h"
#include "rl/checked_load.h"
#include "rl/learned_registry.h"
#include "rl/trainer.h"

namespace allot::rl {
namespace {
constexpr const char* kFormat = "allot-policy-3";  // 3: policy.pt is allot's archive (rl/archive_file.h)
}

PolicyMetadata MetadataOf(const Trainer& trainer, const TrainResult& result) {
  PolicyMetadata m;
  const Policy& p = trainer.policy();
  m.placer = std::string(p.kind());
  m.num_groups = static_cast<int64_t>(p.decision_groups().num_groups());
  m.num_devices = p.num_devices();
  m.graph_hash = trainer.problem().graph->hash_hex();
  m.cluster = trainer.problem().cluster->name();
  m.steps = result.steps_done;
  m.best_step_time = result.best_placement.empty() ? 0 : result.best_step_time;
  return m;
}

void SavePolicyDirectory(const std::string& dir, Policy& policy, const PolicyMetadata& m) {
  const std::filesystem::path d(dir);
  std::filesystem::create_directories(d);
  nlohmann::ordered_json j;
  j["format"] = kFormat;
  j["placer"] = m.placer;
  j["model"] = m.model;
  j["mode"] = m.mode;
  j["graph_hash"] = m.graph_hash;
  j["cluster"] = m.cluster;
  j["num_devices"] = m.num_devices;
  j["num_groups"] = m.num_groups;
  const nlohmann::ordered_json config = policy.Config();
  for (const auto& [key, value] : config.items()) j[key] = value;
  j["steps"] = m.steps;
  j["best_step_time_s"] = m.best_step_time;

  ArchiveWriter a;
  SaveModule(policy.module(), a);
  a.Save((d / "policy.pt").string());
  WriteFileAtomic((d / "policy.json").string(), j.dump(2) + "\n");
}

std::string ResolvePolicyDirectory(const std::string& dir) {
  const std::filesystem::path d(dir);
  if (!std::filesystem::exists(d / "policy.json") && std::filesystem::exists(d / "policy" / "policy.json"))
    return (d / "policy").string();
  return dir;
}

LoadedPolicy LoadPolicyDirectory(const std::string& dir, const PlacementProblem& problem) {
  const std::filesystem::path d(ResolvePolicyDirectory(dir));
  const std::string json_path = (d / "policy.json").string(), pt = (d / "policy.pt").string();
  LoadedPolicy out;
  PolicyMetadata& m = out.meta;
  const nlohmann::json j = ParseJsonText(ReadFile(json_path), json_path);
  if (!j.is_object()) throw Error(json_path + ": not a policy (not a JSON object)");
  if (JsonString(j, "format", json_path, "") != kFormat)
    throw Error(json_path + ": not a policy written by this version of allot");
  m.placer = JsonString(j, "placer", json_path);
  const LearnedPlacerDef* def = nullptr;
  try {
    def = &FindLearnedPlacer(m.placer);
  } catch (const Error& e) {
    throw Error(json_path + ": field 'placer': " + e.what());
  }
  m.model = JsonString(j, "model", json_path, "", 4096);
  m.mode = JsonString(j, "mode", json_path, "");
  m.graph_hash = JsonString(j, "graph_hash", json_path);
  m.cluster = JsonString(j, "cluster", json_path);
  m.num_devices = JsonInteger(j, "num_devices", json_path, 1, 1024);
  m.num_groups = JsonInteger(j, "num_groups", json_path, 1, int64_t{1} << 22);
  m.steps = JsonInteger(j, "steps", json_path, 0, INT64_MAX, 0);
  m.best_step_time = JsonNonNegative(j, "best_step_time_s", json_path, 0.0);
  const bool generic = def->share_policy != nullptr;  // its network reads any graph
  if (!generic && m.graph_hash != problem.graph->hash_hex())
    throw Error(m.placer + ": the policy in " + dir + " was trained on another graph (hash " + m.graph_hash +
                ", this one " + problem.graph->hash_hex() + "; same model, mode and sizes needed)");
  try {
    out.policy = def->load_policy(problem, j, json_path);
  } catch (const c10::Error& e) {  // any other rule the network's constructor checks
    throw Error(json_path + ": " + e.what_without_backtrace());
  }
  if (!generic && static_cast<int64_t>(out.policy->decision_groups().num_groups()) != m.num_groups)
    throw Error(m.placer + ": the policy in " + dir + " decides " + std::to_string(m.num_groups) +
                " groups, this graph gives " + std::to_string(out.policy->decision_groups().num_groups()));
  if (out.policy->num_devices() != m.num_devices)
    throw Error(m.placer + ": the policy in " + dir + " places on " + std::to_string(m.num_devices) +
                " devices (cluster " + m.cluster + "), this cluster offers it " +
                std::to_string(out.policy->num_devices()));
  LoadModuleChecked(out.policy->module(), ArchiveReader::Load(pt), pt);
  return out;
}

}  // namespace allot::rl
