"""What `sbi infer SPEC -o DIR` does, from Python: train the spec's method, save the posterior, draw
output.samples samples for the spec's observation into DIR/samples.csv (used by overhead.sh)."""
import sys

import sbipp

spec = sbipp.load_spec(sys.argv[1])
posterior = sbipp.infer(spec, progress=False)
posterior.save(sys.argv[2])
samples = posterior.sample(spec.observation, spec.output_samples, seed=1)
sbipp.write_csv(sys.argv[2] + "/samples.csv", posterior.parameter_names, samples)
