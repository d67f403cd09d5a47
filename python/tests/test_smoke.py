import pytest

from stacktune_train import merge, smoke
from stacktune_train.config import parse_config


@pytest.fixture
def merged_cfg(trained_run, monkeypatch):
    run, _ = trained_run
    monkeypatch.chdir(run)
    monkeypatch.setenv("STACKTUNE_EXPERIMENT_HASH", "0123abcd")
    monkeypatch.setenv("STACKTUNE_STACK", "test-stack")
    cfg = parse_config(run / "training.yaml", [])
    if not (run / "merged" / merge.MERGE_RECEIPT).is_file():
        merge.main(cfg)
    return cfg


def test_smoke_passes_on_the_tiny_model_with_a_fixed_seed(merged_cfg, capsys):
    result = smoke.main(merged_cfg)
    out = capsys.readouterr().out
    assert result.ok and result.text.strip()
    assert result.prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert f"[smoke] sample ({len(result.token_ids)} tokens): {result.text!r}" in out
    assert "[smoke] passed" in out
    again = smoke.run_smoke(merged_cfg)
    assert again.token_ids == result.token_ids  # same seed, same sample


def test_smoke_fails_on_degenerate_output(merged_cfg, monkeypatch, capsys):
    monkeypatch.setattr(smoke, "degeneracy", lambda text, ids: "the output repeats one token 24 times in a row")
    with pytest.raises(SystemExit) as exit_info:
        smoke.main(merged_cfg)
    assert exit_info.value.code == 1
    assert "[smoke] FAILED: the output repeats one token 24 times in a row" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "ids", "problem"),
    [
        ("", [], "the model generated no text"),
        ("  \n", [5, 6], "the model generated no text"),
        ("aaaaaaaaaa", [7] * 10, "the output repeats one token 10 times in a row"),
        ("abababababab", [1, 2] * 6, "the output cycles through 2 distinct tokens"),
        ("Thai food balances sweet, sour and spicy.", list(range(10)), None),
        ("ok", [3, 3, 4], None),
    ],
)
def test_degeneracy_rules(text, ids, problem):
    assert smoke.degeneracy(text, ids) == problem
