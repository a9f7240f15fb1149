"""A Gymnasium-style placement environment over allot's simulator (reset/step signatures, no gymnasium import).

Two modes over a problem's decision units (`Problem.units`: the forced co-location groups, optionally fused and
capped):

- "one-shot" (Mirhoseini et al., GDP): an episode is one step; the action is a device per unit; the reward is
  -cost(placement).
- "progressive" (Placeto's MDP, Addanki et al. 2019): an episode starts from a placement and visits every unit once
  in topological order; the action is the current unit's device; the reward is the cost drop,
  cost(before) - cost(after), so an episode's return is cost(start) - cost(end).

cost(p) = step_time(p) / reward_scale for a placement that fits in memory, and `invalid_cost` for one that does
not (default reward_scale: the problem's lower bound, so a cost of 1.0 is the bound; default invalid_cost: 10).

Observations are dicts of NumPy arrays:
  features   float32 [U, 4 + D]: log1p of the unit's FLOPs, bytes accessed and resident bytes (scaled to [0, 1] over
             the graph), its topological position in [0, 1], and its compute time on each device over the largest
  edges      int64 [2, E]: directed unit edges (some node of src feeds one of dst); edge_bytes float32 [E], scaled
  placement  int64 [U]: the current device of each unit (progressive)
  visited    bool [U] (progressive); current: int64 [] the unit to place next (U when the episode is over)
"""
from __future__ import annotations

from typing import Any

import numpy as np


