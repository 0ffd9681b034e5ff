"""Runs /work/shared/bench/torch_mlp_bench.py unchanged, but timed by CPU time instead of wall time.

On a machine shared with other jobs a wall-clock figure includes the time slices the scheduler
gives to them; the process's CPU time does not. The shared script times with time.perf_counter;
this wrapper points that name at time.process_time (all threads of this process) before running
the script's main(), so both figures come from the same code. Usage: as the shared script, e.g.
    /usr/bin/python3 bench/nn/torch_cpu_time.py SCRIPT --hidden 128 --threads 1
"""
import importlib.util
import sys
import time


def main():
    script, args = sys.argv[1], sys.argv[2:]
    time.perf_counter = time.process_time
    spec = importlib.util.spec_from_file_location("torch_mlp_bench", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(args)


if __name__ == "__main__":
    sys.exit(main())
