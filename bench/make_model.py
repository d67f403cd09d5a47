"""Create a random-weight model with Meta-Llama-3-8B's exact architecture, on the GPU, and save it.

hidden 4096, intermediate 14336, 32 layers, 32 heads, 8 KV heads, vocab 128256, rope theta
500000, max positions 8192, untied embeddings: 8.03e9 parameters. The weights are initialised
on the GPU in bf16 (transformers' own init, std 0.02; seeded) and saved as bf16 safetensors
(~16 GB) with bench/make_tokenizer.py's tokenizer beside them, so the trainer's real 4-bit load
path (from_pretrained(..., quantization_config=BitsAndBytesConfig(...))) quantizes them as it
would Meta's checkpoint.

usage: python bench/make_model.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
import time

import torch
from make_tokenizer import build as build_tokenizer
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

LLAMA3_8B = dict(
    vocab_size=128256,
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    hidden_act="silu",
    max_position_embeddings=8192,
    rms_norm_eps=1e-5,
    rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
    tie_word_embeddings=False,
    bos_token_id=128000,
    eos_token_id=[128001, 128009],
)


def main(out_dir: str) -> None:
    t0 = time.time()
    torch.manual_seed(100)
    config = LlamaConfig(**LLAMA3_8B)
    config.dtype = torch.bfloat16
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    n = sum(p.numel() for p in model.parameters())
    assert model.dtype == torch.bfloat16, model.dtype
    t1 = time.time()
    model.generation_config = GenerationConfig(bos_token_id=128000, eos_token_id=[128001, 128009])
    model.save_pretrained(out_dir, max_shard_size="5GB")
    build_tokenizer(out_dir)
    t2 = time.time()
    print(
        json.dumps(
            {
                "model_dir": out_dir,
                "parameters": n,
                "rope": config.rope_parameters,
                "init_s": round(t1 - t0, 1),
                "save_s": round(t2 - t1, 1),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
