#!/usr/bin/env python3
"""Benchmark: the Python call's overhead over C++ Simulator::Run, and threads simulating in parallel.

    PYTHONPATH=build/python python3 python/benchmarks/simulate_overhead.py --model gen:nmt,layers=2 --mode training

For one placement (etf's), the median over rounds of: seconds per Simulator::Run in a C++ loop
(Problem.native_seconds), per Problem.simulate call from Python (the same work plus the call: reading the NumPy
array, building the result's arrays) and with legalize=True (plus co-location and pins), and
the throughput of T threads each calling simulate against one thread (the GIL is released while simulating).
"""
import argparse
import statistics
import sys
import threading
import time

import allot


def per_call(fn, repeats):
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def main() -> int:
    ap = argparse.ArgumentParser(description="Python simulate() overhead over C++ Simulator::Run")
    ap.add_argument("--model", default="gen:nmt,layers=2")
    ap.add_argument("--mode", default="training")
    ap.add_argument("--cluster", default="p100x4")
    ap.add_argument("--repeats", type=int, default=100, help="calls per round")
    ap.add_argument("--rounds", type=int, default=31)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    problem = allot.Problem(allot.load_model(args.model, mode=args.mode), args.cluster)
    placement = problem.place("etf").placement
    native, plain, legal = [], [], []
    timers = [lambda: native.append(problem.native_seconds(placement, args.repeats)),
              lambda: plain.append(per_call(lambda: problem.simulate(placement), args.repeats)),
              lambda: legal.append(per_call(lambda: problem.simulate(placement, legalize=True), args.repeats))]
    for r in range(args.rounds):
        for t in (timers if r % 2 == 0 else timers[::-1]):  # alternate the order: no one goes first always
            t()
    # This machine's speed drifts by tens of percent between seconds (a VM): each round times the three back to
    # back, and the overhead is the median of the rounds' ratios.
    n, p, l = statistics.median(native), statistics.median(plain), statistics.median(legal)
    ratio = statistics.median(b / a for a, b in zip(native, plain))
    ratio_legal = statistics.median(b / a for a, b in zip(native, legal))
    print(f"model {args.model} ({args.mode}, {problem.num_nodes} nodes) on {args.cluster}, etf's placement, "
          f"median of {args.rounds} rounds x {args.repeats} calls")
    print(f"C++ Simulator::Run              {n * 1e6:9.1f} us")
    print(f"Python simulate()               {p * 1e6:9.1f} us  overhead {100 * (ratio - 1):+.1f}%")
    print(f"Python simulate(legalize=True)  {l * 1e6:9.1f} us  {100 * (ratio_legal - 1):+.1f}%")

    def throughput(threads):
        calls = args.repeats
        workers = [threading.Thread(target=lambda: [problem.simulate(placement) for _ in range(calls)])
                   for _ in range(threads)]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return threads * calls / (time.perf_counter() - t0)

    pairs = [(throughput(1), throughput(args.threads)) for _ in range(5)]
    one = statistics.median(a for a, _ in pairs)
    many = statistics.median(b for _, b in pairs)
    print(f"threads: 1 -> {one:.0f} simulations/s, {args.threads} -> {many:.0f} simulations/s "
          f"({statistics.median(b / a for a, b in pairs):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
