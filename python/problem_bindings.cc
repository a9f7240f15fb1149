// Problem (a model on a cluster with its costs), its simulator, decision units, placers and placement files.
#include <pybind11/stl.h>

#include <chrono>
#include <mutex>

#include "cost_model/bounds.h"
#include "cost_model/placement.h"
#include "cost_model/simulator.h"
#include "graph/coarsen.h"
#include "graph/error.h"
#include "graph/file_io.h"
#include "python/bindings.h"
#include "tools/all_placers.h"
#include "tools/cluster_args.h"
#include "tools/place_run.h"
#include "tools/simulation_report.h"

namespace allot::python {
namespace {

// What simulate() returns: SimResult's fields as Python values.
struct PySimResult {
  double step_time = 0;
  bool valid = true;
  std::string error;
  py::array_t<double> busy;
  py::array_t<int64_t> peak_memory;
  py::array_t<int64_t> link_bytes;
  int64_t transferred_bytes = 0;
  int64_t transfers_count = 0;
  py::object schedule = py::none();
};

py::dict ScheduleDict(const SimResult& r) {
  const size_t n = r.ops.size(), t = r.transfers.size();
  py::array_t<int64_t> node(n), device(n), tensor(t), from(t), to(t), bytes(t);
  py::array_t<double> start(n), end(n), tstart(t), tend(t);
  for (size_t i = 0; i < n; ++i) {
    node.mutable_data()[i] = r.ops[i].node;
    device.mutable_data()[i] = r.ops[i].device;
    start.mutable_data()[i] = r.ops[i].start;
    end.mutable_data()[i] = r.ops[i].end;
  }
  for (size_t i = 0; i < t; ++i) {
    tensor.mutable_data()[i] = r.transfers[i].tensor;
    from.mutable_data()[i] = r.transfers[i].from;
    to.mutable_data()[i] = r.transfers[i].to;
    bytes.mutable_data()[i] = static_cast<int64_t>(r.transfers[i].bytes);
    tstart.mutable_data()[i] = r.transfers[i].start;
    tend.mutable_data()[i] = r.transfers[i].end;
  }
  py::dict ops, transfers, out;
  ops["node"] = node, ops["device"] = device, ops["start"] = start, ops["end"] = end;
  transfers["tensor"] = tensor, transfers["src"] = from, transfers["dst"] = to, transfers["bytes"] = bytes;
  transfers["start"] = tstart, transfers["end"] = tend;
  out["ops"] = ops;
  out["transfers"] = transfers;
  return out;
}

PySimResult ToPy(const SimResult& r, bool schedule) {
  PySimResult out;
  out.step_time = r.step_time;
  out.valid = r.valid;
  out.error = r.error;
  out.busy = ToNumpy<double>(r.busy);
  out.peak_memory = ToNumpy<int64_t>(r.peak_memory);
  out.link_bytes = ToNumpy<int64_t>(r.link_bytes);
  out.transferred_bytes = static_cast<int64_t>(r.transferred_bytes);
  out.transfers_count = static_cast<int64_t>(r.transfers_count);
  if (schedule) out.schedule = ScheduleDict(r);
  return out;
}

// A model placed on a cluster: the cost table, the placement problem (groups, pins) and a pool of simulators, so
// that threads calling simulate() on one Problem run in parallel (a Simulator is single-threaded).
class PyProblem {
 public:
  PyProblem(const PyModel& model, Cluster cluster, const std::string& profile, const std::string& order)
      : args_(model.args), order_(tools::ParseDispatchOrder(order)) {
    {
      py::gil_scoped_release release;
      m_ = tools::AttachCosts(*model.model, std::move(cluster), profile);
      problem_ = tools::MakeProblem(m_);
      problem_.order = order_;
      lower_bound_ = ComputeLowerBound(m_.model.graph, m_.costs);
    }
  }

  const tools::CostedModel& costed() const { return m_; }
  const PlacementProblem& problem() const { return problem_; }
  const Graph& graph() const { return m_.model.graph; }
  size_t num_devices() const { return m_.cluster.num_devices(); }
  DispatchOrder order() const { return order_; }
  double lower_bound() const { return lower_bound_.value(); }
  const tools::ModelArgs& args() const { return args_; }

