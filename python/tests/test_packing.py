"""Packing with ``packing_strategy: bfd`` keeps conversations isolated on every attention backend.

flash_attention_2 (GPU) reads the restarting ``position_ids`` as varlen boundaries; on sdpa and
eager, transformers builds a block-diagonal mask from them, provided the forward has no KV cache
(``train.load_model`` sets ``use_cache=False``). This test runs the trainer's own model loader,
TRL's packer and TRL's collator, and compares each packed conversation's logits with the logits
of the same conversation run alone.
"""

import pytest
import torch
from datasets import Dataset
from trl.data_utils import pack_dataset
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from conftest import cpu_training_values, write_yaml
from stacktune_train import train
from stacktune_train.chat import encode_conversation
from stacktune_train.config import parse_config


def conversations(tokenizer):
    texts = [
        encode_conversation(
            [{"from": "human", "value": "What is 17 * 23?"}, {"from": "gpt", "value": "391."}], sample_index=0
        ),
        encode_conversation(
            [
                {"from": "system", "value": "Be brief."},
                {"from": "human", "value": "日本の首都は？"},
                {"from": "gpt", "value": "東京です。"},
            ],
            sample_index=1,
        ),
        encode_conversation(
            [{"from": "human", "value": "Why is the sky blue?"}, {"from": "gpt", "value": "Rayleigh scattering."}],
            sample_index=2,
        ),
    ]
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


def packed_batch(ids, strategy, pad_token_id):
    data = Dataset.from_dict({"input_ids": ids, "labels": ids})
    packed = pack_dataset(data, seq_length=sum(len(i) for i in ids), strategy=strategy)
    assert len(packed) == 1, "all conversations fit in one packed row"
    collator = DataCollatorForLanguageModeling(pad_token_id=pad_token_id, padding_free=strategy == "bfd")
    return collator([packed[0]])


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_bfd_packing_keeps_conversations_isolated(run_dir, tiny_model_dir, tiny_tokenizer, attn):
    values = cpu_training_values(tiny_model_dir, attn_implementation=attn)
    cfg = parse_config(write_yaml(run_dir / "t.yaml", values), [])
    model = train.load_model(cfg.model, cfg.training)
    model.train()  # the training forward; the tiny Llama has no dropout, so logits are deterministic
    ids = conversations(tiny_tokenizer)
    batch = packed_batch(ids, "bfd", tiny_tokenizer.eos_token_id)
    assert "attention_mask" not in batch and batch["position_ids"][0].tolist().count(0) == len(ids)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        packed_logits = model(**inputs).logits[0]
        starts = torch.nonzero(batch["position_ids"][0] == 0).flatten().tolist() + [packed_logits.shape[0]]
        for begin, end in zip(starts, starts[1:], strict=False):
            alone = model(input_ids=batch["input_ids"][:, begin:end]).logits[0]
            torch.testing.assert_close(packed_logits[begin:end], alone, atol=1e-5, rtol=1e-4)


def test_wrapped_packing_lets_conversations_attend_to_each_other(run_dir, tiny_model_dir, tiny_tokenizer):
    """The reference's packing: one causal block, so later conversations see earlier ones."""
    cfg = parse_config(write_yaml(run_dir / "t.yaml", cpu_training_values(tiny_model_dir)), [])
    model = train.load_model(cfg.model, cfg.training)
    model.train()
    ids = conversations(tiny_tokenizer)
    batch = packed_batch(ids, "wrapped", tiny_tokenizer.eos_token_id)
    with torch.no_grad():
        packed_logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[0]
        second = len(ids[0])
        alone = model(input_ids=torch.tensor([ids[1]])).logits[0]
    assert not torch.allclose(packed_logits[second : second + len(ids[1])], alone, atol=1e-3)
