// Runs across processes: `allot run --launch 2` and `allot worker` ranks on 127.0.0.1, against the one-process
// run of the same placement; a killed rank, a stopped rank, and ranks given different placements.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/cli_runner.h"
#include "tests/test_models.h"

namespace allot::test {
namespace {

namespace fs = std::filesystem;

const char* kModel = "gen:mlp,layers=6,hidden=128";

std::string Temp(const std::string& name) { return TempPath("allot_distributed_test", name); }

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A random placement over cpu2 that splits the model (tensors cross between the devices both ways).
std::string Place(const std::string& name, const std::string& mode) {
  const std::string path = Temp(name);
  const Outcome o = RunAllot(std::string("place ") + kModel + " --mode " + mode + " --cluster cpu2 --placer random --seed 3 -o " + path);
  EXPECT_EQ(o.exit_code, 0) << o.out;
  return path;
}

// The one-process run and the two-rank run of one placement write the same outputs, byte for byte (one intra-op
// thread each, so reductions add in the same order).
void ExpectSameOutputs(const std::string& placement, const std::string& extra) {
  const std::string one = Temp("one_" + fs::path(placement).stem().string()), two = Temp("two_" + fs::path(placement).stem().string());
  fs::remove_all(one);
  fs::remove_all(two);
  const std::string run = std::string("run ") + kModel + " --placement " + placement + " --threads 1 --steps 2 --warmup 0 " + extra;
  const Outcome a = RunAllot(run + " --outputs " + one);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  const Outcome b = RunAllot(run + " --launch 2 --outputs " + two);
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_NE(b.out.find("sent"), std::string::npos) << b.out;  // per-rank bytes sent, as text or JSON
  const std::string x = Slurp(one + "/output_0.pb"), y = Slurp(two + "/output_0.pb");
  ASSERT_FALSE(x.empty());
  EXPECT_EQ(x, y);
}

TEST(DistributedCliTest, TwoRanksComputeWhatOneProcessComputes) {
  ExpectSameOutputs(Place("inference.json", "inference"), "");
}

TEST(DistributedCliTest, TrainingStepsOverTwoRanksEqualOneProcess) {
  // Two steps: the second reads parameters the first updated on the other rank.
  const std::string placement = Place("training.json", "training");
  ExpectSameOutputs(placement, "");
  const std::string run = std::string("run ") + kModel + " --placement " + placement + " --threads 1 --steps 3 --warmup 0 --json";
  const Outcome a = RunAllot(run), b = RunAllot(run + " --launch 2");
  ASSERT_EQ(a.exit_code, 0) << a.out;
  ASSERT_EQ(b.exit_code, 0) << b.out;
  const auto losses = [](const std::string& json) { return json.substr(json.find("\"losses\""), json.find(']', json.find("\"losses\"")) - json.find("\"losses\"")); };
  EXPECT_EQ(losses(a.out), losses(b.out));
  EXPECT_NE(b.out.find("\"bytes_sent_per_rank\""), std::string::npos);
}

// Tensors whose shape the graph cannot know (NonZero's) travel with a header; the others land in buffers the
// receiving rank posted ahead. Both kinds cross the ranks here, both ways, and the outputs match one process's.
TEST(DistributedCliTest, TensorsOfDataDependentShapeCrossRanks) {
  onnx::ModelProto m = NewModel();
  auto* g = m.mutable_graph();
  SetType(g->add_input(), "x", {4, 4});
  AddNode(g, "Relu", "relu", {"x"}, {"r"});
  AddNode(g, "Sigmoid", "sigmoid", {"r"}, {"s"});
  AddNode(g, "NonZero", "nonzero", {"r"}, {"nz"});
  SetInt(AddNode(g, "Cast", "cast", {"nz"}, {"c"}), "to", onnx::TensorProto::FLOAT);
  SetInt(AddNode(g, "ReduceSum", "sum", {"c"}, {"y"}), "keepdims", 0);
  SetType(g->add_output(), "s", {4, 4});
  SetType(g->add_output(), "y", {});
  const std::string model = Temp("nonzero.onnx"), placement = Temp("nonzero.json");
  {
    std::ofstream out(model, std::ios::binary);
    ASSERT_TRUE(m.SerializeToOstream(&out));
  }
  const Outcome place = RunAllot("place " + model + " --cluster cpu2 --placer single -o " + placement);
  ASSERT_EQ(place.exit_code, 0) << place.out;
  std::string text = Slurp(placement);
  for (const std::string node : {"\"sigmoid\": \"cpu:", "\"cast\": \"cpu:"}) {
    const size_t at = text.find(node);
    ASSERT_NE(at, std::string::npos) << text;
    text[at + node.size()] = '1';
  }
  std::ofstream(placement) << text;
  const std::string one = Temp("nonzero_one"), two = Temp("nonzero_two");
  fs::remove_all(one);
  fs::remove_all(two);
  const std::string run = "run " + model + " --placement " + placement + " --cluster cpu2 --threads 1 --steps 2 --warmup 0";
  const Outcome a = RunAllot(run + " --outputs " + one);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  const Outcome b = RunAllot(run + " --launch 2 --outputs " + two);
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_NE(b.out.find("copies         3 per step"), std::string::npos) << b.out;  // r, nz and c crossed
  for (const char* file : {"/output_0.pb", "/output_1.pb"}) {
    const std::string x = Slurp(one + file), y = Slurp(two + file);
    ASSERT_FALSE(x.empty()) << file;
    EXPECT_EQ(x, y) << file;
  }
}

// Two "hosts": rank 1 in a network namespace of its own, joined by a veth pair (scripts/two_hosts.sh): the
// rendezvous goes to a non-loopback MASTER_ADDR and each rank publishes the address the other reaches it at.
// Skipped where namespaces cannot be made (not root, or a container without CAP_NET_ADMIN).
TEST(DistributedCliTest, TwoHostsComputeWhatOneProcessComputes) {
  const std::string placement = Place("two_hosts.json", "training");
  const std::string one = Temp("two_hosts_one"), two = Temp("two_hosts_two");
  fs::remove_all(one);
  fs::remove_all(two);
  const std::string args = std::string(kModel) + " --mode training --placement " + placement + " --threads 1 --steps 2 --warmup 0";
  const Outcome a = RunAllot("run " + args + " --outputs " + one);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  const Outcome b = RunCommand("ALLOT_BINARY=" + AllotBinary() + " " + ALLOT_SOURCE_DIR + "/scripts/two_hosts.sh " + args +
                               " --timeout 30 --outputs " + two);
  if (b.exit_code == 77) GTEST_SKIP() << b.out;
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_NE(b.out.find("rank 1         sent"), std::string::npos) << b.out;
  const std::string x = Slurp(one + "/output_0.pb"), y = Slurp(two + "/output_0.pb");
  ASSERT_FALSE(x.empty());
  EXPECT_EQ(x, y);
}

TEST(DistributedCliTest, ClusterRanksPlaceDevices) {
  // cpu:0 on rank 1 and cpu:1 on rank 0: the same outputs.
  const std::string cluster = Temp("ranked.json");
  const Outcome spec = RunAllot("clusters --json cpu2");
  ASSERT_EQ(spec.exit_code, 0);
  std::string json = spec.out;
  const size_t first = json.find("\"launch_overhead_us\"");
  const size_t second = json.find("\"launch_overhead_us\"", first + 1);
  json.insert(json.find('}', second), ", \"rank\": 0");
  json.insert(json.find('}', first), ", \"rank\": 1");
  std::ofstream(cluster) << json;
  const std::string placement = Place("inference_ranked.json", "inference");
  ExpectSameOutputs(placement, "--cluster " + cluster + " --json");
  const Outcome b = RunAllot(std::string("run ") + kModel + " --placement " + placement + " --cluster " + cluster + " --steps 1 --warmup 0 --launch 2 --json");
  EXPECT_NE(b.out.find("\"cpu:0\": 1"), std::string::npos) << b.out;
  // A device on a rank past the world size: every rank refuses.
  const std::string too_far = Temp("too_far.json");
  std::string bad = json;
  bad.replace(bad.find("\"rank\": 0"), 9, "\"rank\": 2");
  std::ofstream(too_far) << bad;
  const Outcome o = RunAllot(std::string("run ") + kModel + " --placement " + placement + " --cluster " + too_far +
                             " --steps 1 --launch 2");
  EXPECT_EQ(o.exit_code, 1) << o.out;
  EXPECT_NE(o.out.find("allot: cluster cpu2: device cpu:1 is on rank 2 but WORLD_SIZE is 2"), std::string::npos) << o.out;
}

TEST(DistributedCliTest, LinksBetweenRanksAreMeasuredForTheCostModel) {
  const std::string placement = Place("link.json", "inference");
  const Outcome run = RunAllot(std::string("run ") + kModel + " --placement " + placement +
                               " --steps 1 --warmup 0 --launch 2 --measure-link --json");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("\"rank_links\""), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\"gbps\""), std::string::npos) << run.out;
  // `allot profile --launch 2`: the cpu:0 <-> cpu:1 links are the ranks' link, which `simulate --profile` reads.
  const std::string profile = Temp("profile.json");
  const Outcome p = RunAllot(std::string("profile ") + kModel + " --devices cpu:0,cpu:1 --repeats 1 --launch 2 -o " + profile);
  ASSERT_EQ(p.exit_code, 0) << p.out;
  const std::string text = Slurp(profile);
  EXPECT_NE(text.find("\"links\""), std::string::npos) << text;
  const Outcome sim = RunAllot(std::string("simulate ") + kModel + " --placement " + placement + " --profile " + profile);
  EXPECT_EQ(sim.exit_code, 0) << sim.out;
}

