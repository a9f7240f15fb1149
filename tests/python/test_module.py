"""The module against the CLI on the same model, placement and seed; graph arrays; errors."""
import json
import threading

import numpy as np
import pytest

import allot
from conftest import CLUSTER, MODEL, cli_error, cli_json, run_cli

TRAIN = ["--mode", "training", "--cluster", CLUSTER]


def test_graph_arrays_match_inspect(model):
    stats = cli_json("inspect", MODEL, "--mode", "training")
    assert model.num_nodes == stats["nodes"]
    assert model.num_edges == stats["edges"]
    assert model.graph_hash == stats["graph_hash"]
    roles = model.roles
    assert (roles == 0).sum() == stats["forward_nodes"]
    assert (roles == 1).sum() == stats["gradient_nodes"]
    assert (roles == 2).sum() == stats["update_nodes"]
    assert model.flops.sum() == pytest.approx(stats["flops"], rel=1e-9)
    ids, names = model.op_type_ids
    assert [names[i] for i in ids] == model.op_types
    assert {n: int((np.array(model.op_types) == n).sum()) for n in names} == stats["op_histogram"]


def test_csr_is_consistent(model):
    offsets, succ, sbytes = model.successors
    poffsets, pred, pbytes = model.predecessors
    n = model.num_nodes
    assert offsets.shape == (n + 1,) and offsets[-1] == succ.size == model.num_edges
    assert (np.diff(offsets) >= 0).all() and (sbytes >= 0).all()
    forward = {(int(a), int(b), int(w)) for a in range(n) for b, w in zip(succ[offsets[a]:offsets[a + 1]],
                                                                           sbytes[offsets[a]:offsets[a + 1]])}
    backward = {(int(a), int(b), int(w)) for b in range(n) for a, w in zip(pred[poffsets[b]:poffsets[b + 1]],
                                                                            pbytes[poffsets[b]:poffsets[b + 1]])}
    assert forward == backward
    rank = np.empty(n, dtype=np.int64)
    rank[model.topological_order] = np.arange(n)
    for a, b, _ in forward:
        assert rank[a] < rank[b]
    # Gradient and update ops point at a forward op.
    fwd = model.forward
    assert ((fwd == -1) == (model.roles == 0)).all()
    assert (model.roles[fwd[fwd >= 0]] == 0).all()


def test_groups_colocate_gradients_with_their_forward_op(problem, model):
    groups = problem.groups
    unit_of = groups.unit_of
    fwd = model.forward
    has = fwd >= 0
    assert (unit_of[has] == unit_of[fwd[has]]).all()
    assert len(groups) == (model.roles == 0).sum()  # no classes: one group per forward op
    offsets, members = groups.members
    assert offsets[-1] == model.num_nodes and sorted(members.tolist()) == list(range(model.num_nodes))


def test_place_equals_the_cli(problem, tmp_path):
    for spec in ("etf", "metis", "refine:iterations=50"):
        path = tmp_path / "p.json"
        out = cli_json("place", MODEL, *TRAIN, "--placer", spec, "--seed", "1", "-o", str(path))
        mine = problem.place(spec, seed=1)
        assert (mine.placement == problem.read_placement(str(path))).all(), spec
        assert mine.result.step_time * 1e3 == pytest.approx(out["step_time_ms"], rel=1e-12), spec
        assert mine.placer == spec.split(":")[0]


def test_simulate_equals_the_cli(problem, tmp_path):
    path = tmp_path / "metis.json"
    run_cli("place", MODEL, *TRAIN, "--placer", "metis", "--seed", "2", "-o", str(path))
    cli = cli_json("simulate", MODEL, "--placement", str(path))
    r = problem.simulate(problem.read_placement(str(path)))
    assert r.step_time * 1e3 == pytest.approx(cli["step_time_ms"], rel=1e-12)
    assert r.valid == cli["valid"]
    names = problem.cluster.device_names
    assert {names[d]: int(b) for d, b in enumerate(r.peak_memory)} == cli["peak_memory_bytes"]
    assert [d["busy_ms"] for d in cli["devices"]] == pytest.approx(list(r.busy * 1e3), rel=1e-12)
    assert r.transfers_count == cli["transfers"] and r.transferred_bytes == cli["transferred_bytes"]
    assert problem.lower_bound * 1e3 == pytest.approx(cli["lower_bound_ms"], rel=1e-12)


def test_written_placement_is_read_by_the_cli(problem, tmp_path):
    rng = np.random.default_rng(0)
    devices = rng.integers(0, problem.num_devices, size=len(problem.groups))
    placement = problem.groups.expand(devices)
    path = tmp_path / "mine.json"
    problem.write_placement(str(path), placement, placer="python-random", options={"seed": 0})
    cli = cli_json("simulate", MODEL, "--placement", str(path))  # mode and cluster come from the file
    assert (problem.read_placement(str(path)) == placement).all()
    assert cli["step_time_ms"] == pytest.approx(problem.simulate(placement).step_time * 1e3, rel=1e-12)
    report = tmp_path / "report"
    out = run_cli("compare", "--models", MODEL, *TRAIN, "--placers", "single,etf", "--placements", str(path),
                  "-o", str(report)).stdout
    assert "python-random" in out
    rows = json.loads((report / "results.json").read_text())["models"][0]["rows"]
    mine = [r for r in rows if r["name"] == "python-random"]
    assert len(mine) == 1 and mine[0]["step_time"] * 1e3 == pytest.approx(cli["step_time_ms"], rel=1e-12)
    assert mine[0]["placer"] == f"python-random ({path})"
    # A placement file made for none of the models is an error (after the report of the others).
    p = run_cli("compare", "--models", "gen:nas_cnn,seed=4", *TRAIN, "--placers", "single", "--placements",
                str(path), "-o", str(report), check=False)
    assert p.returncode != 0 and "placement for none of --models" in p.stderr


