// The `allot` binary at its boundary: bad input gives one line on stderr naming the file, a non-zero exit, and
// no partial output file.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>

#include "tests/cli_runner.h"

namespace {

namespace fs = std::filesystem;

using allot::test::ExpectOneLineError;
using allot::test::Outcome;
using allot::test::AllotBinary;
using allot::test::RunAllot;
using allot::test::RunCommand;

std::string Temp(const std::string& name) { return allot::test::TempPath("allot_cli_tests", name); }

TEST(CliTest, MalformedModelsFailWithOneLine) {
  const std::string truncated = Temp("truncated.onnx");
  std::ofstream(truncated, std::ios::binary) << std::string("\x08\x07\x12\x05hello\x3a\x80", 10);
  ExpectOneLineError(RunAllot("inspect " + truncated), truncated);
  ExpectOneLineError(RunAllot("inspect " + Temp("missing.onnx")), "cannot open");
  ExpectOneLineError(RunAllot("inspect gen:nope"), "unknown model generator");
  ExpectOneLineError(RunAllot("inspect gen:mlp,layers=x"), "layers");
}

// Hostile JSON and option values (a cluster with no memory bandwidth, a placement that names no graph, a repeated
// key, a 1 MB device name, a count of 0): one line naming the file and field or the option, exit 1, nothing
// written.
TEST(CliTest, HostileJsonAndOptionValuesAreOneLineErrors) {
  const std::string cluster = Temp("hostile_cluster.json"), placement = Temp("hostile_placement.json");
  const Outcome shown = RunAllot("clusters --json p100x2");
  ASSERT_EQ(shown.exit_code, 0);
  const auto write = [&](const std::string& path, std::string text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    std::ofstream(path) << text.replace(at, from.size(), to);
  };
  const std::string gbps = "\"memory_gbps\": ";
  const std::string zero_gbps = shown.out.substr(0, shown.out.find(gbps) + gbps.size()) + "0" +
                                shown.out.substr(shown.out.find_first_of(",\n", shown.out.find(gbps)));
  std::ofstream(cluster) << zero_gbps;
  ExpectOneLineError(RunAllot("place gen:mlp --cluster " + cluster), cluster + ": devices[0]: field 'memory_gbps' is 0");
  write(cluster, shown.out, "\"kind\": \"cpu\"", "\"kind\": 5");
  ExpectOneLineError(RunAllot("place gen:mlp --cluster " + cluster), "field 'kind' must be a string, not number");
  write(cluster, shown.out, "\"name\": \"cpu:0\"", "\"name\": \"" + std::string(1 << 20, 'x') + "\"");
  const Outcome long_name = RunAllot("place gen:mlp --cluster " + cluster);
  ExpectOneLineError(long_name, "field 'name' is 1048576 characters long");
  EXPECT_LT(long_name.out.size(), 300u);

  const Outcome placed = RunAllot("place gen:mlp --cluster p100x2 --placer single --json -o " + placement);
  ASSERT_EQ(placed.exit_code, 0) << placed.out;
  std::ifstream in(placement);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write(placement, text, "\"graph_hash\"", "\"no_hash\"");
  ExpectOneLineError(RunAllot("simulate gen:mlp --placement " + placement), "missing field 'graph_hash'");
  write(placement, text, "\"version\": 1,", "\"version\": 1, \"mode\": \"training\",");
  ExpectOneLineError(RunAllot("simulate gen:mlp --placement " + placement), "key 'mode' appears twice");

  ExpectOneLineError(RunAllot("place gen:mlp --cluster cpu99999999999"), "cpuN takes 1 to 64 devices");
  ExpectOneLineError(RunAllot("inspect " + fs::temp_directory_path().string()), "is a directory");
  ExpectOneLineError(RunAllot("clusters nope"), "not expected: nope");
  const std::string out = Temp("hostile_out.json");
  fs::remove(out);
  for (const auto& [args, needle] : std::vector<std::pair<std::string, std::string>>{
           {"place gen:mlp --batch 0", "--batch"},
           {"place gen:mlp --batch 99999999999", "--batch"},
           {"place gen:transformer --seq 0", "--seq"},
           {"place gen:mlp,hidden=0", "'hidden'"},
           {"place gen:mlp --placer refine:groups=-1", "option 'groups' must be 0 to"},
           {"place gen:mlp --placer etf:bogus=1", "has no option 'bogus'"},
           {"profile gen:mlp --repeats 0", "--repeats"},
           {"place gen:mlp -o ''", "--output: an output path must not be empty"}}) {
    ExpectOneLineError(RunAllot(args + (args.find(" -o ") == std::string::npos ? " -o " + out : "")), needle);
    EXPECT_FALSE(fs::exists(out)) << args;
  }
  const std::string train_out = Temp("hostile_train");
  fs::remove_all(train_out);
  ExpectOneLineError(RunAllot("train gen:mlp --steps 0 --out " + train_out), "--steps");
  EXPECT_FALSE(fs::exists(train_out));
}

// `allot train` killed with SIGKILL at growing delays (some land during a checkpoint write) and resumed each time
// ends exactly where an uninterrupted run with the same seed does: the same best placement, learning curve (but
// its clock column) and policy; and every checkpoint it resumes from is whole (a torn one would fail --resume).
TEST(CliTest, TrainingKilledWithSigkillResumesToTheUninterruptedResult) {
  const std::string train = "train gen:mlp,layers=8 --cluster p100x2 --placer seq2seq:hidden=16,groups=8 --steps 300 "
                            "--samples 4 --seed 3 --checkpoint-every 1 --out ";
  const std::string reference = Temp("train_reference"), killed = Temp("train_killed");
  fs::remove_all(reference);
  fs::remove_all(killed);
  const Outcome whole = RunAllot(train + reference);
  ASSERT_EQ(whole.exit_code, 0) << whole.out;
  int kills = 0;
  bool done = false;
  for (int attempt = 0; attempt < 60 && !done; ++attempt) {
    const bool resume = fs::exists(killed + "/checkpoint.pt");
    const std::string delay = std::to_string(0.5 + 0.15 * attempt);
    const Outcome o = RunCommand("timeout -s KILL " + delay + " " + AllotBinary() + " " + train + killed +
                                 (resume ? " --resume" : ""));
    ASSERT_TRUE(o.exit_code == 0 || o.exit_code == 128 + 9) << o.out;  // killed, or finished: never an error
    done = o.exit_code == 0;
    kills += !done;
  }
  ASSERT_TRUE(done);
  EXPECT_GE(kills, 3);  // the delays start below one run's length
  RecordProperty("kills", kills);
  const auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  // The curve without its elapsed_s column (the 6th), which measures each process' own clock.
  const auto curve = [&](const std::string& dir) {
    std::istringstream in(read(dir + "/learning_curve.csv"));
    std::string line, out;
    while (std::getline(in, line)) {
      std::vector<std::string> cells;
      std::istringstream row(line);
      for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
      if (cells.size() > 5) cells.erase(cells.begin() + 5);
      for (const std::string& c : cells) out += c + ",";
      out += "\n";
    }
    return out;
  };
  const auto placement = [&](const std::string& dir) {
    const std::string text = read(dir + "/best_placement.json");
    return text.substr(text.find("\"placement\""));  // from the placement on: no timings before it are compared
  };
  const std::string reference_curve = curve(reference);
  EXPECT_EQ(curve(killed), reference_curve);
  EXPECT_EQ(std::count(reference_curve.begin(), reference_curve.end(), '\n'), 301);
  EXPECT_EQ(placement(killed), placement(reference));
  EXPECT_EQ(read(killed + "/policy/policy.pt"), read(reference + "/policy/policy.pt"));
  fs::remove_all(reference);
  fs::remove_all(killed);
}

// Every learned placer behind the CLI: `allot train` takes any of them and refuses a classic one, `allot place
// --policy` decodes the training folder with the placer the policy names, and `allot compare --placers learned`
// gives them one placement budget and charts their search.
TEST(CliTest, LearnedPlacersTrainPlaceAndCompareUnderOneBudget) {
  const std::string out = Temp("train_hierarchical"), placement = Temp("hierarchical.json"), report = Temp("learned");
  fs::remove_all(out);
  fs::remove_all(report);
  const Outcome trained = RunAllot("train gen:mlp --cluster p100x2 --placer hierarchical:hidden=16,groups=4 --steps 3 "
                                   "--samples 4 --out " + out);
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  EXPECT_NE(trained.out.find("placer         hierarchical:"), std::string::npos) << trained.out;
  EXPECT_TRUE(fs::exists(out + "/best_placement.json"));
  const Outcome placed = RunAllot("place gen:mlp --cluster p100x2 --policy " + out + " -o " + placement);
  ASSERT_EQ(placed.exit_code, 0) << placed.out;
  EXPECT_NE(placed.out.find("placer         hierarchical:"), std::string::npos) << placed.out;
  ExpectOneLineError(RunAllot("place gen:mlp --cluster p100x2 --placer post --policy " + out), "is a hierarchical policy");
  ExpectOneLineError(RunAllot("train gen:mlp --placer etf --out " + out + "_etf"), "not a learned placer");

  const Outcome compared = RunAllot("compare --models gen:mlp --cluster p100x2 --placers learned --budget-samples 32 "
                                    "-o " + report);
  ASSERT_EQ(compared.exit_code, 0) << compared.out;
  std::ifstream in(report + "/results.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  const nlohmann::json& rows = j["models"][0]["rows"];
  ASSERT_EQ(rows.size(), 6u);
  for (const nlohmann::json& row : rows) {
    EXPECT_TRUE(row["valid"].get<bool>()) << row.dump();
    ASSERT_TRUE(row.contains("search")) << row.dump();
    // 2 updates of 16, or 8 of placeto's 4 episodes
    EXPECT_EQ(row["search"].back()["placements"].get<int64_t>(), 32) << row.dump();
  }
  std::ifstream html_in(report + "/report.html");
  const std::string html((std::istreambuf_iterator<char>(html_in)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("placements evaluated"), std::string::npos);
  fs::remove_all(out);
  fs::remove_all(report);
  fs::remove(placement);
}

TEST(CliTest, GdpTrainsOnSeveralModelsAndPlacesAnUnseenOne) {
  const std::string out = Temp("train_gdp");
  fs::remove_all(out);
  const Outcome trained = RunAllot("train --models \"gen:mlp,layers=2; gen:mlp,layers=3\" --cluster p100x2 "
                                   "--placer gdp:hidden=16,heads=2 --steps 4 --samples 4 --out " + out);
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  EXPECT_NE(trained.out.find("gen:mlp,layers=3 ("), std::string::npos) << trained.out;
  EXPECT_NE(trained.out.find("its lower bound"), std::string::npos) << trained.out;
  EXPECT_FALSE(fs::exists(out + "/best_placement.json"));  // one per model is printed instead
  for (const char* extra : {"", " --finetune-steps 2", " --budget-seconds 0.5"}) {
    const Outcome placed = RunAllot("place gen:mlp,layers=4 --cluster p100x2 --policy " + out + extra);
    ASSERT_EQ(placed.exit_code, 0) << extra << placed.out;
    EXPECT_NE(placed.out.find("placer         gdp:"), std::string::npos) << placed.out;
  }
  ExpectOneLineError(RunAllot("place gen:mlp --cluster p100x4 --policy " + out), "places on 2 devices");
  ExpectOneLineError(RunAllot("place gen:mlp --cluster p100x2 --finetune-steps 2"), "give --policy");
  ExpectOneLineError(RunAllot("train --models \"gen:mlp;gen:chain\" --placer seq2seq --out " + out + "_s"),
                     "trains on one model");
  ExpectOneLineError(RunAllot("train --placer gdp --out " + out + "_none"), "give a MODEL");
  fs::remove_all(out);
}

TEST(CliTest, InspectPrintsJsonFields) {
  const Outcome o = RunAllot("inspect gen:mlp --mode training --json");
  ASSERT_EQ(o.exit_code, 0) << o.out;
  for (const char* field : {"\"nodes\"", "\"edges\"", "\"parameters_bytes\"", "\"flops\"", "\"gradient_nodes\""})
    EXPECT_NE(o.out.find(field), std::string::npos) << field;
}

TEST(CliTest, FailedCommandsLeaveNoOutputFile) {
  const std::string out = Temp("never.onnx");
  fs::remove(out);
  ExpectOneLineError(RunAllot("gen gen:nope -o " + out), "unknown model generator");
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  const std::string placement = Temp("never.json");
  fs::remove(placement);
  // A 1 MiB GPU cannot hold the MLP: place fails and writes nothing.
  const std::string cluster = Temp("tiny.json");
  std::ofstream(cluster) << R"({"name": "tiny", "devices": [{"name": "cuda:0", "peak_tflops": 1, "memory_gbps": 100,
      "memory_gib": 0.0009765625}]})";
  const Outcome o = RunAllot("place gen:mlp,batch=256 --mode training --cluster " + cluster + " --placer single -o " + placement);
  ExpectOneLineError(o, "cuda:0 needs");
  EXPECT_FALSE(fs::exists(placement));
}

