"""Calibration: fit a scenario's free parameters to published figures, with uncertainty.

* :mod:`calibration.problem` — calibration problem files (``calibration/<name>.toml``):
  the scenario, the free parameters with bounds and priors, the observations with their
  measurement models and sources; validated with every problem reported at once.
* :mod:`calibration.fit` — the fit on the expected engine: a point estimate (maximum a
  posteriori, L-BFGS-B from several starts) and a posterior sample (sampling-importance-
  resampling over a scrambled Sobol design), diagnostics, back-tests, and the calibrated
  scenario with its ``posterior`` block.
* :mod:`calibration.cli` — ``parity calibrate`` and ``parity backtest``.

``docs/calibration.md`` documents the file format and the method; ``docs/validation.md`` the
measured back-tests.
"""

from calibration.fit import Fit, backtest, calibrated_scenario_data, fit_problem
from calibration.problem import Problem, load_problem

__all__ = [
    "Fit",
    "Problem",
    "backtest",
    "calibrated_scenario_data",
    "fit_problem",
    "load_problem",
]
