// The `allot._allot` extension: errors first (every allot::Error becomes a Python exception with the CLI's
// one-line message), then the bindings.
#include <Python.h>

#include "graph/error.h"
#include "python/bindings.h"

PYBIND11_MODULE(_allot, m) {
  namespace py = pybind11;
  m.doc() = "allot's importer, cost model, simulator and placers (the C++ code the `allot` CLI runs)";
  // AllotError subclasses ValueError: every allot::Error is bad input (a file, a spec, a placement).
  py::register_exception<allot::Error>(m, "AllotError", PyExc_ValueError);
  // Registered later, so tried first: a missing file is also FileNotFoundError.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const allot::FileNotFound& e) {
      PyErr_SetString(PyExc_FileNotFoundError, e.what());
    }
  });
  allot::python::BindModel(m);
  allot::python::BindProblem(m);
}
