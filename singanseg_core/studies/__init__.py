"""The paper's segmentation studies (Table 2 small data, Table 1 real vs synthetic): ``config`` (what a study
is), ``plan`` (folds and runs), ``run`` (running and resuming one), ``results`` (tables and listings)."""

from .config import KINDS, STUDY_PRESETS, StudyConfig, parse_variant
from .plan import RunSpec, plan_runs, split_folds
from .results import StudyResult, list_studies, load_study, summarize_table, write_results
from .run import StudyProgress, run_study

__all__ = ["KINDS", "RunSpec", "STUDY_PRESETS", "StudyConfig", "StudyProgress", "StudyResult", "list_studies",
           "load_study", "parse_variant", "plan_runs", "run_study", "split_folds", "summarize_table",
           "write_results"]
