"""sbi 0.25's sequential methods in rounds for one sbibm observation, as a user of sbi would run them,
to set beside `sbi infer` with the same method, budget and rounds (bench/sequential/tasks.sh).

    . ../shared/peers/env.sh
    $SBI_PYTHON bench/sequential/sbi_sequential.py --task two_moons --method SNRE --sims 10000 \
        --rounds 10 --obs 1 --seed 1 --out /tmp/snre.csv

Each round draws its parameters from the current posterior (round 1: the prior), simulates, appends
the rows and trains on everything so far (sbi's default: continuing from the last weights); the
posterior is sbi's default for the method (slice MCMC for SNRE and SNLE, NRE_B for SNRE). Writes
10 000 draws for the observation and prints the wall time per round and in all; the last line is a
JSON summary, with the C2ST against the reference posterior (../shared/bench/c2st.py).
Simulators and priors are those of ../shared/peers/run_sbi.py (two_moons, gaussian_linear, slcp).
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))
sys.path.insert(0, os.path.join(SHARED, "peers"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from run_sbi import make_prior, read_csv_matrix, simulate, write_csv_matrix  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", choices=("two_moons", "gaussian_linear", "slcp"), required=True)
    ap.add_argument("--method", choices=("SNRE", "SNLE"), required=True)
    ap.add_argument("--sims", type=int, required=True, help="total simulation budget")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--obs", type=int, required=True, help="sbibm observation number (1-10)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="samples CSV")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    from sbi.inference import SNLE, SNRE

    folder = os.path.join(SHARED, "data", "sbibm", args.task, f"obs_{args.obs}")
    _, xo = read_csv_matrix(os.path.join(folder, "observation.csv"))
    x_o = torch.as_tensor(xo[0], dtype=torch.float32).unsqueeze(0)
    prior = make_prior(args.task)
    dim = int(prior.sample((1,)).shape[-1])

    inference = {"SNRE": SNRE, "SNLE": SNLE}[args.method](prior=prior, show_progress_bars=False)
    proposal = prior
    per_round = [args.sims // args.rounds + (1 if r < args.sims % args.rounds else 0) for r in range(args.rounds)]
    seconds = []
    start = time.perf_counter()
    posterior = None
    for n in per_round:
        t0 = time.perf_counter()
        theta = proposal.sample((n,), show_progress_bars=False) if posterior is not None else proposal.sample((n,))
        x = torch.as_tensor(simulate(args.task, theta.double().numpy(), rng))
        estimator = inference.append_simulations(theta, x).train()
        posterior = inference.build_posterior(estimator)
        proposal = posterior.set_default_x(x_o)
        seconds.append(round(time.perf_counter() - t0, 2))
        print(f"round {len(seconds)}/{args.rounds}: {n} simulations, {seconds[-1]} s", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    samples = posterior.sample((10000,), x=x_o, show_progress_bars=False).detach().numpy()
    sample_seconds = time.perf_counter() - t0
    total = time.perf_counter() - start
    write_csv_matrix(args.out, [f"parameter_{i + 1}" for i in range(dim)], samples)

    c2st = subprocess.run(
        [sys.executable, os.path.join(SHARED, "bench", "c2st.py"), os.path.join(folder, "reference_posterior_samples.csv"), args.out],
        capture_output=True, text=True, check=True).stdout
    print(c2st.strip())
    print(json.dumps({"tool": "sbi 0.25", "task": args.task, "method": args.method, "observation": args.obs,
                      "simulations": args.sims, "rounds": args.rounds, "seed": args.seed, "threads": torch.get_num_threads(),
                      "round_seconds": seconds, "final_sample_seconds": round(sample_seconds, 2), "seconds": round(total, 2),
                      "c2st": json.loads(c2st.strip().splitlines()[-1])["c2st"]}))


if __name__ == "__main__":
    main()
