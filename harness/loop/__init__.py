"""The policy development loop: diagnose a run's errors; the held-out split and candidate checks `revise` builds on."""

from harness.loop.candidate import CandidateCheck, check_candidate, policy_document
from harness.loop.describe import describe_diagnosis
from harness.loop.diagnose import Cluster, Diagnosis, diagnose, diagnose_dir, run_view
from harness.loop.forecast import ReviseForecast, forecast_revise
from harness.loop.promote import Promotion, promote
from harness.loop.revise import ReviseResult, revise
from harness.loop.split import Split, split_items

__all__ = ["CandidateCheck", "Cluster", "Diagnosis", "Split", "check_candidate", "describe_diagnosis", "diagnose",
           "diagnose_dir", "forecast_revise", "policy_document", "Promotion", "promote", "ReviseForecast",
           "ReviseResult", "revise", "run_view", "split_items"]
