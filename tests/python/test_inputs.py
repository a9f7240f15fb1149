"""Every kind of model input from Python: a PyTorch export with symbolic dims, a JSON cost graph with constraints,
a learned placer by spec."""
import json
import warnings

import numpy as np
import pytest

import allot
from conftest import cli_error, cli_json


def test_pytorch_export_with_a_symbolic_batch(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True).eval()
    path = tmp_path / "encoder.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on asserts inside nn.functional
        torch.onnx.export(layer, torch.randn(2, 10, 32), str(path), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=13)
    with pytest.raises(allot.AllotError, match="symbolic dim 0 .'batch'.") as unbound:
        allot.load_model(str(path))
    assert str(unbound.value) == cli_error("inspect", str(path))
    model = allot.load_model(str(path), dims={"batch": 8})
    cli = cli_json("place", str(path), "--dim", "batch=8", "--cluster", "cpu2", "--placer", "etf")
    problem = allot.Problem(model, "cpu2")
    assert problem.place("etf").result.step_time * 1e3 == pytest.approx(cli["step_time_ms"], rel=1e-12)
    assert "MatMul" in model.op_types and model.num_nodes > 10
    # Twice the batch: more work.
    big = allot.Problem(allot.load_model(str(path), dims={"batch": 16}), "cpu2")
    assert big.costs.sum() > problem.costs.sum()


COST_GRAPH = {
    "format": "allot-cost-graph", "version": 1, "name": "tiny",
    "nodes": [
        {"name": "a", "op": "MatMul", "time_us": {"gpu": 100, "cpu": 1000}, "output_bytes": 1 << 20},
        {"name": "b", "op": "Relu", "time_us": {"gpu": 10, "cpu": 50}, "output_bytes": 1 << 20, "colocation": "k"},
        {"name": "c", "op": "Relu", "time_us": {"gpu": 20, "cpu": 60}, "output_bytes": 1 << 20, "colocation": "k"},
        {"name": "d", "op": "Add", "time_us": {"gpu": 5, "cpu": 7}, "output_bytes": 1024, "devices": ["cpu"]},
    ],
    "edges": [{"from": "a", "to": "b"}, {"from": "a", "to": "c"}, {"from": "b", "to": "d"}, {"from": "c", "to": "d"}],
}


def test_cost_graph_times_classes_and_pins(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(COST_GRAPH))
    problem = allot.Problem(allot.load_model(str(path)), "p100x4")
    names = allot.Cluster("p100x4").devices
    gpu = [i for i, d in enumerate(names) if d["kind"] == "gpu"]
    cpu = [i for i, d in enumerate(names) if d["kind"] == "cpu"]
    costs = problem.costs
    assert costs[0, gpu[0]] == pytest.approx(100e-6) and costs[0, cpu[0]] == pytest.approx(1000e-6)
    groups = problem.groups
    assert len(groups) == 3 and groups.unit_of[1] == groups.unit_of[2]
    assert problem.pinned.tolist() == [-1, -1, -1, cpu[0]]
    # b and c split, d on a GPU: legalize puts c with b and d on the CPU, as a placement file would.
    placement = np.array([gpu[0], gpu[0], gpu[1], gpu[0]])
    legal = problem.simulate(placement, legalize=True)
    assert legal.step_time == problem.simulate([gpu[0], gpu[0], gpu[0], cpu[0]]).step_time
    assert problem.place("etf").placement[3] == cpu[0]
    with pytest.raises(allot.AllotError, match="already a profiled step"):
        allot.load_model(str(path), mode="training")


def test_learned_placer_by_spec(problem):
    r = problem.place("post:steps=4,samples=8", seed=3)
    assert r.placer == "post" and r.result.valid
    assert len(r.search_curve) == 4 and r.search_curve[-1][0] == 32
    assert r.result.step_time == pytest.approx(r.search_curve[-1][1], rel=1e-12)  # the best it sampled
    again = problem.place("post:steps=4,samples=8", seed=3)
    assert (again.placement == r.placement).all()
