"""QLoRA supervised fine-tuning with TRL's SFTTrainer.

``accelerate launch --config_file accelerate.yaml -m stacktune_train.train training.yaml``

Choices worth knowing (see python/README.md for the long form):

* Packing. ``packing_strategy: bfd`` packs whole conversations (best-fit decreasing) and trains
  padding-free: each packed row carries ``position_ids`` that restart at 0 for every
  conversation, so no conversation attends to another. flash_attention_2 turns them into
  varlen kernels; sdpa and eager get the same isolation from transformers, which builds a
  block-diagonal mask from restarting ``position_ids`` when there is no attention mask and no KV
  cache (hence ``use_cache=False`` below; tested on CPU). ``wrapped`` is the reference run's
  packing: fixed blocks cut across conversations, which then attend to each other.
* 4-bit needs a GPU (bitsandbytes); CPU runs take the same path with ``load_in_4bit: false``.
  bitsandbytes, deepspeed and liger-kernel are imported only when a setting asks for them.
* Under DeepSpeed ZeRO-3, the 4-bit storage dtype must equal the compute dtype (and the model
  dtype) so ZeRO can shard the packed weights with the rest, and the final save must gather the
  16-bit weights (``zero3_save_16bit_model: true``); the saved adapter is checked to be non-empty.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import warnings
from pathlib import Path

import torch
from peft import LoraConfig
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled
from trl import SFTConfig, SFTTrainer

from stacktune_train.config import ConfigError, ModelArguments, StacktuneConfig, parse_cli
from stacktune_train.history import HistoryCallback
from stacktune_train.plots import write_run_plots
from stacktune_train.precision import frozen_weights_to, upcast_trainable_parameters
from stacktune_train.preemption import (
    PreemptionCallback,
    discard_unusable,
    finish_preempted,
    machine_store,
    restore_checkpoints,
    resume_step,
)
from stacktune_train.prepare import apply_caps, prepare
from stacktune_train.progress import ProgressCallback, last_window_loss, summarize_log_history
from stacktune_train.recompute import CheckpointSkipCallback

METRICS_FILE = "metrics.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
MEMORY_FRACTION_ENV = "STACKTUNE_GPU_MEMORY_FRACTION"


def log(message: str) -> None:
    print(f"[train] {message}", flush=True)


def resolve_attn_implementation(requested: str) -> str:
    """flash_attention_2 when flash_attn is importable, else sdpa with a warning saying what to install."""
    if requested == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        warnings.warn(
            "attn_implementation is flash_attention_2 but the flash_attn package is not installed; "
            "falling back to sdpa (packed conversations stay isolated through position_ids, at a higher "
            "memory cost). Install a flash-attn wheel matching torch to get the varlen kernels.",
            RuntimeWarning,
            stacklevel=2,
        )
        return "sdpa"
    return requested


def check_dtypes(model_args: ModelArguments, training: SFTConfig) -> None:
    """ZeRO-3 shards the 4-bit weights as ordinary tensors of the storage dtype: it must match."""
    if not (model_args.load_in_4bit and is_deepspeed_zero3_enabled()):
        return
    model_dtype = "bfloat16" if training.bf16 else "float16" if training.fp16 else "float32"
    dtypes = {
        "bnb_4bit_quant_storage": model_args.bnb_4bit_quant_storage,
        "bnb_4bit_compute_dtype": model_args.bnb_4bit_compute_dtype,
        "model dtype (bf16)": model_dtype,
    }
    if len(set(dtypes.values())) != 1:
        raise ConfigError(
            "DeepSpeed ZeRO-3 with 4-bit weights needs one dtype everywhere, got "
            + ", ".join(f"{k}={v}" for k, v in dtypes.items())
            + "; set stacktune:quantization.storageDtype = computeDtype = bfloat16 with training.bf16: true"
        )


def apply_memory_fraction(training: SFTConfig) -> None:
    """Benchmark hook: cap this process's share of its GPU (e.g. 24/80 to stand in for a 24 GB card)."""
    fraction = os.environ.get(MEMORY_FRACTION_ENV)
    if not fraction or not torch.cuda.is_available():
        return
    device = training.device  # resolves the local rank's device under accelerate launch
    index = device.index if device.type == "cuda" and device.index is not None else torch.cuda.current_device()
    torch.cuda.set_per_process_memory_fraction(float(fraction), device=index)
    log(f"GPU {index} capped at {float(fraction):.3f} of its memory ({MEMORY_FRACTION_ENV})")


