"""The public API is a contract: this list changes only on purpose (see DESIGN.md)."""

from __future__ import annotations

from pathlib import Path

import tracepond

EXPECTED = [
    "ActiveRun", "ContextThreadPoolExecutor", "DROP", "Experiment", "ExperimentConflictError",
    "LiveSpan", "LoadedModel", "LoggedModel", "ModelInputError", "ModelLoadError", "ModelStats",
    "ModelVersion", "RegisteredModel", "Run", "RunError", "SpanType", "Trace", "__version__",
    "active_run", "autolog", "configure", "delete_model_alias", "delete_model_version_tag",
    "end_run", "flush", "get_current_span", "get_current_trace_id", "get_experiment_by_name",
    "get_logged_model", "get_metric_history", "get_model_version", "get_model_version_by_alias",
    "get_registered_model", "get_run", "get_trace", "link_traces_to_run", "load_model",
    "log_artifact", "log_metric", "log_metrics", "log_model", "log_param", "log_params",
    "model_stats", "register_model", "search_model_versions", "search_registered_models",
    "search_runs", "search_traces", "set_active_model", "set_experiment", "set_model_alias",
    "set_model_version_tag", "set_tag", "set_tags", "sql", "start_run", "start_span", "trace",
    "update_current_trace", "update_model_version", "update_registered_model", "wrap_with_context",
    # quality
    "Assessment", "AssessmentError", "AssessmentSource", "EvaluationDataset", "EvaluationResult",
    "Expectation", "Feedback", "Scorer", "create_dataset", "delete_assessment", "evaluate",
    "get_assessment", "get_assessments", "get_dataset", "judges", "log_expectation",
    "log_feedback", "override_feedback", "scorer", "scorers",
]  # fmt: skip
EXPECTED += [  # prompts (issue 14)
    "PromptError", "PromptVersion", "delete_prompt_alias", "load_prompt", "register_prompt",
    "search_prompts", "set_prompt_alias",
]  # fmt: skip

DESIGN_MD_NAMES = [  # the names DESIGN.md promises; they may never disappear
    "autolog", "trace", "start_span", "update_current_trace", "get_current_trace_id",
    "start_run", "log_params", "log_metric", "set_active_model", "register_model", "load_model",
    "search_traces", "get_trace", "sql", "configure", "flush",
    "register_prompt", "set_prompt_alias", "load_prompt", "search_prompts",
    "log_feedback", "log_expectation", "get_assessments", "scorer", "evaluate", "scorers",
    "judges", "create_dataset", "get_dataset",
]  # fmt: skip


def test_all_is_pinned_and_sorted() -> None:
    assert tracepond.__all__ == sorted(EXPECTED)


def test_design_names_are_public() -> None:
    assert set(DESIGN_MD_NAMES) <= set(tracepond.__all__)


def test_every_public_name_resolves() -> None:
    for name in tracepond.__all__:
        assert getattr(tracepond, name) is not None, name


def test_type_checking_block_matches_the_lazy_map() -> None:
    """Static checkers see exactly the objects that the lazy facade returns."""
    source = Path(tracepond.__file__).read_text(encoding="utf-8")
    text = source.split("if TYPE_CHECKING:", 1)[1]
    for name in tracepond.__all__:
        if name != "__version__":
            assert f"import {name} as {name}" in text, name


def test_import_is_cheap() -> None:
    """`import tracepond` loads no DuckDB, no provider client, no web server."""
    import subprocess
    import sys

    code = (
        "import sys, tracepond; "
        "print(sorted(m for m in ('duckdb', 'openai', 'groq', 'botocore', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_autolog_stays_the_function_after_its_subpackage_is_imported() -> None:
    """`tracepond.autolog` names both a subpackage and the public function; the function wins."""
    import subprocess
    import sys

    code = (
        "import tracepond.autolog.openai, tracepond; "
        "from tracepond.autolog import PROVIDERS; "
        "print(callable(tracepond.autolog), type(tracepond.autolog).__name__, 'openai' in PROVIDERS)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "function", "True"]


def test_the_package_pickles_by_reference() -> None:
    """Logged models pickled by value may refer to tracepond (e.g. a @tracepond.trace'd helper)."""
    import pickle

    import cloudpickle

    assert pickle.loads(pickle.dumps(tracepond)) is tracepond
    assert cloudpickle.loads(cloudpickle.dumps(tracepond)) is tracepond
