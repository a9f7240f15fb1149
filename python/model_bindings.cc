// load_model, Model (the graph as NumPy arrays), Cluster and the presets.
#include <pybind11/stl.h>

#include <map>

#include "cost_model/cluster.h"
#include "graph/graph.h"
#include "python/bindings.h"

namespace allot::python {
namespace {

const Graph& G(const PyModel& m) { return m.model->graph; }

py::list NodeStrings(const Graph& g, std::string_view (Graph::*get)(NodeId) const) {
  py::list out(g.num_nodes());
  for (NodeId n = 0; n < g.num_nodes(); ++n) {
    const std::string_view s = (g.*get)(n);
    out[n] = py::str(s.data(), s.size());
  }
  return out;
}

// Op types interned in first-seen order: ids for embeddings, names to read them back.
py::tuple OpTypeIds(const Graph& g) {
  std::map<std::string_view, int64_t> ids;
  py::list names;
  py::array_t<int64_t> out(static_cast<py::ssize_t>(g.num_nodes()));
  int64_t* o = out.mutable_data();
  for (NodeId n = 0; n < g.num_nodes(); ++n) {
    const auto [it, fresh] = ids.emplace(g.op_type(n), static_cast<int64_t>(ids.size()));
    if (fresh) names.append(py::str(it->first.data(), it->first.size()));
    o[n] = it->second;
  }
  return py::make_tuple(out, names);
}

py::dict DeviceDict(const Device& d) {
  py::dict out;
  out["name"] = d.name;
  out["kind"] = d.kind == DeviceKind::kCpu ? "cpu" : "gpu";
  out["model"] = d.model;
  out["peak_flops_f32"] = d.peak_flops_f32;
  out["peak_flops_f16"] = d.peak_flops_f16;
  out["memory_bandwidth"] = d.memory_bandwidth;
  out["memory_capacity"] = d.memory_capacity;
  out["launch_overhead"] = d.launch_overhead;
  return out;
}

}  // namespace

void BindModel(py::module_& m) {
  m.def(
      "load_model",
      [](const std::string& model, const std::string& mode, const std::string& optimizer, int64_t batch,
         int64_t seq, const std::map<std::string, int64_t>& dims, bool check) {
        tools::ModelArgs args;
        args.model = model;
        if (mode != "inference" && mode != "training")
          throw py::value_error("mode: expected 'inference' or 'training', got '" + mode + "'");
        if (optimizer != "sgd" && optimizer != "momentum" && optimizer != "adam")
          throw py::value_error("optimizer: expected 'sgd', 'momentum' or 'adam', got '" + optimizer + "'");
        if (batch < 0 || seq < 0) throw py::value_error("batch and seq: expected positive integers (0: unbound)");
        args.mode = mode;
        args.optimizer = optimizer;
        args.batch = batch;
        args.seq = seq;
        for (const auto& [name, value] : dims) args.dims.push_back(name + "=" + std::to_string(value));
        args.no_check = !check;
        PyModel out;
        {
          py::gil_scoped_release release;
          out.model = std::make_shared<const tools::LoadedModel>(tools::LoadModel(args));
        }
        out.args = std::move(args);
        return out;
      },
      py::arg("model"), py::arg("mode") = "inference", py::arg("optimizer") = "momentum", py::arg("batch") = 0,
      py::arg("seq") = 0, py::arg("dims") = std::map<std::string, int64_t>{}, py::arg("check") = true,
      "Loads a model as `allot` does: an ONNX file, a JSON cost graph (*.json) or 'gen:SPEC' (see `allot models`).\n"
      "mode='training' adds backward and optimizer ops; batch, seq and dims bind symbolic dimensions.");

  py::class_<PyModel>(m, "Model", "A model's operator graph (inference or a training step), read-only")
      .def_property_readonly("source", [](const PyModel& p) { return p.args.model; })
      .def_property_readonly("mode", [](const PyModel& p) { return p.args.mode; })
      .def_property_readonly("num_nodes", [](const PyModel& p) { return G(p).num_nodes(); })
      .def_property_readonly("num_edges", [](const PyModel& p) { return G(p).num_edges(); })
      .def_property_readonly("graph_hash", [](const PyModel& p) { return G(p).hash_hex(); })
      .def_property_readonly("node_names", [](const PyModel& p) { return NodeStrings(G(p), &Graph::node_name); })
      .def_property_readonly("op_types", [](const PyModel& p) { return NodeStrings(G(p), &Graph::op_type); })
      .def_property_readonly("op_type_ids", [](const PyModel& p) { return OpTypeIds(G(p)); },
                             "(ids, names): per node an index into names, op types in first-seen order")
      .def_property_readonly("roles", [](const PyModel& p) {
            const Graph& g = G(p);
            py::array_t<int8_t> out(static_cast<py::ssize_t>(g.num_nodes()));
            for (NodeId n = 0; n < g.num_nodes(); ++n) out.mutable_data()[n] = static_cast<int8_t>(g.node(n).role);
            return out;
          }, "per node: 0 forward, 1 gradient, 2 optimizer update")
      .def_property_readonly("forward", [](const PyModel& p) {
            const Graph& g = G(p);
            py::array_t<int64_t> out(static_cast<py::ssize_t>(g.num_nodes()));
            for (NodeId n = 0; n < g.num_nodes(); ++n) {
              const NodeId f = g.node(n).forward;
              out.mutable_data()[n] = f == kNone ? -1 : static_cast<int64_t>(f);
            }
            return out;
          }, "per node: the forward op a gradient or update op runs with (-1 for forward ops)")
      .def_property_readonly("flops", [](const PyModel& p) { return ToNumpy<double>(G(p).flops()); })
      .def_property_readonly("bytes_accessed", [](const PyModel& p) { return ToNumpy<double>(G(p).bytes_accessed()); },
                             "per node: bytes read and written from device memory")
      .def_property_readonly("output_bytes", [](const PyModel& p) { return ToNumpy<int64_t>(G(p).output_bytes()); })
      .def_property_readonly("parameter_bytes",
                             [](const PyModel& p) { return ToNumpy<int64_t>(G(p).parameter_bytes()); })
      .def_property_readonly("successors", [](const PyModel& p) {
            const Graph& g = G(p);
            return py::make_tuple(ToNumpy<int64_t>(g.out_offsets()), ToNumpy<int64_t>(g.out_nodes()),
                                  ToNumpy<int64_t>(g.out_bytes()));
          }, "CSR (offsets [N+1], nodes [E], bytes [E]): the consumers of each node, weighted by bytes")
      .def_property_readonly("predecessors", [](const PyModel& p) {
            const Graph& g = G(p);
            return py::make_tuple(ToNumpy<int64_t>(g.in_offsets()), ToNumpy<int64_t>(g.in_nodes()),
                                  ToNumpy<int64_t>(g.in_bytes()));
          }, "CSR (offsets [N+1], nodes [E], bytes [E]): the producers of each node")
      .def_property_readonly("topological_order", [](const PyModel& p) { return ToNumpy<int64_t>(G(p).topo_order()); })
      .def("__repr__", [](const PyModel& p) {
        return "<allot.Model " + p.args.model + " (" + std::to_string(G(p).num_nodes()) + " nodes, " + p.args.mode +
               ")>";
      });

  py::class_<Cluster>(m, "Cluster", "Devices and the links between them")
      .def(py::init([](const std::string& name_or_path) { return LoadCluster(name_or_path); }),
           py::arg("name_or_path"), "A preset (see cluster_presets()) or a cluster JSON file")
      .def_property_readonly("name", &Cluster::name)
      .def_property_readonly("num_devices", &Cluster::num_devices)
      .def_property_readonly("device_names", [](const Cluster& c) {
            std::vector<std::string> out;
            for (const Device& d : c.devices()) out.push_back(d.name);
            return out;
          })
      .def_property_readonly("devices", [](const Cluster& c) {
            py::list out;
            for (const Device& d : c.devices()) out.append(DeviceDict(d));
            return out;
          }, "per device: name, kind, model, peak FLOP/s, memory bandwidth (B/s), capacity (bytes), launch overhead (s)")
      .def("transfer_time",
           [](const Cluster& c, int64_t from, int64_t to, int64_t bytes) {
             const auto D = static_cast<int64_t>(c.num_devices());
             if (from < 0 || from >= D || to < 0 || to >= D)
               throw py::value_error("transfer_time: devices are 0.." + std::to_string(D - 1));
             if (bytes < 0) throw py::value_error("transfer_time: bytes must be >= 0");
             return c.TransferTime(static_cast<DeviceId>(from), static_cast<DeviceId>(to), static_cast<uint64_t>(bytes));
           },
           py::arg("src"), py::arg("dst"), py::arg("bytes"), "seconds to move bytes on an idle network")
      .def("to_json", &Cluster::ToJson)
      .def("__repr__", [](const Cluster& c) {
        return "<allot.Cluster " + c.name() + " (" + std::to_string(c.num_devices()) + " devices)>";
      });

  m.def("cluster_presets", [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (const ClusterPreset& p : ListClusterPresets()) out.emplace_back(p.name, p.description);
    return out;
  }, "(name, description) of every preset cluster");
}

}  // namespace allot::python
