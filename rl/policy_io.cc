#include "rl/policy_io.h"

#include <nlohmann/json.hpp>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <filesystem>

#include "graph/error.h"
#include "graph/file_io.h"
#include "graph/json_io.h"
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

  const std::string pt = (d / "policy.pt").string(), tmp = pt + ".tmp";
  try {
    torch::serialize::OutputArchive a;
    policy->save(a);
    a.save_to(tmp);
    std::filesystem::rename(tmp, pt);
  } catch (const std::exception& e) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error("cannot write " + pt + ": " + e.what());
  }
  WriteFileAtomic((d / "policy.json").string(), j.dump(2) + "\n");
}

LoadedPolicy LoadPolicyDirectory(const std::string& dir) {
  const std::filesystem::path d(dir);
  const std::string json_path = (d / "policy.json").string(), pt = (d / "policy.pt").string();
  LoadedPolicy out;
  PolicyMetadata& m = out.meta;
  try {
    const nlohmann::json j = ParseJsonText(ReadFile(json_path), json_path);
    if (j.at("format").get<std::string>() != kFormat) throw Error(json_path + ": not a seq2seq policy");
    m.model = j.value("model", "");
    m.mode = j.value("mode", "");
    m.graph_hash = j.at("graph_hash").get<std::string>();
    m.cluster = j.at("cluster").get<std::string>();
    m.num_devices = j.at("num_devices").get<int64_t>();
    m.gpu_only = j.value("gpu_only", false);
    m.num_groups = j.at("num_groups").get<int64_t>();
    m.max_groups = j.at("max_groups").get<size_t>();
    m.fuse_chains = j.at("fuse_chains").get<bool>();
    m.policy.hidden = j.at("hidden").get<int64_t>();
    m.policy.op_embedding = j.at("op_embedding").get<int64_t>();
    m.policy.device_embedding = j.at("device_embedding").get<int64_t>();
    m.policy.attention = j.at("attention").get<int64_t>();
    m.policy.bidirectional = j.at("bidirectional").get<bool>();
    m.policy.temperature = j.at("temperature").get<double>();
    m.policy.logit_clip = j.at("logit_clip").get<double>();
    m.policy.num_devices = m.num_devices;
    m.steps = j.value("steps", int64_t{0});
    m.best_step_time = j.value("best_step_time_s", 0.0);
  } catch (const nlohmann::json::exception& e) {
    throw Error(json_path + ": " + e.what());
  }
  out.policy = Seq2SeqPolicy(m.policy);
  try {
    torch::serialize::InputArchive a;
    a.load_from(pt);
    out.policy->load(a);
  } catch (const c10::Error& e) {
    throw Error("cannot read " + pt + ": " + e.what_without_backtrace());
  }
  return out;
}

}  // namespace allot::rl
