#!/usr/bin/env python3
"""Example external simulator for data/specs/external_example.json (standard library only).

Object protocol: reads {"theta": [mu, log_sigma], "seed": S, "index": i, "id": k} per line and
answers {"id": k, "y": [mean, standard deviation, minimum, maximum]} of 20 draws from
Normal(mu, exp(log_sigma)), drawn from random.Random(S) so that the table does not depend on the
number of workers. A standard deviation above 100 is refused with {"id": k, "error": "..."}.
"""
import json
import math
import random
import sys

DRAWS = 20


def simulate(theta, seed):
    mu, log_sigma = theta
    sigma = math.exp(log_sigma)
    if sigma > 100.0:
        return {"error": "sigma = %g is too large" % sigma}
    rng = random.Random(seed)
    x = [rng.gauss(mu, sigma) for _ in range(DRAWS)]
    mean = sum(x) / DRAWS
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (DRAWS - 1))
    return {"y": [mean, sd, min(x), max(x)]}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        answer = simulate(request["theta"], request["seed"])
        answer["id"] = request["id"]  # echoed, so that every answer is matched to its request
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