TEST(DistributedCliTest, MeasuredRewardsRunAcrossProcesses) {
  const std::string out = Temp("train_ranks");
  fs::remove_all(out);
  const Outcome o = RunAllot(std::string("train ") + kModel + " --cluster cpu2 --placer post --steps 1 --samples 2 "
                             "--reward measured --launch 2 --seed 1 --out " + out);
  ASSERT_EQ(o.exit_code, 0) << o.out;
  EXPECT_NE(o.out.find("measured"), std::string::npos) << o.out;
  EXPECT_TRUE(fs::exists(out + "/best_placement.json")) << o.out;
  ExpectOneLineError(RunAllot(std::string("train ") + kModel + " --cluster cpu2 --placer post --launch 2 --out " + out),
                     "give --reward measured");
}

TEST(DistributedCliTest, AKilledRankEndsEveryRankWithOneLine) {
  const std::string placement = Place("killed.json", "training");
  const Outcome o = RunCommand("ALLOT_FAULT_INJECTION=kill:1:1 " + AllotBinary() + " run " + kModel + " --placement " +
                               placement + " --steps 3 --warmup 0 --timeout 20 --launch 2");
  EXPECT_EQ(o.exit_code, 1) << o.out;
  EXPECT_NE(o.out.find("allot: rank 0: rank 1 closed its connection"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("allot: --launch: rank 1 was killed by signal 9"), std::string::npos) << o.out;
}

TEST(DistributedCliTest, AStoppedRankTimesOut) {
  const std::string placement = Place("stopped.json", "inference");
  const Outcome o = RunCommand("ALLOT_FAULT_INJECTION=stop:1:1 " + AllotBinary() + " run " + kModel + " --placement " +
                               placement + " --steps 3 --warmup 0 --timeout 2 --launch 2");
  EXPECT_EQ(o.exit_code, 1) << o.out;
  EXPECT_NE(o.out.find("allot: rank 0: "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("within 2 s"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("--launch: rank 0 exited with status 1"), std::string::npos) << o.out;
}

TEST(DistributedCliTest, RanksWithDifferentPlacementsRefuseToRun) {
  const std::string a = Place("a.json", "inference");
  const std::string b = Temp("b.json");
  ASSERT_EQ(RunAllot(std::string("place ") + kModel + " --cluster cpu2 --placer random --seed 4 -o " + b).exit_code, 0);
  const std::string env = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(FreePort()) + " WORLD_SIZE=2 ";
  const std::string worker = AllotBinary() + " worker " + kModel + " --steps 1 --warmup 0 --timeout 20 --placement ";
  const std::string out0 = Temp("rank0.txt"), out1 = Temp("rank1.txt");
  const Outcome o = RunCommand("(" + env + "RANK=1 " + worker + b + " > " + out1 + " 2>&1 & " + env + "RANK=0 " + worker +
                               a + " > " + out0 + " 2>&1; echo rank0=$?; wait $!; echo rank1=$?)");
  EXPECT_NE(o.out.find("rank0=1"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("rank1=1"), std::string::npos) << o.out;
  for (const std::string& f : {out0, out1}) {
    const std::string text = Slurp(f);
    EXPECT_EQ(text.rfind("allot: rank 1 runs another model or placement than rank 0", 0), 0u) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  }
  // Without the rendezvous variables, a worker says which is missing.
  ExpectOneLineError(RunCommand("env -u RANK -u WORLD_SIZE " + worker + a), "WORLD_SIZE is not set");
}

}  // namespace
}  // namespace allot::test
