#pragma once
// The Python module's C++ side: thin wrappers over the code the CLI runs (tools/model_loader.h,
// tools/cluster_args.h, tools/place_run.h, cost_model/simulator.h, cost_model/placement.h), never a second
// implementation. Arrays cross as NumPy copies of allot's flat columns (index-like values and byte counts as
// int64, so that NumPy arithmetic on them never turns into float).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tools/model_loader.h"

namespace allot::python {

namespace py = pybind11;

// A loaded model with the options it was loaded with (written into placement files).
struct PyModel {
  std::shared_ptr<const tools::LoadedModel> model;
  tools::ModelArgs args;
};

template <typename Out, typename In>
py::array_t<Out> ToNumpy(const In* data, size_t n) {
  py::array_t<Out> a(static_cast<py::ssize_t>(n));
  Out* out = a.mutable_data();
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(data[i]);
  return a;
}
template <typename Out, typename In>
py::array_t<Out> ToNumpy(const std::vector<In>& v) {
  return ToNumpy<Out>(v.data(), v.size());
}

void BindModel(py::module_& m);    // load_model, Model, Cluster, cluster_presets
void BindProblem(py::module_& m);  // Problem, Units, SimResult, PlaceResult, placers

}  // namespace allot::python
