"""Benchmark tasks on the merged model through lm-evaluation-harness, the second half of the gate.

``evaluation.benchmarks`` (training.yaml ``benchmark_tasks``, ``benchmark_limit``,
``benchmark_min_scores``) names tasks from one allow-list, ``benchmarks/tasks.json``: built-in
tasks of the pinned lm-eval (their data comes from the Hub, on the host) and tasks shipped in
``benchmarks/`` (YAML + data, offline). After the merge and the loss gate, the merge step runs
``lm_eval.simple_evaluate`` on the merged model as it is in memory (GPU or CPU, where the merge
put it), ``benchmark_limit`` examples per task. Every score goes into the record
(``stacktune-benchmarks.json`` in the merged directory), ``metrics.json`` (the run summary) and the
model card; a score below its ``benchmark_min_scores`` threshold fails the step like a merge error:
the merged model is not saved, nothing is published, and the message names the task, metric,
value, threshold and the setting to change. Publish refuses a merged directory of a run with
benchmarks whose record is missing or did not pass.

Task names are matched against the allow-list, never used as paths or shell words; a shipped
task's data file is resolved inside this package's ``benchmarks/`` directory.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).parent / "benchmarks"
TASKS_TABLE = BENCHMARKS_DIR / "tasks.json"
BENCHMARK_RECORD = "stacktune-benchmarks.json"
TASKS_KEY = "stacktune:evaluation.benchmarks.tasks"
LIMIT_KEY = "stacktune:evaluation.benchmarks.limit"
MIN_SCORES_KEY = "stacktune:evaluation.benchmarks.minScores"
#: ``<task>.<metric>``, as the settings check it too (src/settings/evaluation.ts).
SCORE_KEY = re.compile(r"^([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)$")


def allowed_tasks() -> dict[str, list[str]]:
    """The allow-list: ``{"builtin": [...], "shipped": [...]}`` (tasks.json, read by the settings too)."""
    table = json.loads(TASKS_TABLE.read_text(encoding="utf-8"))
    return {"builtin": list(table["builtin"]), "shipped": list(table["shipped"])}


def task_names(value: str | None) -> list[str]:
    """``benchmark_tasks`` as a list; a name outside the allow-list fails, naming the setting."""
    names = [name.strip() for name in (value or "").split(",") if name.strip()]
    table = allowed_tasks()
    known = table["shipped"] + table["builtin"]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"benchmark_tasks: {', '.join(repr(n) for n in unknown)} is not a benchmark stacktune runs; use "
            f"{', '.join(known)} (set {TASKS_KEY}; the list is stacktune_train/benchmarks/tasks.json)"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"benchmark_tasks lists a task twice: {', '.join(names)}; fix {TASKS_KEY}")
    return names


def min_scores(value: dict | str | None, tasks: list[str]) -> dict[str, float]:
    """``benchmark_min_scores`` checked: ``<task>.<metric>`` of a listed task -> a finite number."""
    if isinstance(value, str):
        value = json.loads(value)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"benchmark_min_scores must be a mapping of <task>.<metric> to a number; fix {MIN_SCORES_KEY}")
    checked: dict[str, float] = {}
    for key, minimum in value.items():
        match = SCORE_KEY.match(str(key))
        if match is None:
            raise ValueError(
                f"benchmark_min_scores: {key!r} is not <task>.<metric> (such as arc_easy.acc); fix {MIN_SCORES_KEY}"
            )
        if match.group(1) not in tasks:
            raise ValueError(
                f"benchmark_min_scores: {key} names task {match.group(1)}, which benchmark_tasks does "
                f"not list; add it to {TASKS_KEY} or remove the threshold from {MIN_SCORES_KEY}"
            )
        if isinstance(minimum, bool) or not isinstance(minimum, (int, float)) or not math.isfinite(minimum):
            raise ValueError(f"benchmark_min_scores: {key} must be a number, got {minimum!r}; fix {MIN_SCORES_KEY}")
        checked[key] = float(minimum)
    return checked


def check_settings(publish: Any) -> None:
    """PublishArguments' own check (config.py): the same rules the settings apply, for ad-hoc flags too."""
    tasks = task_names(publish.benchmark_tasks)
    publish.benchmark_min_scores = min_scores(publish.benchmark_min_scores, tasks) or None
    if publish.benchmark_limit < 1:
        raise ValueError(f"benchmark_limit must be at least 1, got {publish.benchmark_limit}; fix {LIMIT_KEY}")


