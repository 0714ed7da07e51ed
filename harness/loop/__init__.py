"""The policy development loop: diagnose a run's errors, revise the policy on held-out evidence,
forecast a revision's cost, promote an accepted candidate.

Import from the modules: `harness.loop.diagnose.diagnose_dir`, `harness.loop.revise.revise`,
`harness.loop.forecast.forecast_revise`, `harness.loop.promote.promote`; the failure clusters
themselves are `harness.metrics.diagnosis.diagnose`, their file `harness.record.diagnosis`.
"""
