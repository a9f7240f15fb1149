#pragma once
// Caps on a model's repeated fields, checked on its serialized bytes before protobuf parses them. A repeated field
// costs a hostile file little and a parser much: an empty string is 2 bytes on the wire and ~40 in a parsed message,
// an empty NodeProto 2 bytes and ~200, so a 100 MB list of node inputs would have protobuf allocate gigabytes
// before any check could refuse it. The walk reads the bytes once, skipping payloads it does not count (weights
// cost nothing), and stops at the first field over its cap.
//
// The caps are far above any real model (the largest exports allot has seen: ~10^5 nodes, 10^3 inputs to a node):
//   per graph: nodes, initializers, inputs, outputs, value_info            4,194,304 (2^22) each
//   per node: inputs, outputs 65,536 each; attributes 4,096
//   per attribute: ints, floats 16,777,216 (2^24); strings, tensors, graphs 65,536
//   per tensor: dims 64 (rank); string_data 16,777,216; external_data entries 1,024
//   per model: opset_import 1,024; metadata_props, functions 65,536; graphs nested 64 deep
// Malformed bytes are left to the parser, which names them.
#include <string>
#include <string_view>

namespace allot {

// Throws Error "SOURCE: node 'NAME' (OP) has N inputs; at most 65536" (or the graph, attribute or tensor and field
// over its cap). `source` names the file or model in the message.
void CheckRepeatedFieldCaps(std::string_view model_bytes, const std::string& source);

}  // namespace allot
