"""The Gymnasium-style environment: rewards against the simulator, episode returns, seeding."""
import numpy as np
import pytest

import allot


def cost(problem, env, unit_devices):
    r = problem.simulate(env.units.expand(unit_devices))
    return r.step_time / problem.lower_bound if r.valid else env.invalid_cost


def test_one_shot_reward_is_minus_the_cost(problem):
    env = allot.PlacementEnv(problem, mode="one-shot", seed=3)
    obs, info = env.reset()
    assert obs["features"].shape == (env.num_units, 4 + problem.num_devices)
    assert obs["features"].dtype == np.float32 and (obs["features"] >= 0).all() and (obs["features"] <= 1).all()
    src, dst = obs["edges"]
    assert src.size == obs["edge_bytes"].size and (src != dst).all()
    for _ in range(3):
        action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        assert terminated and not truncated
        assert reward == pytest.approx(-cost(problem, env, action), rel=1e-12)
        assert info["step_time"] == problem.simulate(env.node_placement(action)).step_time


def test_progressive_return_telescopes_from_start_to_end(problem):
    env = allot.PlacementEnv(problem, mode="progressive", max_units=24, fuse_chains=True, start="single", seed=5)
    obs, info = env.reset()
    start = obs["placement"].copy()
    single = problem.place("single")
    assert info["step_time"] == pytest.approx(single.result.step_time, rel=1e-12)
    total, steps, order = 0.0, 0, []
    terminated = False
    while not terminated:
        assert not obs["visited"][obs["current"]]
        order.append(int(obs["current"]))
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        total += reward
        steps += 1
    assert steps == env.num_units == len(set(order))
    assert obs["visited"].all() and obs["current"] == env.num_units
    assert total == pytest.approx(cost(problem, env, start) - cost(problem, env, obs["placement"]), abs=1e-9)
    # Units are visited in topological order.
    ranks = env.units.first_rank[order]
    assert (np.diff(ranks) > 0).all()
    with pytest.raises(RuntimeError):
        env.step(0)


def test_seeded_episodes_repeat(problem):
    def episode(seed):
        env = allot.PlacementEnv(problem, mode="progressive", max_units=16, start="random", seed=seed)
        obs, _ = env.reset()
        rewards = [env.step(env.action_space.sample())[1] for _ in range(env.num_units)]
        return obs["placement"].tolist(), rewards

    assert episode(7) == episode(7)
    assert episode(7) != episode(8)
    env = allot.PlacementEnv(problem, mode="progressive", max_units=16, start="random")
    a = env.reset(seed=11)[0]["placement"]
    b = env.reset(seed=11)[0]["placement"]
    assert (a == b).all()


def test_invalid_placements_cost_invalid_cost():
    # cpu2 with 100 KiB on cpu:0: nothing fits there.
    import json
    import tempfile

    spec = json.loads(allot.Cluster("cpu2").to_json())
    spec["devices"][0]["memory_gib"] = 1e-4
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    problem = allot.Problem(allot.load_model("gen:mlp"), f.name)
    env = allot.PlacementEnv(problem, invalid_cost=7.0)
    env.reset()
    _, reward, _, _, info = env.step(np.zeros(env.num_units, dtype=np.int64))
    assert not info["valid"] and reward == -7.0 and "cpu:0" in info["error"]
    _, reward, _, _, info = env.step(np.ones(env.num_units, dtype=np.int64))
    assert info["valid"] and reward < 0 and reward > -7.0


def test_bad_actions_raise(problem):
    env = allot.PlacementEnv(problem, mode="one-shot")
    env.reset()
    with pytest.raises(ValueError, match="one per unit"):
        env.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="devices must be in"):
        env.step(np.full(env.num_units, problem.num_devices))
    env = allot.PlacementEnv(problem, mode="progressive", max_units=4)
    env.reset()
    with pytest.raises(ValueError, match="not in the cluster"):
        env.step(problem.num_devices)
    with pytest.raises(ValueError, match="mode"):
        allot.PlacementEnv(problem, mode="sequential")