def test_legalize_moves_gradients_to_their_forward_op(problem, model):
    placement = np.zeros(model.num_nodes, dtype=np.int64)
    placement[model.roles != 0] = 1  # gradients and updates elsewhere: legalized back to device 0
    zeros = problem.simulate(np.zeros(model.num_nodes, dtype=np.int32)).step_time
    assert problem.simulate(placement, legalize=True).step_time == zeros
    assert problem.simulate(placement).step_time != zeros  # exactly the placement given


def test_schedule_on_request(problem):
    r = problem.simulate(problem.place("etf").placement, schedule=True)
    ops = r.schedule["ops"]
    assert len(ops["node"]) == problem.num_nodes
    assert (ops["end"] >= ops["start"]).all() and ops["end"].max() == pytest.approx(r.step_time)
    assert len(r.schedule["transfers"]["bytes"]) == r.transfers_count
    assert problem.simulate(problem.place("etf").placement).schedule is None


def test_threads_simulate_in_parallel_with_equal_results(problem):
    rng = np.random.default_rng(1)
    placements = [problem.groups.expand(rng.integers(0, problem.num_devices, size=len(problem.groups)))
                  for _ in range(8)]
    expected = [problem.simulate(p).step_time for p in placements]
    results = [[None] * len(placements) for _ in range(4)]

    def work(t):
        for _ in range(5):
            for i, p in enumerate(placements):
                results[t][i] = problem.simulate(p).step_time

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results)


def test_costs_and_cluster(problem):
    costs = problem.costs
    assert costs.shape == (problem.num_nodes, problem.num_devices) and (costs >= 0).all()
    cluster = allot.Cluster(CLUSTER)
    assert cluster.device_names == problem.cluster.device_names
    assert cluster.transfer_time(0, 1, 1 << 20) > 0 and cluster.transfer_time(1, 1, 1 << 20) == 0
    assert CLUSTER in dict(allot.cluster_presets())
    names = [p["name"] for p in allot.placers()]
    assert names == [line.split()[0] for line in run_cli("placers").stdout.splitlines() if line[:1] not in " "]


def test_errors_carry_the_cli_message(problem, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        allot.load_model(str(tmp_path / "missing.onnx"))
    assert str(e.value) == cli_error("inspect", str(tmp_path / "missing.onnx"))
    with pytest.raises(allot.AllotError) as e:
        allot.load_model("gen:no_such_model")
    assert str(e.value) == cli_error("inspect", "gen:no_such_model")
    with pytest.raises(allot.AllotError) as e:
        problem.place("no_such_placer")
    assert str(e.value) == cli_error("place", MODEL, "--placer", "no_such_placer")
    with pytest.raises(allot.AllotError) as e:
        allot.Cluster("no_such_cluster")
    assert str(e.value) == cli_error("place", MODEL, "--cluster", "no_such_cluster")
    with pytest.raises(FileNotFoundError):
        allot.Cluster(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    with pytest.raises(allot.AllotError) as e:
        allot.load_model(str(bad))
    assert str(e.value) == cli_error("inspect", str(bad))
    # A placement file of another model.
    other = allot.Problem(allot.load_model("gen:nas_cnn,seed=4", mode="training"), CLUSTER)
    path = tmp_path / "other.json"
    other.write_placement(str(path), other.place("single").placement)
    with pytest.raises(allot.AllotError, match="graph_hash"):
        problem.read_placement(str(path))
    assert isinstance(allot.AllotError("x"), ValueError)


def test_bad_placements_raise(problem):
    n = problem.num_nodes
    with pytest.raises(ValueError, match=f"expected {n} devices"):
        problem.simulate(np.zeros(n - 1, dtype=np.int64))
    bad = np.zeros(n, dtype=np.int64)
    bad[3] = problem.num_devices
    with pytest.raises(ValueError, match=r"placement\[3\] \(node '"):
        problem.simulate(bad)
    bad[3] = -1
    with pytest.raises(ValueError, match="is not in cluster"):
        problem.simulate(bad)
    with pytest.raises(TypeError, match="integer"):
        problem.simulate(np.zeros(n, dtype=np.float64))
    with pytest.raises(TypeError):
        problem.simulate("cuda:0")
    assert problem.simulate([0] * n).valid  # any integer sequence
    with pytest.raises(ValueError, match="one per unit"):
        problem.groups.expand([0])
    with pytest.raises(ValueError):
        allot.load_model(MODEL, mode="train")