class Discrete:
    """A minimal Gymnasium-like space: integers in [0, n), `shape` of them."""

    def __init__(self, n: int, shape: tuple = (), seed: int | None = None):
        self.n = int(n)
        self.shape = tuple(shape)
        self._rng = np.random.default_rng(seed)

    def seed(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(seed)

    def sample(self) -> np.ndarray | int:
        x = self._rng.integers(0, self.n, size=self.shape)
        return int(x) if self.shape == () else x

    def contains(self, x: Any) -> bool:
        a = np.asarray(x)
        return a.shape == self.shape and np.issubdtype(a.dtype, np.integer) and bool(((a >= 0) & (a < self.n)).all())

    def __repr__(self) -> str:
        return f"Discrete({self.n}, shape={self.shape})"


class PlacementEnv:
    """Placement as an RL environment. `reset(seed=None, options=None) -> (obs, info)`,
    `step(action) -> (obs, reward, terminated, truncated, info)`.

    problem: an allot.Problem. mode: "one-shot" or "progressive". max_units, fuse_chains: the decision units
    (Problem.units). start (progressive): "single" (the single placer's placement), any placer spec, "random", or
    an int array with a device per unit. reward_scale: seconds per unit of cost (default: the lower bound).
    """

    def __init__(self, problem, mode: str = "one-shot", max_units: int = 0, fuse_chains: bool = False,
                 start: str | np.ndarray = "single", reward_scale: float | None = None,
                 invalid_cost: float = 10.0, seed: int | None = None):
        if mode not in ("one-shot", "progressive"):
            raise ValueError(f"mode: expected 'one-shot' or 'progressive', got {mode!r}")
        if invalid_cost <= 0:
            raise ValueError("invalid_cost: expected > 0")
        self.problem = problem
        self.mode = mode
        self.units = problem.units(max_units=max_units, fuse_chains=fuse_chains)
        self.num_units = len(self.units)
        self.num_devices = problem.num_devices
        self.reward_scale = float(reward_scale if reward_scale is not None else problem.lower_bound)
        if not self.reward_scale > 0:
            raise ValueError("reward_scale: expected > 0")
        self.invalid_cost = float(invalid_cost)
        self._start = start
        self._rng = np.random.default_rng(seed)
        self.order = np.argsort(self.units.first_rank, kind="stable")
        if mode == "one-shot":
            self.action_space = Discrete(self.num_devices, (self.num_units,), seed)
        else:
            self.action_space = Discrete(self.num_devices, (), seed)
        self._static = self._static_observation()
        self._placement = np.zeros(self.num_units, dtype=np.int64)
        self._step = 0
        self._cost = 0.0
        self._last = None

    # --- Gymnasium API -------------------------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self.action_space.seed(seed)
        self._step = 0
        if self.mode == "one-shot":
            return self._observation(), {}
        self._placement = self._start_placement()
        self._cost, self._last = self._evaluate(self._placement)
        return self._observation(), self._info()

    def step(self, action):
        if self.mode == "one-shot":
            devices = self._check_devices(action)
            cost, self._last = self._evaluate(devices)
            self._placement = devices
            self._cost = cost
            return self._observation(), -cost, True, False, self._info()
        if self._step >= self.num_units:
            raise RuntimeError("step() after the episode ended: call reset()")
        device = int(action)
        if not 0 <= device < self.num_devices:
            raise ValueError(f"action: device {device} is not in the cluster (0..{self.num_devices - 1})")
        self._placement = self._placement.copy()
        self._placement[self.order[self._step]] = device
        self._step += 1
        cost, self._last = self._evaluate(self._placement)
        reward = self._cost - cost
        self._cost = cost
        return self._observation(), reward, self._step == self.num_units, False, self._info()

    # --- helpers ---------------------------------------------------------------------------------------------
    def node_placement(self, unit_devices: np.ndarray | None = None) -> np.ndarray:
        """One device per node for a device per unit (default: the current placement), for Problem.simulate and
        Problem.write_placement."""
        return self.units.expand(self._placement if unit_devices is None else unit_devices)

    def cost(self, unit_devices: np.ndarray) -> float:
        """The cost of a device per unit (see the module's docstring)."""
        return self._evaluate(self._check_devices(unit_devices))[0]

    def _evaluate(self, unit_devices: np.ndarray):
        r = self.problem.simulate(self.units.expand(unit_devices))
        return (r.step_time / self.reward_scale if r.valid else self.invalid_cost), r

    def _check_devices(self, action) -> np.ndarray:
        a = np.asarray(action)
        if a.shape != (self.num_units,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"action: expected {self.num_units} integer devices, one per unit; got {a.dtype} "
                             f"{a.shape}")
        if ((a < 0) | (a >= self.num_devices)).any():
            raise ValueError(f"action: devices must be in 0..{self.num_devices - 1}")
        return a.astype(np.int64)

    def _start_placement(self) -> np.ndarray:
        start = self._start
        if isinstance(start, str) and start == "random":
            return self._rng.integers(0, self.num_devices, size=self.num_units)
        if isinstance(start, str):
            nodes = self.problem.place(start).placement
            offsets, members = self.units.members
            return nodes[members[offsets[:-1]]].astype(np.int64)
        return self._check_devices(start)

    def _static_observation(self) -> dict:
        u = self.units

        def scaled(x):
            x = np.log1p(np.asarray(x, dtype=np.float64))
            top = x.max() if x.size else 0.0
            return x / top if top > 0 else x

        costs = self.problem.costs  # [nodes, devices]
        per_unit = np.zeros((self.num_units, self.num_devices))
        np.add.at(per_unit, u.unit_of, costs)
        top = per_unit.max() if per_unit.size else 0.0
        if top > 0:
            per_unit /= top
        rank = np.argsort(np.argsort(u.first_rank, kind="stable"), kind="stable")
        position = rank / max(1, self.num_units - 1)
        features = np.column_stack([scaled(u.flops), scaled(u.bytes_accessed), scaled(u.memory_bytes), position,
                                    per_unit]).astype(np.float32)
        src, dst, nbytes = u.edges()
        return {"features": features, "edges": np.stack([src, dst]), "edge_bytes": scaled(nbytes).astype(np.float32)}

    def _observation(self) -> dict:
        obs = dict(self._static)
        if self.mode == "progressive":
            visited = np.zeros(self.num_units, dtype=bool)
            visited[self.order[:self._step]] = True
            obs["placement"] = self._placement.copy()
            obs["visited"] = visited
            obs["current"] = np.int64(self.order[self._step] if self._step < self.num_units else self.num_units)
        return obs

    def _info(self) -> dict:
        r = self._last
        return {"step_time": r.step_time, "valid": r.valid, "error": r.error, "cost": self._cost}