def plain_cpu_device(training: SFTConfig) -> None:
    """CPU runs under torch.distributed: name the device ``cpu``, not ``cpu:<local rank>``.

    On resume the Trainer loads the optimizer state with ``map_location=args.device`` when there are
    several processes, and torch.load knows the storage tag ``cpu`` only: ``cpu:0`` fails with "don't
    know how to restore data location". The two name the same memory, so nothing else changes.
    """
    device = training.device
    if device.type == "cpu" and device.index is not None:
        # TrainingArguments.device returns this cached property.
        training.__dict__["_setup_devices"] = torch.device("cpu")


def quantization_config(model_args: ModelArguments):
    from transformers import BitsAndBytesConfig  # needs bitsandbytes at load time only

    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError(
            "load_in_4bit is true but bitsandbytes is not installed; install the pinned set (python/requirements.txt) "
            "or set stacktune:quantization.load4bit to false"
        )
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=model_args.bnb_4bit_quant_type,
        bnb_4bit_use_double_quant=model_args.bnb_4bit_use_double_quant,
        bnb_4bit_compute_dtype=getattr(torch, model_args.bnb_4bit_compute_dtype),
        bnb_4bit_quant_storage=getattr(torch, model_args.bnb_4bit_quant_storage),
    )


def load_model(model_args: ModelArguments, training: SFTConfig) -> PreTrainedModel:
    dtype = torch.bfloat16 if training.bf16 else torch.float16 if training.fp16 else torch.float32
    kwargs: dict = {
        "revision": model_args.model_revision,
        "attn_implementation": resolve_attn_implementation(model_args.attn_implementation),
        "dtype": dtype,
    }
    if model_args.load_in_4bit:
        kwargs["quantization_config"] = quantization_config(model_args)
        kwargs["dtype"] = getattr(torch, model_args.bnb_4bit_quant_storage)
        if not is_deepspeed_zero3_enabled():
            # bitsandbytes quantizes on the GPU while loading: put each rank's copy on its own device.
            kwargs["device_map"] = {"": training.device.index or 0} if training.device.type == "cuda" else None
    model = AutoModelForCausalLM.from_pretrained(model_args.model_name_or_path, **kwargs)
    # A KV cache in the training forward would stop transformers from isolating packed conversations.
    model.config.use_cache = False
    if model_args.load_in_4bit and not is_deepspeed_zero3_enabled():
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=training.gradient_checkpointing,
            gradient_checkpointing_kwargs=training.gradient_checkpointing_kwargs,
        )
        if not model_args.upcast_frozen_weights:
            frozen_weights_to(model, getattr(torch, model_args.bnb_4bit_compute_dtype))
    return model


def load_tokenizer(model_args: ModelArguments) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(model_args.model_name_or_path, revision=model_args.model_revision)


def lora_config(model_args: ModelArguments) -> LoraConfig:
    return LoraConfig(
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=model_args.target_modules(),
        bias="none",
        task_type="CAUSAL_LM",
    )


def tokenize_splits(splits, tokenizer: PreTrainedTokenizerBase, text_field: str):
    """Tokenize without special tokens: the Llama-3 text already starts with <|begin_of_text|>."""

    def tokenize(batch):
        return {"input_ids": tokenizer(batch[text_field], add_special_tokens=False)["input_ids"]}

    return {
        name: split.map(tokenize, batched=True, remove_columns=split.column_names, desc=f"Tokenizing {name}")
        for name, split in splits.items()
    }


def check_optional_packages(training: SFTConfig) -> None:
    if training.use_liger_kernel and importlib.util.find_spec("liger_kernel") is None:
        raise ConfigError(
            "use_liger_kernel is true but liger-kernel is not installed; install the GPU set "
            "(bash images/install-python-deps.sh requirements) "
            "or set stacktune:training.useLigerKernel to false"
        )
    if "wandb" in (training.report_to or []) and importlib.util.find_spec("wandb") is None:
        raise ConfigError("report_to includes wandb but wandb is not installed; install python/requirements.txt")


def check_saved_adapter(output_dir: str | Path) -> int:
    """Number of adapter parameters saved; fails when ZeRO-3 saved placeholders instead of weights."""
    path = Path(output_dir) / ADAPTER_WEIGHTS
    if not path.is_file():
        raise RuntimeError(f"no {ADAPTER_WEIGHTS} in {output_dir}: the adapter was not saved")
    with safe_open(str(path), framework="pt") as f:
        sizes = [f.get_slice(name).get_shape() for name in f.keys()]
    numel = sum(int(torch.Size(shape).numel()) for shape in sizes)
    if not sizes or numel == 0:
        raise RuntimeError(
            f"{path} holds no weights. Under DeepSpeed ZeRO-3 the 16-bit weights must be gathered on save: "
            "set zero3_save_16bit_model: true in accelerate.yaml"
        )
    return numel


def write_metrics(output_dir: str | Path, metrics: dict) -> Path:
    path = Path(output_dir) / METRICS_FILE
    path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return path