def task_config(name: str) -> str | dict[str, Any]:
    """What lm-eval loads: a built-in task by name, a shipped one as its YAML with the data file made absolute.

    lm-eval hands ``dataset_kwargs.data_files`` to ``datasets.load_dataset``, which resolves a
    relative path against the working directory (the run directory), not the YAML's.
    """
    if name not in allowed_tasks()["shipped"]:
        return name
    import yaml

    config = yaml.safe_load((BENCHMARKS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    files = config["dataset_kwargs"]["data_files"]
    config["dataset_kwargs"]["data_files"] = {split: str(BENCHMARKS_DIR / file) for split, file in files.items()}
    return config


@dataclass(frozen=True)
class Score:
    task: str
    #: lm-eval's metric name (``acc``); ``metric,filter`` where a task filters its answers (gsm8k).
    metric: str
    value: float


@dataclass(frozen=True)
class Threshold:
    key: str
    minimum: float
    #: The scores the threshold applies to: ``metric`` itself, or each of its filtered variants.
    values: list[float]
    #: Why the threshold cannot be checked (the task reports no such metric, or lower is better).
    problem: str | None = None

    @property
    def passed(self) -> bool:
        return self.problem is None and bool(self.values) and all(v >= self.minimum for v in self.values)


@dataclass(frozen=True)
class BenchmarkResult:
    tasks: list[str]
    limit: int
    lm_eval_version: str
    #: Examples each task scored (at most ``limit``; fewer when the task has fewer).
    examples: dict[str, int]
    scores: list[Score]
    thresholds: list[Threshold]

    @property
    def passed(self) -> bool:
        return all(threshold.passed for threshold in self.thresholds)

    def record(self) -> dict:
        return {**asdict(self), "passed": self.passed}

    def metrics(self) -> dict[str, float]:
        """The numbers the run summary shows: one per score, and whether the thresholds passed."""
        numbers = {f"benchmark_{s.task}_{s.metric.replace(',', '_').replace('-', '_')}": s.value for s in self.scores}
        return {**numbers, "benchmark_limit": self.limit, "benchmark_passed": 1 if self.passed else 0}

    def lines(self) -> list[str]:
        """One line per task: its scores and thresholds, for the log and the model card."""
        out = []
        for task in self.tasks:
            scores = ", ".join(f"{s.metric} {s.value:.4f}" for s in self.scores if s.task == task) or "no scores"
            checks = [t for t in self.thresholds if t.key.split(".")[0] == task]
            verdicts = "; ".join(
                f"{t.key} at least {t.minimum:g}: {'passed' if t.passed else 'FAILED'}" for t in checks
            )
            out.append(
                f"{task}: {scores} on {self.examples.get(task, 0)} examples (limit {self.limit}, "
                f"lm-eval {self.lm_eval_version})" + (f"; {verdicts}" if verdicts else "")
            )
        return out

    def failure(self) -> str:
        misses = []
        for t in self.thresholds:
            if t.passed:
                continue
            if t.problem is not None:
                misses.append(f"{t.key}: {t.problem}")
            else:
                values = ", ".join(f"{v:.4f}" for v in t.values)
                misses.append(f"{t.key} scored {values}, below its minimum {t.minimum:g}")
        return (
            f"stacktune: evaluation gate failed: benchmark {'; '.join(misses)} (lm-eval {self.lm_eval_version}, "
            f"limit {self.limit} examples per task), so nothing is published. If the score is expected, lower or "
            f"remove the threshold in {MIN_SCORES_KEY}; a larger {LIMIT_KEY} gives a steadier score"
        )


def scores_of(results: dict[str, Any], tasks: list[str]) -> list[Score]:
    """Every numeric metric lm-eval reports for each task (``acc,none`` -> ``acc``), without the stderrs."""
    scores = []
    for task in tasks:
        for name, value in results["results"].get(task, {}).items():
            if "," not in name or "_stderr," in name or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            metric, filtered = name.split(",", 1)
            scores.append(Score(task=task, metric=metric if filtered == "none" else name, value=float(value)))
    return scores


def thresholds_of(results: dict[str, Any], scores: list[Score], minimums: dict[str, float]) -> list[Threshold]:
    checks = []
    for key, minimum in minimums.items():
        task, metric = key.split(".", 1)
        values = [s.value for s in scores if s.task == task and s.metric.split(",")[0] == metric]
        reported = sorted({s.metric.split(",")[0] for s in scores if s.task == task})
        problem = None
        if not values:
            problem = f"task {task} reports no metric {metric} (it reports {', '.join(reported) or 'none'})"
        elif results.get("higher_is_better", {}).get(task, {}).get(metric) is False:
            problem = f"lower {metric} is better, so a minimum does not apply; remove it"
        checks.append(Threshold(key=key, minimum=minimum, values=values, problem=problem))
    return checks


def run(
    tasks: list[str], limit: int, minimums: dict[str, float], model: Any, tokenizer: Any, batch_size: int
) -> BenchmarkResult:
    """lm-eval on the merged model in memory; seeds are lm-eval's fixed defaults, so a re-run scores the same."""
    from importlib.metadata import version

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    results = lm_eval.simple_evaluate(
        model=lm,
        tasks=[task_config(task) for task in tasks],
        limit=limit,
        log_samples=False,
        # lm-eval's own task index (thousands of YAMLs) only when a built-in task is named.
        task_manager=TaskManager(include_defaults=any(task not in allowed_tasks()["shipped"] for task in tasks)),
        bootstrap_iters=0,
    )
    scores = scores_of(results, tasks)
    return BenchmarkResult(
        tasks=tasks,
        limit=limit,
        lm_eval_version=version("lm_eval"),
        examples={task: int(results.get("n-samples", {}).get(task, {}).get("effective", 0)) for task in tasks},
        scores=scores,
        thresholds=thresholds_of(results, scores, minimums),
    )


def check_published_benchmarks(record: dict | None, merged_dir: Path) -> None:
    """Publish's own check, for a run with benchmark tasks: a passed record must be in the merged directory."""
    if record is None:
        raise SystemExit(
            f"stacktune: {merged_dir} has no benchmark record ({BENCHMARK_RECORD}) though {TASKS_KEY} names tasks; "
            "run the merge step again (it runs the benchmarks)"
        )
    if record.get("passed") is not True:
        raise SystemExit(
            f"stacktune: the benchmarks of {merged_dir} did not pass ({BENCHMARK_RECORD}); nothing is published. "
            f"Lower or remove the threshold in {MIN_SCORES_KEY} if the score is expected"
        )