TEST(CliTest, PlaceThenSimulateAgree) {
  const std::string placement = Temp("mlp_place.json");
  const Outcome placed = RunAllot("place gen:mlp --mode training --cluster p100x2 --placer expert -o " + placement + " --json");
  ASSERT_EQ(placed.exit_code, 0) << placed.out;
  const Outcome simulated = RunAllot("simulate gen:mlp --mode training --cluster p100x2 --placement " + placement + " --json");
  ASSERT_EQ(simulated.exit_code, 0) << simulated.out;
  auto step = [](const std::string& json) {
    const size_t at = json.find("\"step_time_ms\": ");
    return at == std::string::npos ? std::string() : json.substr(at, json.find(',', at) - at);
  };
  EXPECT_FALSE(step(placed.out).empty());
  EXPECT_EQ(step(placed.out), step(simulated.out));
  // The same placement against another batch size is another graph.
  ExpectOneLineError(RunAllot("simulate gen:mlp,batch=7 --mode training --cluster p100x2 --placement " + placement),
                     "graph_hash");
}

}  // namespace

namespace {

// `allot run` feeds a libonnx-testdata case's inputs and writes outputs that match its expected ones.
TEST(CliTest, RunFeedsInputsAndWritesOutputs) {
  const std::string dir = "/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d";
  if (!fs::exists(dir)) GTEST_SKIP() << "libonnx-testdata missing";
  const std::string placement = Temp("conv2d.json"), out = Temp("conv2d_out");
  fs::remove_all(out);
  ASSERT_EQ(RunAllot("place " + dir + "/model.onnx --cluster cpu2 --placer single -o " + placement).exit_code, 0);
  const Outcome run = RunAllot("run " + dir + "/model.onnx --placement " + placement + " --inputs " + dir +
                               "/test_data_set_0 --outputs " + out + " --steps 1 --warmup 0");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  onnx::TensorProto got, want;
  std::ifstream g(out + "/output_0.pb", std::ios::binary), w(dir + "/test_data_set_0/output_0.pb", std::ios::binary);
  ASSERT_TRUE(got.ParseFromIstream(&g));
  ASSERT_TRUE(want.ParseFromIstream(&w));
  ASSERT_EQ(got.dims_size(), want.dims_size());
  const std::string& a = got.raw_data();
  const std::string& b = want.raw_data();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i + 4 <= a.size(); i += 4) {
    float x, y;
    std::memcpy(&x, a.data() + i, 4);
    std::memcpy(&y, b.data() + i, 4);
    EXPECT_NEAR(x, y, 1e-4 + 1e-3 * std::abs(y)) << i / 4;
  }
  ExpectOneLineError(RunAllot("run " + dir + "/model.onnx --placement " + placement + " --inputs " + Temp("nowhere")),
                     "input_0.pb");
}

}  // namespace