  // One device per node from any integer sequence; errors name the first bad entry.
  void ReadPlacement(const py::handle& obj, std::vector<DeviceId>& out) const {
    py::array any = py::array::ensure(obj);
    if (!any) throw py::type_error("placement: expected a sequence of device indices");
    const char kind = any.dtype().kind();
    if (any.size() > 0 && kind != 'i' && kind != 'u')
      throw py::type_error("placement: expected integer device indices, got dtype " +
                           std::string(py::str(any.dtype())));
    auto a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(any);
    const size_t n = graph().num_nodes();
    if (a.ndim() != 1 || static_cast<size_t>(a.shape(0)) != n)
      throw py::value_error("placement: expected " + std::to_string(n) + " devices, one per node (Units.expand maps "
                            "one per unit to one per node); got shape " + std::string(py::str(any.attr("shape"))));
    const int64_t* p = a.data();
    const auto D = static_cast<int64_t>(num_devices());
    out.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (p[i] < 0 || p[i] >= D)
        throw py::value_error("placement[" + std::to_string(i) + "] (node '" + std::string(graph().node_name(
                                  static_cast<NodeId>(i))) + "'): device " + std::to_string(p[i]) +
                              " is not in cluster " + m_.cluster.name() + " (devices 0.." + std::to_string(D - 1) + ")");
      out[i] = static_cast<DeviceId>(p[i]);
    }
  }

  PySimResult Simulate(const py::handle& placement, bool legalize, bool schedule) {
    std::unique_ptr<Slot> slot = Acquire();
    ReadPlacement(placement, slot->placement);
    SimResult copy;
    const SimResult* r = nullptr;
    {
      py::gil_scoped_release release;
      if (legalize) problem_.Legalize(slot->placement);
      if (schedule) {
        Simulator sim(graph(), m_.cluster, m_.costs, SimOptions{order_, true});
        copy = sim.Run(slot->placement);
        r = &copy;
      } else {
        r = &slot->sim->Run(slot->placement);
      }
    }
    PySimResult out = ToPy(*r, schedule);
    Release(std::move(slot));
    return out;
  }

  // Seconds per Simulator::Run in C++ alone (the benchmark's reference for the Python call's overhead).
  double NativeSeconds(const py::handle& placement, int64_t repeats) {
    if (repeats < 1) throw py::value_error("repeats: expected >= 1");
    std::unique_ptr<Slot> slot = Acquire();
    ReadPlacement(placement, slot->placement);
    double seconds = 0;
    {
      py::gil_scoped_release release;
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < repeats; ++i) slot->sim->Run(slot->placement);
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    Release(std::move(slot));
    return seconds / static_cast<double>(repeats);
  }

 private:
  struct Slot {
    std::unique_ptr<Simulator> sim;
    std::vector<DeviceId> placement;
  };
  std::unique_ptr<Slot> Acquire() {
    {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      if (!pool_.empty()) {
        std::unique_ptr<Slot> s = std::move(pool_.back());
        pool_.pop_back();
        return s;
      }
    }
    auto s = std::make_unique<Slot>();
    s->sim = std::make_unique<Simulator>(graph(), m_.cluster, m_.costs, SimOptions{order_, false});
    return s;
  }
  void Release(std::unique_ptr<Slot> s) {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_.push_back(std::move(s));
  }

  tools::ModelArgs args_;
  DispatchOrder order_;
  tools::CostedModel m_;
  PlacementProblem problem_;
  LowerBound lower_bound_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Slot>> pool_;
};

// Decision units: a coarsening of the graph (the forced co-location groups, optionally fused and capped), the
// unit graph's arrays, and the map from one device per unit back to one per node.
struct PyUnits {
  std::shared_ptr<PyProblem> owner;
  CoarseGraph cg;

