from stacktune_train.progress import format_progress_line, last_window_loss, parse_progress_line, summarize_log_history


def test_progress_line_round_trips_in_the_contract_shape():
    record = {"phase": "train", "step": 10, "total": 100, "loss": 1.23, "tokens_per_s": 456.7, "eta_s": 89}
    line = format_progress_line(record)
    assert line == (
        'STACKTUNE_PROGRESS {"phase":"train","step":10,"total":100,"loss":1.23,"tokens_per_s":456.7,"eta_s":89}'
    )
    assert parse_progress_line(line) == record
    assert parse_progress_line("{'loss': 1.2}") is None


def test_log_history_summary_spans_a_resume():
    history = [
        {"step": 2, "loss": 4.0, "num_tokens": 100.0},
        {"step": 4, "loss": 2.0, "num_tokens": 200.0},
        {"step": 4, "eval_loss": 3.0, "eval_num_tokens": 200.0},
        # resumed process: TRL's token counter starts again at 0
        {"step": 5, "loss": 1.0, "num_tokens": 50.0},
        {"step": 5, "train_loss": 2.6, "train_runtime": 1.0},
    ]
    loss, tokens = summarize_log_history(history)
    assert loss == (4.0 * 2 + 2.0 * 2 + 1.0 * 1) / 5
    assert tokens == 250
    assert summarize_log_history([]) == (None, 0)


def test_callback_lines_carry_the_elapsed_time_of_training(capsys):
    """A person reads step/total, loss, tokens/s, elapsed and ETA from each line (issue 19)."""
    from types import SimpleNamespace

    from stacktune_train.progress import ProgressCallback

    now = [100.0]
    callback = ProgressCallback(clock=lambda: now[0])
    state = SimpleNamespace(global_step=0, max_steps=10, is_world_process_zero=True)
    callback.on_train_begin(None, state, None)
    now[0] = 162.0
    state.global_step = 5
    callback.on_log(None, state, None, logs={"loss": 2.5, "num_tokens": 6200})
    record = parse_progress_line(capsys.readouterr().out.strip())
    assert record == {
        "phase": "train",
        "step": 5,
        "total": 10,
        "loss": 2.5,
        "tokens_per_s": 100.0,
        "elapsed_s": 62,
        "eta_s": 62,
    }


def test_the_last_logging_window_loss_is_what_the_reference_reported_as_train_loss():
    # The reference's W&B `train/loss` (0.9674) is the loss of its last logging window, not the run mean.
    history = [
        {"step": 5, "loss": 4.0, "num_tokens": 100.0},
        {"step": 10, "loss": 1.5, "num_tokens": 200.0},
        {"step": 10, "eval_loss": 3.0},
        {"step": 10, "train_loss": 2.75, "train_runtime": 1.0},
    ]
    assert last_window_loss(history) == 1.5
    assert summarize_log_history(history)[0] == 2.75
    assert last_window_loss([{"step": 1, "eval_loss": 3.0}]) is None
