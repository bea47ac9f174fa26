"""tracepond: LLM tracing and observability on OpenTelemetry, stored in DuckDB.

The public API is re-exported here and nothing else lives in this module. Names resolve lazily
so that ``import tracepond`` stays cheap (no DuckDB, no provider client) until a feature is used.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from tracepond._version import __version__ as __version__

# public name -> "module:attribute". Grouped by owner module; keep each group sorted.
_EXPORTS: dict[str, str] = {
    # configuration
    "configure": "tracepond.pipeline:configure",
    # tracing
    "DROP": "tracepond.tracing.serialize:DROP",
    "ContextThreadPoolExecutor": "tracepond.tracing.context:ContextThreadPoolExecutor",
    "LiveSpan": "tracepond.tracing.spans:LiveSpan",
    "SpanType": "tracepond.conventions.span_types:SpanType",
    "flush": "tracepond.tracing.provider:flush",
    "get_current_span": "tracepond.tracing.spans:get_current_span",
    "get_current_trace_id": "tracepond.tracing.spans:get_current_trace_id",
    "start_span": "tracepond.tracing.spans:start_span",
    "trace": "tracepond.tracing.decorator:trace",
    "update_current_trace": "tracepond.tracing.spans:update_current_trace",
    "wrap_with_context": "tracepond.tracing.context:wrap_with_context",
    # autolog
    "autolog": "tracepond.autolog:autolog",
    # query API
    "Trace": "tracepond.store.trace:Trace",
    "get_trace": "tracepond.store.query:get_trace",
    "search_traces": "tracepond.store.query:search_traces",
    "sql": "tracepond.store.query:sql",
    # runs
    "ActiveRun": "tracepond.tracking.runs:ActiveRun",
    "Experiment": "tracepond.tracking.entities:Experiment",
    "ExperimentConflictError": "tracepond.errors:ExperimentConflictError",
    "Run": "tracepond.tracking.entities:Run",
    "RunError": "tracepond.errors:RunError",
    "active_run": "tracepond.tracking.runs:active_run",
    "end_run": "tracepond.tracking.runs:end_run",
    "get_experiment_by_name": "tracepond.tracking.runs:get_experiment_by_name",
    "get_metric_history": "tracepond.tracking.runs:get_metric_history",
    "get_run": "tracepond.tracking.runs:get_run",
    "link_traces_to_run": "tracepond.tracking.run_search:link_traces_to_run",
    "log_artifact": "tracepond.tracking.run_logging:log_artifact",
    "log_metric": "tracepond.tracking.run_logging:log_metric",
    "log_metrics": "tracepond.tracking.run_logging:log_metrics",
    "log_param": "tracepond.tracking.run_logging:log_param",
    "log_params": "tracepond.tracking.run_logging:log_params",
    "search_runs": "tracepond.tracking.run_search:search_runs",
    "set_experiment": "tracepond.tracking.runs:set_experiment",
    "set_tag": "tracepond.tracking.run_logging:set_tag",
    "set_tags": "tracepond.tracking.run_logging:set_tags",
    "start_run": "tracepond.tracking.runs:start_run",
    # quality: assessments, scorers, judges, evaluation, datasets
    "Assessment": "tracepond.store.assessments:Assessment",
    "AssessmentError": "tracepond.errors:AssessmentError",
    "AssessmentSource": "tracepond.store.assessments:AssessmentSource",
    "EvaluationDataset": "tracepond.tracking.datasets:EvaluationDataset",
    "EvaluationResult": "tracepond.tracking.evaluation_result:EvaluationResult",
    "Expectation": "tracepond.tracking.assessments:Expectation",
    "Feedback": "tracepond.tracking.assessments:Feedback",
    "Scorer": "tracepond.tracking.scoring:Scorer",
    "create_dataset": "tracepond.tracking.datasets:create_dataset",
    "delete_assessment": "tracepond.tracking.assessments:delete_assessment",
    "evaluate": "tracepond.tracking.evaluation:evaluate",
    "get_assessment": "tracepond.tracking.assessments:get_assessment",
    "get_assessments": "tracepond.tracking.assessments:get_assessments",
    "get_dataset": "tracepond.tracking.datasets:get_dataset",
    "judges": "tracepond.tracking.judges",  # a module: tracepond.judges.correctness(model=...)
    "log_expectation": "tracepond.tracking.assessments:log_expectation",
    "log_feedback": "tracepond.tracking.assessments:log_feedback",
    "override_feedback": "tracepond.tracking.assessments:override_feedback",
    "scorer": "tracepond.tracking.scoring:scorer",
    "scorers": "tracepond.tracking.scorers",  # a module: tracepond.scorers.exact_match()
    # models and registry
    "LoadedModel": "tracepond.tracking.logged_models:LoadedModel",
    "LoggedModel": "tracepond.tracking.entities:LoggedModel",
    "ModelInputError": "tracepond.errors:ModelInputError",
    "ModelLoadError": "tracepond.errors:ModelLoadError",
    "ModelStats": "tracepond.tracking.entities:ModelStats",
    "ModelVersion": "tracepond.tracking.entities:ModelVersion",
    "RegisteredModel": "tracepond.tracking.entities:RegisteredModel",
    "delete_model_alias": "tracepond.tracking.registry:delete_model_alias",
    "delete_model_version_tag": "tracepond.tracking.registry:delete_model_version_tag",
    "get_logged_model": "tracepond.tracking.logged_models:get_logged_model",
    "get_model_version": "tracepond.tracking.registry:get_model_version",
    "get_model_version_by_alias": "tracepond.tracking.registry:get_model_version_by_alias",
    "get_registered_model": "tracepond.tracking.registry:get_registered_model",
    "load_model": "tracepond.tracking.logged_models:load_model",
    "log_model": "tracepond.tracking.logged_models:log_model",
    "model_stats": "tracepond.tracking.model_stats:model_stats",
    "register_model": "tracepond.tracking.registry:register_model",
    "search_model_versions": "tracepond.tracking.model_search:search_model_versions",
    "search_registered_models": "tracepond.tracking.model_search:search_registered_models",
    "set_active_model": "tracepond.tracking.logged_models:set_active_model",
    "set_model_alias": "tracepond.tracking.registry:set_model_alias",
    "set_model_version_tag": "tracepond.tracking.registry:set_model_version_tag",
    "update_model_version": "tracepond.tracking.registry:update_model_version",
    "update_registered_model": "tracepond.tracking.registry:update_registered_model",
    # prompts
    "PromptError": "tracepond.errors:PromptError",
    "PromptVersion": "tracepond.tracking.prompt_types:PromptVersion",
    "delete_prompt_alias": "tracepond.tracking.prompts:delete_prompt_alias",
    "load_prompt": "tracepond.tracking.prompts:load_prompt",
    "register_prompt": "tracepond.tracking.prompts:register_prompt",
    "search_prompts": "tracepond.tracking.prompt_search:search_prompts",
    "set_prompt_alias": "tracepond.tracking.prompts:set_prompt_alias",
}

__all__ = sorted(["__version__", *_EXPORTS])


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'tracepond' has no attribute {name!r}")
    importlib.import_module("tracepond.pipeline")  # wires span processors before any tracing
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    value = getattr(module, attribute) if attribute else module  # no attribute: the module
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__


class _Facade(types.ModuleType):
    """Keeps public functions that share a name with a subpackage (``tracepond.autolog``).

    Importing a subpackage binds it as an attribute of its parent, which would replace the
    public ``autolog`` function with the ``tracepond.autolog`` package the first time any of its
    modules is imported. The function wins; the package stays reachable through ``sys.modules``
    and ``from tracepond.autolog import ...``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # Pickle (and cloudpickle, for logged models) by reference, as for a plain module.
        return importlib.import_module, (self.__name__,)


