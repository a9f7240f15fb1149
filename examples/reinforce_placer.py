#!/usr/bin/env python3
"""A placement policy of your own, in PyTorch, trained with REINFORCE against allot's simulator.

The policy scores every decision unit (allot.PlacementEnv, one-shot mode) with a small graph network over the
units' features: a unit's embedding, the mean of its producers' and consumers' embeddings, and a free per-unit
bias (so it can also learn a unit's device outright, as Post's categoricals do). A step samples a batch of
placements, the environment simulates each (the GIL is released, so a thread pool simulates them in parallel),
and the log-probabilities are weighted by the batch-normalised rewards. The best placement found is written as a
placement file that the CLI reads:

    PYTHONPATH=build/python python3 examples/reinforce_placer.py --model gen:nas_cnn,seed=3 --mode training \\
        --cluster p100x4 --steps 300 --out reinforce.json
    build/allot compare --models gen:nas_cnn,seed=3 --mode training --cluster p100x4 \\
        --placers single,etf,metis,refine --placements reinforce.json -o report
"""
import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

import allot


class Policy(torch.nn.Module):
    def __init__(self, features: int, units: int, devices: int, hidden: int):
        super().__init__()
        self.embed = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.ReLU())
        self.head = torch.nn.Sequential(torch.nn.Linear(3 * hidden, hidden), torch.nn.ReLU(),
                                        torch.nn.Linear(hidden, devices))
        self.bias = torch.nn.Parameter(torch.zeros(units, devices))

    def forward(self, x, src, dst):
        h = self.embed(x)

        def mean_of(frm, to):
            total = torch.zeros_like(h).index_add_(0, to, h[frm])
            count = torch.bincount(to, minlength=h.shape[0]).clamp(min=1).unsqueeze(1)
            return total / count

        return self.head(torch.cat([h, mean_of(src, dst), mean_of(dst, src)], dim=1)) + self.bias


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="gen:nas_cnn,seed=3")
    ap.add_argument("--mode", default="training", choices=["inference", "training"])
    ap.add_argument("--cluster", default="p100x4")
    ap.add_argument("--max-units", type=int, default=0, help="cap on decision units (0: the co-location groups)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--samples", type=int, default=16, help="placements per step")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--entropy", type=float, default=0.01)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--warm-start", default="etf",
                    help="placer whose placement the policy starts near ('none': uniform over devices)")
    ap.add_argument("--warm-logit", type=float, default=4.0, help="initial logit bonus of the warm start's device")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="simulation threads")
    ap.add_argument("--out", required=True, help="placement file to write (the best placement found)")
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    problem = allot.Problem(allot.load_model(args.model, mode=args.mode), args.cluster)
    env = allot.PlacementEnv(problem, mode="one-shot", max_units=args.max_units, seed=args.seed)
    obs, _ = env.reset()
    x = torch.from_numpy(obs["features"])
    src, dst = (torch.from_numpy(e) for e in obs["edges"])
    policy = Policy(x.shape[1], env.num_units, env.num_devices, args.hidden)
    if args.warm_start != "none":
        # Start near a placer's placement (Placeto and GDP's fine-tuning also start from a placement): from a
        # uniform start, samples that keep neighbours together score best, and the policy collapses onto one
        # device before it finds a split that pays.
        nodes = problem.place(args.warm_start).placement
        offsets, members = env.units.members
        with torch.no_grad():
            policy.bias[torch.arange(env.num_units), torch.from_numpy(nodes[members[offsets[:-1]]])] = args.warm_logit
    opt = torch.optim.Adam(policy.parameters(), lr=args.lr)
    print(f"{args.model}: {problem.num_nodes} nodes, {env.num_units} units, {env.num_devices} devices; "
          f"lower bound {problem.lower_bound * 1e3:.2f} ms", file=sys.stderr)

    best_cost, best = float("inf"), None
    t0 = time.time()
    with ThreadPoolExecutor(args.threads) as pool:
        for step in range(1, args.steps + 1):
            dist = torch.distributions.Categorical(logits=policy(x, src, dst))
            actions = dist.sample((args.samples,))  # [K, U]
            costs = np.array(list(pool.map(env.cost, actions.numpy())))
            k = int(costs.argmin())
            if costs[k] < best_cost:
                best_cost, best = float(costs[k]), actions[k].numpy().copy()
            rewards = torch.from_numpy(-costs).float()
            advantage = (rewards - rewards.mean()) / (rewards.std() + 1e-8)
            logp = dist.log_prob(actions).sum(dim=1)
            loss = -(advantage * logp).mean() - args.entropy * dist.entropy().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 25 == 0 or step == args.steps:
                print(f"step {step}/{args.steps}  best {best_cost * problem.lower_bound * 1e3:.3f} ms  "
                      f"mean {costs.mean() * problem.lower_bound * 1e3:.3f} ms  "
                      f"{step * args.samples / (time.time() - t0):.0f} placements/s", file=sys.stderr)

    placement = env.node_placement(best)
    result = problem.simulate(placement)
    if not result.valid:
        print(f"no valid placement found: {result.error}", file=sys.stderr)
        return 1
    problem.write_placement(args.out, placement, placer="python-reinforce",
                            options={k: v for k, v in vars(args).items() if k != "out"})
    print(f"best {result.step_time * 1e3:.3f} ms; wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