  py::array_t<int64_t> Expand(const py::handle& obj) const {
    py::array any = py::array::ensure(obj);
    if (!any || (any.size() > 0 && any.dtype().kind() != 'i' && any.dtype().kind() != 'u'))
      throw py::type_error("unit devices: expected integer device indices");
    auto a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(any);
    const size_t U = cg.num_groups();
    if (a.ndim() != 1 || static_cast<size_t>(a.shape(0)) != U)
      throw py::value_error("unit devices: expected " + std::to_string(U) + " devices, one per unit; got shape " +
                            std::string(py::str(any.attr("shape"))));
    const auto D = static_cast<int64_t>(owner->num_devices());
    const int64_t* p = a.data();
    for (size_t u = 0; u < U; ++u)
      if (p[u] < 0 || p[u] >= D)
        throw py::value_error("unit devices[" + std::to_string(u) + "] (unit '" + cg.group_names[u] + "'): device " +
                              std::to_string(p[u]) + " is not in the cluster (devices 0.." + std::to_string(D - 1) + ")");
    std::vector<DeviceId> placement(cg.group_of.size());
    for (size_t n = 0; n < placement.size(); ++n) placement[n] = static_cast<DeviceId>(p[cg.group_of[n]]);
    owner->problem().Legalize(placement);
    return ToNumpy<int64_t>(placement);
  }
};

// The units' own directed edges (u -> v where some op of u feeds one of v), deduplicated, bytes summed.
py::tuple UnitEdges(const PyUnits& u) {
  const Graph& g = u.owner->graph();
  std::vector<std::pair<uint64_t, uint64_t>> edges;  // (src << 32 | dst, bytes)
  for (NodeId a = 0; a < g.num_nodes(); ++a) {
    const auto succ = g.successors(a);
    const auto bytes = g.successor_bytes(a);
    for (size_t i = 0; i < succ.size(); ++i) {
      const uint64_t s = u.cg.group_of[a], d = u.cg.group_of[succ[i]];
      if (s != d) edges.emplace_back(s << 32 | d, bytes[i]);
    }
  }
  std::sort(edges.begin(), edges.end());
  std::vector<int64_t> src, dst, b;
  for (const auto& [key, bytes] : edges) {
    const auto s = static_cast<int64_t>(key >> 32), d = static_cast<int64_t>(key & 0xffffffffu);
    if (!src.empty() && src.back() == s && dst.back() == d) {
      b.back() += static_cast<int64_t>(bytes);
      continue;
    }
    src.push_back(s), dst.push_back(d), b.push_back(static_cast<int64_t>(bytes));
  }
  return py::make_tuple(ToNumpy<int64_t>(src), ToNumpy<int64_t>(dst), ToNumpy<int64_t>(b));
}

struct PyPlaceResult {
  std::string placer, options, options_json;
  py::array_t<int64_t> placement;
  PySimResult result;
  double seconds = 0;
  std::vector<std::tuple<int64_t, double, double>> search_curve;
};

}  // namespace