sys.modules[__name__].__class__ = _Facade


if TYPE_CHECKING:  # static checkers and IDEs see the real objects
    from tracepond.autolog import autolog as autolog
    from tracepond.conventions.span_types import SpanType as SpanType
    from tracepond.errors import AssessmentError as AssessmentError
    from tracepond.errors import ExperimentConflictError as ExperimentConflictError
    from tracepond.errors import ModelInputError as ModelInputError
    from tracepond.errors import ModelLoadError as ModelLoadError
    from tracepond.errors import PromptError as PromptError
    from tracepond.errors import RunError as RunError
    from tracepond.pipeline import configure as configure
    from tracepond.store.assessments import Assessment as Assessment
    from tracepond.store.assessments import AssessmentSource as AssessmentSource
    from tracepond.store.query import get_trace as get_trace
    from tracepond.store.query import search_traces as search_traces
    from tracepond.store.query import sql as sql
    from tracepond.store.trace import Trace as Trace
    from tracepond.tracing.context import ContextThreadPoolExecutor as ContextThreadPoolExecutor
    from tracepond.tracing.context import wrap_with_context as wrap_with_context
    from tracepond.tracing.decorator import trace as trace
    from tracepond.tracing.provider import flush as flush
    from tracepond.tracing.serialize import DROP as DROP
    from tracepond.tracing.spans import LiveSpan as LiveSpan
    from tracepond.tracing.spans import get_current_span as get_current_span
    from tracepond.tracing.spans import get_current_trace_id as get_current_trace_id
    from tracepond.tracing.spans import start_span as start_span
    from tracepond.tracing.spans import update_current_trace as update_current_trace
    from tracepond.tracking import judges as judges
    from tracepond.tracking import scorers as scorers
    from tracepond.tracking.assessments import Expectation as Expectation
    from tracepond.tracking.assessments import Feedback as Feedback
    from tracepond.tracking.assessments import delete_assessment as delete_assessment
    from tracepond.tracking.assessments import get_assessment as get_assessment
    from tracepond.tracking.assessments import get_assessments as get_assessments
    from tracepond.tracking.assessments import log_expectation as log_expectation
    from tracepond.tracking.assessments import log_feedback as log_feedback
    from tracepond.tracking.assessments import override_feedback as override_feedback
    from tracepond.tracking.datasets import EvaluationDataset as EvaluationDataset
    from tracepond.tracking.datasets import create_dataset as create_dataset
    from tracepond.tracking.datasets import get_dataset as get_dataset
    from tracepond.tracking.entities import Experiment as Experiment
    from tracepond.tracking.entities import LoggedModel as LoggedModel
    from tracepond.tracking.entities import ModelStats as ModelStats
    from tracepond.tracking.entities import ModelVersion as ModelVersion
    from tracepond.tracking.entities import RegisteredModel as RegisteredModel
    from tracepond.tracking.entities import Run as Run
    from tracepond.tracking.evaluation import evaluate as evaluate
    from tracepond.tracking.evaluation_result import EvaluationResult as EvaluationResult
    from tracepond.tracking.logged_models import LoadedModel as LoadedModel
    from tracepond.tracking.logged_models import get_logged_model as get_logged_model
    from tracepond.tracking.logged_models import load_model as load_model
    from tracepond.tracking.logged_models import log_model as log_model
    from tracepond.tracking.logged_models import set_active_model as set_active_model
    from tracepond.tracking.model_search import search_model_versions as search_model_versions
    from tracepond.tracking.model_search import search_registered_models as search_registered_models
    from tracepond.tracking.model_stats import model_stats as model_stats
    from tracepond.tracking.prompt_search import search_prompts as search_prompts
    from tracepond.tracking.prompt_types import PromptVersion as PromptVersion
    from tracepond.tracking.prompts import delete_prompt_alias as delete_prompt_alias
    from tracepond.tracking.prompts import load_prompt as load_prompt
    from tracepond.tracking.prompts import register_prompt as register_prompt
    from tracepond.tracking.prompts import set_prompt_alias as set_prompt_alias
    from tracepond.tracking.registry import delete_model_alias as delete_model_alias
    from tracepond.tracking.registry import delete_model_version_tag as delete_model_version_tag
    from tracepond.tracking.registry import get_model_version as get_model_version
    from tracepond.tracking.registry import get_model_version_by_alias as get_model_version_by_alias
    from tracepond.tracking.registry import get_registered_model as get_registered_model
    from tracepond.tracking.registry import register_model as register_model
    from tracepond.tracking.registry import set_model_alias as set_model_alias
    from tracepond.tracking.registry import set_model_version_tag as set_model_version_tag
    from tracepond.tracking.registry import update_model_version as update_model_version
    from tracepond.tracking.registry import update_registered_model as update_registered_model
    from tracepond.tracking.run_logging import log_artifact as log_artifact
    from tracepond.tracking.run_logging import log_metric as log_metric
    from tracepond.tracking.run_logging import log_metrics as log_metrics
    from tracepond.tracking.run_logging import log_param as log_param
    from tracepond.tracking.run_logging import log_params as log_params
    from tracepond.tracking.run_logging import set_tag as set_tag
    from tracepond.tracking.run_logging import set_tags as set_tags
    from tracepond.tracking.run_search import link_traces_to_run as link_traces_to_run
    from tracepond.tracking.run_search import search_runs as search_runs
    from tracepond.tracking.runs import ActiveRun as ActiveRun
    from tracepond.tracking.runs import active_run as active_run
    from tracepond.tracking.runs import end_run as end_run
    from tracepond.tracking.runs import get_experiment_by_name as get_experiment_by_name
    from tracepond.tracking.runs import get_metric_history as get_metric_history
    from tracepond.tracking.runs import get_run as get_run
    from tracepond.tracking.runs import set_experiment as set_experiment
    from tracepond.tracking.runs import start_run as start_run
    from tracepond.tracking.scoring import Scorer as Scorer
    from tracepond.tracking.scoring import scorer as scorer