namespace {

std::string StepTime(const std::string& json) {
  const size_t at = json.find("\"step_time_ms\": ");
  return at == std::string::npos ? std::string() : json.substr(at, json.find(',', at) - at);
}

// A placement file says what it was made for: mode, optimizer, cluster and dim bindings stand in for options not
// given, and a conflicting option is one line naming both.
TEST(CliTest, PlacementFilesCarryModeOptimizerAndBindings) {
  const std::string placement = Temp("mlp_training.json");
  const Outcome placed = RunAllot("place gen:mlp --mode training --optimizer adam --cluster p100x2 --placer etf -o " +
                                  placement + " --json");
  ASSERT_EQ(placed.exit_code, 0) << placed.out;
  const Outcome simulated = RunAllot("simulate gen:mlp --placement " + placement + " --json");
  ASSERT_EQ(simulated.exit_code, 0) << simulated.out;
  EXPECT_EQ(StepTime(placed.out), StepTime(simulated.out));
  ExpectOneLineError(RunAllot("simulate gen:mlp --mode inference --placement " + placement),
                     "field 'mode' is training but the command line gives --mode inference");
  ExpectOneLineError(RunAllot("simulate gen:mlp --optimizer sgd --placement " + placement),
                     "field 'optimizer' is adam but the command line gives --optimizer sgd");
  const std::string annotated = Temp("mlp_training.onnx");
  ASSERT_EQ(RunAllot("export " + placement + " --model gen:mlp -o " + annotated).exit_code, 0);
  const Outcome from_model = RunAllot("simulate gen:mlp --placement " + annotated + " --json");
  ASSERT_EQ(from_model.exit_code, 0) << from_model.out;
  EXPECT_EQ(StepTime(placed.out), StepTime(from_model.out));

  // A model with a symbolic dim, placed with it bound.
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(14);
  auto* g = m.mutable_graph();
  g->set_name("symbolic");
  for (const char* name : {"x", "y"}) {
    auto* vi = name[0] == 'x' ? g->add_input() : g->add_output();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("rows");
    tt->mutable_shape()->add_dim()->set_dim_value(64);
  }
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->add_input("x");
  relu->add_output("y");
  const std::string model = Temp("symbolic.onnx");
  std::ofstream(model, std::ios::binary) << m.SerializeAsString();
  const std::string bound = Temp("symbolic_place.json");
  // cpu3: a preset of the cpuN family, which `allot clusters` does not list one by one.
  ASSERT_EQ(RunAllot("place " + model + " --dim rows=32 --cluster cpu3 --placer single -o " + bound).exit_code, 0);
  EXPECT_EQ(RunAllot("simulate " + model + " --placement " + bound).exit_code, 0);
  EXPECT_EQ(RunAllot("run " + model + " --placement " + bound + " --steps 1 --warmup 0").exit_code, 0);
  ExpectOneLineError(RunAllot("simulate " + model + " --dim rows=8 --placement " + bound),
                     "field 'bindings.dims.rows' is 32 but the command line gives --dim rows=8");
}

}  // namespace