void BindProblem(py::module_& m) {
  py::class_<PySimResult>(m, "SimResult", "One simulated step of a placement")
      .def_readonly("step_time", &PySimResult::step_time, "seconds")
      .def_readonly("valid", &PySimResult::valid, "False: some device's peak memory exceeds its capacity")
      .def_readonly("error", &PySimResult::error, "the worst memory overflow, when not valid")
      .def_readonly("busy", &PySimResult::busy, "per device: seconds of compute")
      .def_readonly("peak_memory", &PySimResult::peak_memory, "per device: bytes")
      .def_readonly("link_bytes", &PySimResult::link_bytes, "per link: bytes moved")
      .def_readonly("transferred_bytes", &PySimResult::transferred_bytes)
      .def_readonly("transfers_count", &PySimResult::transfers_count)
      .def_readonly("schedule", &PySimResult::schedule,
                    "with schedule=True: {'ops': {node, device, start, end}, 'transfers': {tensor, src, dst, bytes, "
                    "start, end}} as arrays; else None")
      .def("__repr__", [](const PySimResult& r) {
        return "<allot.SimResult step_time=" + std::to_string(r.step_time * 1e3) + " ms" +
               (r.valid ? "" : " INVALID: " + r.error) + ">";
      });

  py::class_<PyPlaceResult>(m, "PlaceResult", "A placer's placement, simulated")
      .def_readonly("placer", &PyPlaceResult::placer)
      .def_readonly("options", &PyPlaceResult::options, "the options it ran with, as a spec 'key=value,...'")
      .def_readonly("options_json", &PyPlaceResult::options_json)
      .def_readonly("placement", &PyPlaceResult::placement, "one device per node")
      .def_readonly("result", &PyPlaceResult::result)
      .def_readonly("seconds", &PyPlaceResult::seconds, "time the placer took")
      .def_readonly("search_curve", &PyPlaceResult::search_curve,
                    "learned placers: (placements evaluated, best step time, seconds) per update");

  py::class_<PyUnits>(m, "Units", "Decision units: groups of nodes placed as one")
      .def_property_readonly("num_units", [](const PyUnits& u) { return u.cg.num_groups(); })
      .def("__len__", [](const PyUnits& u) { return u.cg.num_groups(); })
      .def_property_readonly("unit_of", [](const PyUnits& u) { return ToNumpy<int64_t>(u.cg.group_of); },
                             "per node: its unit")
      .def_property_readonly("members", [](const PyUnits& u) {
            return py::make_tuple(ToNumpy<int64_t>(u.cg.member_offsets), ToNumpy<int64_t>(u.cg.members));
          }, "CSR (offsets [U+1], nodes): the nodes of each unit")
      .def_property_readonly("names", [](const PyUnits& u) { return u.cg.group_names; },
                             "the name of each unit's first forward member")
      .def_property_readonly("flops", [](const PyUnits& u) { return ToNumpy<double>(u.cg.flops); })
      .def_property_readonly("bytes_accessed", [](const PyUnits& u) { return ToNumpy<double>(u.cg.bytes_accessed); })
      .def_property_readonly("memory_bytes", [](const PyUnits& u) { return ToNumpy<int64_t>(u.cg.memory_bytes); },
                             "parameters, optimizer state and outputs of the members")
      .def_property_readonly("first_rank", [](const PyUnits& u) {
            const Graph& g = u.owner->graph();
            std::vector<int64_t> rank(u.cg.num_groups(), static_cast<int64_t>(g.num_nodes()));
            for (NodeId n = 0; n < g.num_nodes(); ++n) {
              int64_t& r = rank[u.cg.group_of[n]];
              r = std::min<int64_t>(r, g.topo_rank()[n]);
            }
            return ToNumpy<int64_t>(rank);
          }, "per unit: the earliest topological position of its nodes (an order to visit units in)")
      .def("edges", &UnitEdges, "(src, dst, bytes): directed unit edges where some node of src feeds one of dst")
      .def_property_readonly("adjacency", [](const PyUnits& u) {
            return py::make_tuple(ToNumpy<int64_t>(u.cg.out_offsets), ToNumpy<int64_t>(u.cg.out_groups),
                                  ToNumpy<int64_t>(u.cg.out_bytes));
          }, "undirected CSR (offsets [U+1], units, bytes): both directions of a pair merged")
      .def("expand", &PyUnits::Expand, py::arg("unit_devices"),
           "One device per unit -> one per node (co-location and pins applied, as placers do)");

  py::class_<PyProblem, std::shared_ptr<PyProblem>>(m, "Problem",
                                                   "A model on a cluster: costs, simulator, placers, placement files")
      .def(py::init([](const PyModel& model, const py::object& cluster, const std::string& profile,
                       const std::string& order) {
             Cluster c = py::isinstance<py::str>(cluster) ? LoadCluster(cluster.cast<std::string>())
                                                         : cluster.cast<Cluster>();
             return std::make_shared<PyProblem>(model, std::move(c), profile, order);
           }),
           py::arg("model"), py::arg("cluster") = "p100x4", py::arg("profile") = "", py::arg("order") = "fifo",
           "cluster: a preset name, a cluster JSON path or a Cluster; profile: a profile JSON from `allot "
           "profile`; order: the simulator's dispatch order, 'fifo' or 'critical-path'")
      .def_property_readonly("num_nodes", [](const PyProblem& p) { return p.graph().num_nodes(); })
      .def_property_readonly("num_devices", &PyProblem::num_devices)
      .def_property_readonly("cluster", [](const PyProblem& p) { return p.costed().cluster; })
      .def_property_readonly("lower_bound", &PyProblem::lower_bound,
                             "seconds: no placement's step is faster (critical path, or all work over all devices)")
      .def_property_readonly("costs", [](const PyProblem& p) {
            const CostTable& c = p.costed().costs;
            py::array_t<double> out({static_cast<py::ssize_t>(c.num_nodes), static_cast<py::ssize_t>(c.num_devices)});
            std::copy(c.time.begin(), c.time.end(), out.mutable_data());
            return out;
          }, "[nodes, devices]: seconds each op takes on each device")
      .def_property_readonly("groups", [](const std::shared_ptr<PyProblem>& p) {
            return PyUnits{p, p->problem().groups};
          }, "the forced co-location groups (gradient and update ops with their forward op; the model's classes)")
      .def_property_readonly("pinned", [](const PyProblem& p) {
            py::array_t<int64_t> out(static_cast<py::ssize_t>(p.graph().num_nodes()));
            for (size_t n = 0; n < p.graph().num_nodes(); ++n) {
              const DeviceId d = p.problem().pinned[n];
              out.mutable_data()[n] = d == Cluster::kNoDevice ? -1 : d;
            }
            return out;
          }, "per node: the device it is pinned to, or -1")
      .def(
          "units",
          [](const std::shared_ptr<PyProblem>& p, size_t max_units, bool fuse_chains, bool fuse_elementwise) {
            CoarsenOptions o;
            o.classes = p->problem().classes;
            o.max_groups = max_units;
            o.fuse_chains = fuse_chains;
            o.fuse_elementwise = fuse_elementwise;
            PyUnits u{p, {}};
            {
              py::gil_scoped_release release;
              u.cg = Coarsen(p->graph(), o);
            }
            return u;
          },
          py::arg("max_units") = 0, py::arg("fuse_chains") = false, py::arg("fuse_elementwise") = false,
          "Coarser decision units (graph/coarsen.h): the forced groups, chains fused, capped at max_units")
      .def("simulate", &PyProblem::Simulate, py::arg("placement"), py::arg("legalize") = false,
           py::arg("schedule") = false,
           "Simulates one step of exactly this placement: one device index per node (any integer array). "
           "Placers' placements and Units.expand's are legal already; legalize=True first moves gradient and update "
           "ops to their forward op's device and applies pins, as reading a placement file does. The GIL is "
           "released while it runs.")
      .def("native_seconds", &PyProblem::NativeSeconds, py::arg("placement"), py::arg("repeats") = 100,
           "Benchmark reference: seconds per C++ Simulator::Run of this (legal) placement, without Python")
      .def(
          "place",
          [](const PyProblem& p, const std::string& spec, int64_t seed) {
            tools::PlaceRun run;
            {
              py::gil_scoped_release release;
              run = tools::RunPlacer(p.costed(), spec, seed, p.order());
            }
            if (!run.error.empty()) throw Error(run.error);
            PyPlaceResult out;
            out.placer = run.placer;
            out.options = run.options_spec;
            out.options_json = run.options_json;
            out.placement = ToNumpy<int64_t>(run.placement);
            out.result = ToPy(run.result, false);
            out.seconds = run.seconds;
            for (const SearchPoint& s : run.search) out.search_curve.emplace_back(s.evaluated, s.best_step_time, s.seconds);
            return out;
          },
          py::arg("placer"), py::arg("seed") = -1,
          "Runs a placer by spec, 'NAME[:key=value,...]' (see placers()), as `allot place` does; seed >= 0 overrides "
          "its seed option")
      .def(
          "write_placement",
          [](const PyProblem& p, const std::string& path, const py::handle& placement, const std::string& placer,
             const py::object& options) {
            std::vector<DeviceId> devices;
            p.ReadPlacement(placement, devices);
            p.problem().Legalize(devices);
            PlacementInfo info;
            info.model = p.args().model;
            info.mode = p.args().mode;
            info.optimizer = p.args().optimizer;
            info.bindings = tools::ParseBindings(p.args());
            info.placer = placer;
            info.placer_options_json =
                options.is_none() ? "{}" : py::module_::import("json").attr("dumps")(options).cast<std::string>();
            info.lower_bound = p.lower_bound();
            const tools::CostedModel& m = p.costed();
            Simulator sim(m.model.graph, m.cluster, m.costs, SimOptions{p.order(), false});
            const SimResult& r = sim.Run(devices);
            WriteFileAtomic(path, PlacementToJson(m.model.graph, m.cluster, devices, info, &r));
          },
          py::arg("path"), py::arg("placement"), py::arg("placer") = "python", py::arg("options") = py::none(),
          "Writes a placement file (README 'Placement files') that `allot simulate`, `run`, `export` and `compare "
          "--placements` read; options: a JSON-serialisable dict recorded as the placer's options")
      .def(
          "read_placement",
          [](const PyProblem& p, const std::string& path) {
            return ToNumpy<int64_t>(ReadPlacementFile(path, p.graph(), p.costed().cluster));
          },
          py::arg("path"), "Reads a placement file (or an annotated ONNX model) for this model: one device per node")
      .def("__repr__", [](const PyProblem& p) {
        return "<allot.Problem " + p.args().model + " on " + p.costed().cluster.name() + ">";
      });

  m.def("placers", [] {
    py::list out;
    for (const PlacerInfo& info : tools::AllPlacers().List()) {
      py::dict d;
      d["name"] = info.name;
      d["description"] = info.description;
      py::list options;
      for (const OptionSpec& o : info.options) {
        py::dict od;
        od["name"] = o.name;
        od["default"] = o.default_value;
        od["help"] = o.help;
        options.append(od);
      }
      d["options"] = options;
      out.append(d);
    }
    return out;
  }, "Every registered placer: name, description and options (as `allot placers` lists them)");
}

}  // namespace allot::python
