#!/usr/bin/python3
"""Convert the cost graphs of Tarnawski et al. (NeurIPS 2020, msr-fiddle/dnn-partitioning) to allot's JSON cost
graph (README "JSON cost graphs"), so that allot's placers run on the 24 graphs that paper published.

Why a converter and not a second reader: their format speaks of one accelerator kind ("FPGA") and one CPU, with
co-location classes ("colorClass"), CPU-only nodes ("supportedOnFpga": 0) and edge costs as transfer times; allot's
format says the same things in its own words (per-kind times, "colocation", "devices", bytes on edges), and every
allot command already reads it.

Mapping, node by node:
    cpuLatency, fpgaLatency   -> time_us {"cpu": ..., "gpu": ...}   (milliseconds in their files: --latency-unit)
    size                      -> memory_bytes                      (resident on the accelerator)
    colorClass                -> colocation "class<N>"
    supportedOnFpga false     -> devices ["cpu"]
    name (or id)              -> name                              (ids where names repeat)
    edges: size (bytes) when the file has it, else cost (a transfer time) x --bandwidth-gbps
Their "maxFPGAs" accelerators of "maxSizePerFPGA" bytes are printed as a hint for the cluster to place on.

    /usr/bin/python3 models/convert_fiddle.py IN.json OUT.json [--latency-unit ms|us|s] [--bandwidth-gbps 12]
"""

import argparse
import json
import os
import sys
import tempfile

UNIT_US = {"s": 1e6, "ms": 1e3, "us": 1.0}


def convert(src, name, latency_unit, bandwidth_gbps):
    """src: their JSON object; returns allot's cost graph object. Raises ValueError naming the field at fault."""
    nodes = src.get("nodes")
    edges = src.get("edges", [])
    if not isinstance(nodes, list) or not nodes:
        raise ValueError("field 'nodes' must be a non-empty array")
    scale = UNIT_US[latency_unit]
    names, ids = {}, set()
    for i, n in enumerate(nodes):
        if "id" not in n:
            raise ValueError(f"nodes[{i}]: missing 'id'")
        if n["id"] in ids:
            raise ValueError(f"nodes[{i}]: duplicate id {n['id']}")
        ids.add(n["id"])
    taken = [n.get("name") for n in nodes]
    unique = len(set(taken)) == len(taken) and all(isinstance(t, str) and t for t in taken)
    out_nodes = []
    for i, n in enumerate(nodes):
        node_name = n["name"] if unique else f"node{n['id']}"
        names[n["id"]] = node_name
        node = {"name": node_name, "op": "Layer",
                "time_us": {"cpu": float(n.get("cpuLatency", 0)) * scale, "gpu": float(n.get("fpgaLatency", 0)) * scale},
                "memory_bytes": float(n.get("size", 0))}
        if "colorClass" in n:
            node["colocation"] = f"class{n['colorClass']}"
        if not n.get("supportedOnFpga", True):
            node["devices"] = ["cpu"]
        out_nodes.append(node)
    out_edges, out_bytes = [], {}
    for e, edge in enumerate(edges):
        for key in ("sourceId", "destId"):
            if edge.get(key) not in names:
                raise ValueError(f"edges[{e}]: {key} {edge.get(key)!r} is not a node id")
        if "size" in edge:
            size = float(edge["size"])
        else:
            size = float(edge.get("cost", 0)) * scale * 1e-6 * bandwidth_gbps * 1e9
        source = names[edge["sourceId"]]
        out_bytes[source] = max(out_bytes.get(source, 0.0), size)
        out_edges.append({"from": source, "to": names[edge["destId"]], "bytes": size})
    for node in out_nodes:
        node["output_bytes"] = out_bytes.get(node["name"], 0.0)
    return {"format": "allot-cost-graph", "version": 1, "name": name, "nodes": out_nodes, "edges": out_edges}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="a msr-fiddle/dnn-partitioning graph (JSON)")
    parser.add_argument("output", help="allot cost graph to write (JSON)")
    parser.add_argument("--latency-unit", choices=sorted(UNIT_US), default="ms",
                        help="unit of cpuLatency/fpgaLatency and of edge costs (default ms)")
    parser.add_argument("--bandwidth-gbps", type=float, default=12.0,
                        help="turns an edge's transfer time into bytes where the file gives no size (default 12)")
    args = parser.parse_args(argv)
    try:
        with open(args.input) as f:
            src = json.load(f)
        graph = convert(src, os.path.splitext(os.path.basename(args.input))[0], args.latency_unit,
                        args.bandwidth_gbps)
    except (OSError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        print(f"convert_fiddle: {args.input}: {e}", file=sys.stderr)
        return 1
    folder = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".convert_fiddle.")
    with os.fdopen(fd, "w") as f:
        json.dump(graph, f, indent=1)
    os.replace(tmp, args.output)
    hint = ""
    if "maxFPGAs" in src:
        hint = (f"; the paper's setting: {src['maxFPGAs']} accelerators of "
                f"{float(src.get('maxSizePerFPGA', 0)) / 2**30:.1f} GiB and {src.get('maxCPUs', 1)} CPU")
    print(f"wrote {args.output}: {len(graph['nodes'])} nodes, {len(graph['edges'])} edges{hint}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