namespace {

// Another group's cost graph (msr-fiddle/dnn-partitioning's format) converts, keeping its co-location classes
// and CPU-only nodes, and places with them honoured.
TEST(CliTest, FiddleCostGraphsConvertAndPlaceWithTheirConstraints) {
  if (std::system("/usr/bin/python3 -c 'import json' > /dev/null 2>&1") != 0) GTEST_SKIP() << "no /usr/bin/python3";
  const std::string in = Temp("fiddle.json"), out = Temp("fiddle_allot.json"), placement = Temp("fiddle_place.json");
  std::ofstream(in) << R"({"maxSizePerFPGA": 17179869184, "maxFPGAs": 2, "maxCPUs": 1,
    "nodes": [{"id": 1, "name": "embed", "supportedOnFpga": 0, "cpuLatency": 2.0, "fpgaLatency": 0.5, "size": 1e6},
              {"id": 2, "name": "layer", "supportedOnFpga": 1, "cpuLatency": 9.0, "fpgaLatency": 1.0, "size": 1e6,
               "colorClass": 7},
              {"id": 3, "name": "head", "supportedOnFpga": 1, "cpuLatency": 9.0, "fpgaLatency": 1.0, "size": 1e6,
               "colorClass": 7}],
    "edges": [{"sourceId": 1, "destId": 2, "cost": 0.1, "size": 4096},
              {"sourceId": 2, "destId": 3, "cost": 0.1}]})";
  const std::string convert = "/usr/bin/python3 " + std::string(ALLOT_SOURCE_DIR) + "/models/convert_fiddle.py " +
                              in + " " + out + " > /dev/null";
  ASSERT_EQ(std::system(convert.c_str()), 0);
  const Outcome placed = RunAllot("place " + out + " --cluster p100x2 --placer refine -o " + placement);
  ASSERT_EQ(placed.exit_code, 0) << placed.out;
  std::ifstream file(placement);
  const std::string text((std::istreambuf_iterator<char>(file)), {});
  EXPECT_NE(text.find("\"embed\": \"cpu:0\""), std::string::npos) << text;  // CPU-only
  const auto device_of = [&](const std::string& node) {
    const size_t at = text.find("\"" + node + "\": \"");
    return at == std::string::npos ? std::string() : text.substr(at + node.size() + 5, 6);
  };
  EXPECT_EQ(device_of("layer"), device_of("head"));  // one co-location class
  ExpectOneLineError(RunAllot("place " + in + " --cluster p100x2 --placer etf"), "not an allot cost graph");
}

}  // namespace
