#pragma once
// What an ONNX node reads by name, the values its control-flow bodies (If, Loop, Scan) read from enclosing
// graphs included: those are implicit inputs of the node, as the importer makes them IR inputs. The exporter
// splits a model along them and the runtime keeps them alive until the node has run.
#include <string>
#include <vector>

namespace onnx {
class NodeProto;
}

namespace allot {

// The node's inputs, then the names its bodies read from outside themselves (recursively through nested bodies);
// each once, empty names left out.
std::vector<std::string> NodeReads(const onnx::NodeProto& node);

}  // namespace allot