def main(cfg: StacktuneConfig) -> dict:
    training = cfg.training
    # The progress lines replace tqdm's bar, whose carriage-return updates would otherwise share a
    # line of the job log with them (the log reader matches lines starting with the prefix).
    training.disable_tqdm = True
    if training.gradient_checkpointing and training.ddp_find_unused_parameters is None:
        # Every LoRA parameter is used in every forward, and DDP's unused-parameter search breaks
        # reentrant checkpointing ("Expected to mark a variable ready only once"). transformers
        # turns it off only for a bare PreTrainedModel, not for the PEFT wrapper.
        training.ddp_find_unused_parameters = False
    check_optional_packages(training)
    check_dtypes(cfg.model, training)
    apply_memory_fraction(training)
    plain_cpu_device(training)

    with training.main_process_first(desc="preparing the dataset"):
        splits, _, _ = prepare(cfg)
    splits = apply_caps(splits, cfg.data)
    use_eval = training.eval_strategy != "no"
    log(f"{len(splits['train'])} training samples" + (f", {len(splits['test'])} eval samples" if use_eval else ""))

    tokenizer = load_tokenizer(cfg.model)
    with training.main_process_first(desc="tokenizing"):
        tokenized = tokenize_splits(splits, tokenizer, training.dataset_text_field)
    model = load_model(cfg.model, training)
    progress = ProgressCallback()
    preemption = PreemptionCallback()
    trainer = SFTTrainer(
        model=model,
        args=training,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["test"] if use_eval else None,
        processing_class=tokenizer,
        peft_config=lora_config(cfg.model),
        callbacks=[
            progress,
            HistoryCallback(training.output_dir),
            preemption,
            CheckpointSkipCallback(cfg.model.checkpoint_skip_layers),
        ],
    )
    upcast_trainable_parameters(trainer)
    state = trainer.accelerator.state
    # One line per process: on several machines each machine's log shows its ranks took part.
    log(
        f"process {state.process_index} of {state.num_processes} (local {state.local_process_index}, "
        f"{state.distributed_type.value}, backend {state.backend or 'none'})"
    )
    if trainer.is_world_process_zero():
        trainer.model.print_trainable_parameters()

    # training.should_save: the process that owns this machine's checkpoints (one per machine with
    # save_on_each_node). Every machine restores its own, then all agree on one step to resume from.
    if preemption.store is not None and training.should_save:
        restore_checkpoints(machine_store(preemption.store), training.output_dir)
    trainer.accelerator.wait_for_everyone()
    step = resume_step(training.output_dir, training)
    if training.should_save:
        discard_unusable(training.output_dir, step)
    trainer.accelerator.wait_for_everyone()
    last_checkpoint = str(Path(training.output_dir) / f"checkpoint-{step}") if step is not None else None
    if last_checkpoint:
        log(f"resuming from {last_checkpoint}")
    started = time.monotonic()
    result = trainer.train(resume_from_checkpoint=last_checkpoint)
    runtime = time.monotonic() - started
    if preemption.preempted_at is not None:
        finish_preempted(preemption, training.output_dir, trainer.is_local_process_zero())

    eval_loss = progress.last_eval_loss
    if use_eval and eval_loss is None:
        eval_loss = trainer.evaluate()["eval_loss"]

    trainer.save_model(training.output_dir)
    train_loss, train_tokens = summarize_log_history(trainer.state.log_history)
    metrics = {
        # train_loss and train_tokens cover every step (a resumed run included); tokens_per_s and
        # train_runtime_s measure this process's run. train_loss_last_window compares with a W&B
        # `train/loss`, such as the reference's 0.9674 (docs/reference.md).
        "train_loss": train_loss if train_loss is not None else result.training_loss,
        "train_loss_last_window": last_window_loss(trainer.state.log_history),
        "eval_loss": eval_loss,
        "train_tokens": train_tokens,
        "tokens_per_s": progress.train_tokens / runtime if runtime > 0 else 0.0,
        "train_runtime_s": runtime,
    }
    if trainer.is_world_process_zero():
        numel = check_saved_adapter(training.output_dir)
        log(f"saved adapter ({numel} parameters) to {training.output_dir}")
        write_metrics(training.output_dir, metrics)
        log("metrics: " + json.dumps(metrics))
        pictures = write_run_plots(training.output_dir, os.environ.get("STACKTUNE_STACK") or "stacktune run")
        log(f"loss curve, tokens/s and memory plots: {', '.join(p.name for p in pictures)} in {training.output_dir}")
    if training.push_to_hub:
        trainer.push_to_hub(commit_message=f"stacktune {os.environ.get('STACKTUNE_EXPERIMENT_HASH', '')}".strip())
    trainer.accelerator.wait_for_everyone()
    return metrics


if __name__ == "__main__":
    main(parse_cli(sys.argv[1:]))
