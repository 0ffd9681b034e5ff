"""sbi 0.25's NPE with an NSF on a gaussian_linear table of 10^4 rows: epochs, best validation loss and
the first training/validation losses, to compare with sbi++'s training curve (training_curve.csv).

    . ../shared/peers/env.sh && cd /tmp && $SBI_PYTHON /path/to/bench/npe/sbi_gaussian_linear_curve.py nsf
"""
import sys
import time

import numpy as np
import torch
from sbi.inference import NPE

torch.manual_seed(1)
dim = 10
prior = torch.distributions.MultivariateNormal(torch.zeros(dim), 0.1 * torch.eye(dim))
theta = prior.sample((10000,))
x = theta + torch.randn_like(theta) * np.sqrt(0.1)
estimator = sys.argv[1] if len(sys.argv) > 1 else "nsf"
inference = NPE(prior=prior, density_estimator=estimator, show_progress_bars=False)
start = time.time()
inference.append_simulations(theta, x).train(training_batch_size=50)
summary = inference._summary
print(estimator, "epochs", summary["epochs_trained"], "best validation loss", summary["best_validation_loss"],
      "seconds", round(time.time() - start, 1))
print("validation, first 10 epochs", [round(v, 3) for v in summary["validation_loss"][:10]])
print("training, first 10 epochs", [round(v, 3) for v in summary["training_loss"][:10]])
