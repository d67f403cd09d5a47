"""Benchmarks through lm-evaluation-harness after the merge: real lm-eval on the tiny merged model.

The task is the one shipped in the package (benchmarks/stacktune_demo_qa.yaml + its jsonl), so
lm-eval runs offline; the run is the shared tiny training run and the Hub is conftest's
recording stand-in, so "nothing published" is "no Hub call at all".
"""

import json
from importlib.metadata import version

import pytest
import yaml
from test_gate import config

from stacktune_train import benchmark, merge, publish
from stacktune_train.config import ConfigError
from stacktune_train.store import COMPLETION_MARKER

DEMO = "stacktune_demo_qa"


def with_benchmarks(run, tmp_path, minimums=None, limit=6):
    flags = ["--benchmark_tasks", DEMO, "--benchmark_limit", str(limit)]
    if minimums is not None:
        flags += ["--benchmark_min_scores", json.dumps(minimums)]
    return config(run, tmp_path, *flags)


def test_scores_go_into_the_record_the_run_summary_and_the_card_and_are_published(run, tmp_path, hub):
    cfg = with_benchmarks(run, tmp_path, {f"{DEMO}.acc": 0.0})
    merged_dir = merge.main(cfg)
    record = json.loads((merged_dir / benchmark.BENCHMARK_RECORD).read_text())
    [score] = record["scores"]
    assert (score["task"], score["metric"]) == (DEMO, "acc") and 0 <= score["value"] <= 1
    # 6 of the task's 12 questions, four choices each: acc is a multiple of 1/6.
    assert round(score["value"] * 6, 6) == round(score["value"] * 6)
    assert {k: record[k] for k in ("tasks", "limit", "lm_eval_version", "examples", "passed")} == {
        "tasks": [DEMO],
        "limit": 6,
        "lm_eval_version": version("lm_eval"),
        "examples": {DEMO: 6},
        "passed": True,
    }
    assert record["thresholds"] == [{"key": f"{DEMO}.acc", "minimum": 0.0, "values": [score["value"]], "problem": None}]
    metrics = json.loads((run / "out" / "metrics.json").read_text())
    assert {k: metrics[k] for k in (f"benchmark_{DEMO}_acc", "benchmark_limit", "benchmark_passed")} == {
        f"benchmark_{DEMO}_acc": score["value"],
        "benchmark_limit": 6,
        "benchmark_passed": 1,
    }
    card = (merged_dir / "README.md").read_text()
    assert (
        f"- benchmark {DEMO}: acc {score['value']:.4f} on 6 examples (limit 6, lm-eval {version('lm_eval')}); "
        f"{DEMO}.acc at least 0: passed"
    ) in card
    # Published with the model: the record travels in the merged repo's one commit, beside the marker.
    assert publish.main(cfg) == "me/merged"
    [merged_commit] = [call for call in hub.calls if call[:2] == ("create_commit", "me/merged")]
    assert {benchmark.BENCHMARK_RECORD, COMPLETION_MARKER} <= {path for path, _ in merged_commit[2]}


def test_a_score_below_its_threshold_fails_the_gate_saying_why_and_publishes_nothing(run, tmp_path, hub):
    merge.main(config(run, tmp_path))  # a previous, good merge of this experiment is in the run directory
    cfg = with_benchmarks(run, tmp_path, {f"{DEMO}.acc": 1.5})
    with pytest.raises(SystemExit) as failed:
        merge.main(cfg)
    metrics = json.loads((run / "out" / "metrics.json").read_text())
    value = metrics[f"benchmark_{DEMO}_acc"]
    assert metrics["benchmark_passed"] == 0
    assert str(failed.value) == (
        f"stacktune: evaluation gate failed: benchmark {DEMO}.acc scored {value:.4f}, below its minimum 1.5 "
        f"(lm-eval {version('lm_eval')}, limit 6 examples per task), so nothing is published. If the score is "
        "expected, lower or remove the threshold in stacktune:evaluation.benchmarks.minScores; a larger "
        "stacktune:evaluation.benchmarks.limit gives a steadier score"
    )
    # No merged model is left for a later step to publish, not even the earlier good one.
    assert not (run / "merged").exists()
    with pytest.raises(SystemExit, match="holds no merged model"):
        publish.main(cfg)
    assert hub.calls == []
    assert not (tmp_path / "store").exists()


def test_a_threshold_on_a_metric_the_task_does_not_report_fails_naming_what_it_reports(run, tmp_path, hub):
    with pytest.raises(
        SystemExit,
        match=rf"benchmark {DEMO}\.f1: task {DEMO} reports no metric f1 \(it reports "
        r"acc\) \(lm-eval .*\), so nothing is published",
    ):
        merge.main(with_benchmarks(run, tmp_path, {f"{DEMO}.f1": 0.1}))
    assert hub.calls == []


def test_publish_refuses_a_merged_model_without_a_passed_benchmark_record(run, tmp_path, hub):
    cfg = with_benchmarks(run, tmp_path, limit=2)
    merged_dir = merge.main(cfg)
    record = json.loads((merged_dir / benchmark.BENCHMARK_RECORD).read_text())
    (merged_dir / benchmark.BENCHMARK_RECORD).write_text(json.dumps({**record, "passed": False}))
    with pytest.raises(
        SystemExit,
        match=r"the benchmarks of .* did not pass \(stacktune-benchmarks.json\); "
        r"nothing is published",
    ):
        publish.main(cfg)
    (merged_dir / benchmark.BENCHMARK_RECORD).unlink()
    with pytest.raises(
        SystemExit,
        match=r"no benchmark record \(stacktune-benchmarks.json\) though "
        r"stacktune:evaluation.benchmarks.tasks names tasks",
    ):
        publish.main(cfg)
    assert hub.calls == []
    assert not (merged_dir / COMPLETION_MARKER).exists()


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (
            ["--benchmark_tasks", "arc_easy,$(reboot)"],
            r"benchmark_tasks: '\$\(reboot\)' is not a benchmark stacktune runs; use stacktune_demo_qa, arc_easy, .*"
            r"\(set stacktune:evaluation.benchmarks.tasks",
        ),
        (["--benchmark_tasks", "piqa,piqa"], "benchmark_tasks lists a task twice"),
        (
            ["--benchmark_tasks", "piqa", "--benchmark_min_scores", '{"arc_easy.acc": 0.5}'],
            "names task arc_easy, which benchmark_tasks does not list; add it to stacktune:evaluation.benchmarks.tasks",
        ),
        (["--benchmark_tasks", "piqa", "--benchmark_min_scores", '{"piqa": 0.5}'], r"'piqa' is not <task>.<metric>"),
        (
            ["--benchmark_tasks", "piqa", "--benchmark_min_scores", '{"piqa.acc": "high"}'],
            "piqa.acc must be a number, got 'high'",
        ),
        (["--benchmark_limit", "0"], "benchmark_limit must be at least 1, got 0"),
    ],
)
def test_benchmark_settings_are_validated(run, tmp_path, flags, problem):
    with pytest.raises(ConfigError, match=problem):
        config(run, tmp_path, *flags)


def test_the_allow_list_names_tasks_lm_eval_and_the_package_really_have():
    from lm_eval.tasks import TaskManager

    table = benchmark.allowed_tasks()
    assert set(table["builtin"]) <= set(TaskManager().all_tasks)
    for name in table["shipped"]:
        task = yaml.safe_load((benchmark.BENCHMARKS_DIR / f"{name}.yaml").read_text())
        assert task["task"] == name
        for data_file in task["dataset_kwargs"]["data_files"].values():
            assert (benchmark.BENCHMARKS_DIR / data_file).is_file()
