"""A tiny random Llama with a Llama-3-style tokenizer, built locally (nothing is downloaded).

``python -m stacktune_train.tiny_model OUT_DIR`` writes a model the ``local-demo`` stack (and the
tests) train on CPU in seconds: 2 layers, hidden size 64, a byte-level BPE vocabulary trained on
the demo conversations plus the Llama-3 special tokens, and Meta's Llama-3 Instruct chat template.
Like the real Meta-Llama-3-8B-Instruct tokenizer it prepends ``<|begin_of_text|>`` when asked to
add special tokens and has no pad token.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from stacktune_train.chat import BEGIN_OF_TEXT, END_HEADER, END_OF_TURN, START_HEADER, encode_conversation

END_OF_TEXT = "<|end_of_text|>"
LLAMA3_SPECIAL_TOKENS = [BEGIN_OF_TEXT, END_OF_TEXT, START_HEADER, END_HEADER, END_OF_TURN] + [
    f"<|reserved_special_token_{i}|>" for i in range(4)
]

#: The chat template shipped with meta-llama/Meta-Llama-3-8B-Instruct.
LLAMA3_CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

#: Standard deviation of the output layer's random weights (build_model says why it is not 0.02).
LM_HEAD_INIT_STD = 0.2

#: Meta-Llama-3's pre-tokenizer pattern (its tokenizer.json). Unlike GPT-2's, it keeps a run of line
#: breaks in one piece, so the blank line after every chat header is one token, as in the real
#: model: split into two newline tokens, "newline after newline" became the corpus's most common
#: pair, and a briefly trained model answered with nothing but newlines.
LLAMA3_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)

#: The tokenizer's corpus, and the data the e2e test stacks train on. The local-demo stack trains on
#: its own data/local-demo.jsonl with this vocabulary: one trained on that repetitive set would split
#: demo.jsonl into other tokens and change those stacks' trained-token counts, which they check.
DEMO_DATASET = resources.files("stacktune_train") / "data" / "demo.jsonl"


def demo_dataset_path() -> Path:
    return Path(str(DEMO_DATASET))


def _corpus(path: Path) -> list[str]:
    texts = []
    with path.open(encoding="utf-8") as f:
        for index, line in enumerate(f):
            texts.append(encode_conversation(json.loads(line)["conversations"], sample_index=index))
    return texts


def build_tokenizer(corpus: list[str], vocab_size: int = 640) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=LLAMA3_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    bos_id = tokenizer.token_to_id(BEGIN_OF_TEXT)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BEGIN_OF_TEXT} $A",
        pair=f"{BEGIN_OF_TEXT} $A {BEGIN_OF_TEXT} $B",
        special_tokens=[(BEGIN_OF_TEXT, bos_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BEGIN_OF_TEXT,
        eos_token=END_OF_TURN,
        chat_template=LLAMA3_CHAT_TEMPLATE,
        model_max_length=8192,
        clean_up_tokenization_spaces=False,
    )


def build_model(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    eos_ids = [tokenizer.convert_tokens_to_ids(END_OF_TURN), tokenizer.convert_tokens_to_ids(END_OF_TEXT)]
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_ids,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    # LoRA leaves lm_head frozen, and behind the final RMSNorm the hidden state has unit scale: at
    # the default init (std 0.02) no adapter could move a logit by more than about one, so the loss
    # could barely fall below log(vocabulary size). Output weights on the scale of a trained model's
    # logits let a few dozen LoRA steps learn the demo data.
    with torch.no_grad():
        model.lm_head.weight.normal_(mean=0.0, std=LM_HEAD_INIT_STD)
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=eos_ids)
    return model


def write_tiny_model(out_dir: str | Path, corpus_path: Path | None = None) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(_corpus(corpus_path or demo_dataset_path()))
    build_model(tokenizer).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m stacktune_train.tiny_model OUT_DIR")
    out = write_tiny_model(argv[0])
    print(f"tiny Llama + Llama-3 tokenizer written to {out}; demo dataset: {demo_dataset_path()}")


if __name__ == "__main__":
    main()
