"""allot from Python: the importer, cost model, simulator and placers of the `allot` CLI (the same C++ code).

    import allot
    model = allot.load_model("gen:inception_v3", mode="training")
    problem = allot.Problem(model, "p100x4")
    etf = problem.place("etf")
    print(etf.result.step_time, problem.simulate(etf.placement).step_time)

Errors: bad input raises AllotError (a ValueError) with the CLI's one-line message, FileNotFoundError for a
missing file, TypeError / ValueError for ill-typed arguments.
"""
from ._allot import (
    AllotError,
    Cluster,
    Model,
    PlaceResult,
    Problem,
    SimResult,
    Units,
    cluster_presets,
    load_model,
    placers,
)
from .env import Discrete, PlacementEnv

__all__ = [
    "AllotError",
    "Cluster",
    "Discrete",
    "Model",
    "PlaceResult",
    "PlacementEnv",
    "Problem",
    "SimResult",
    "Units",
    "cluster_presets",
    "load_model",
    "placers",
]
