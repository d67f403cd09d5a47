"""Build a Llama-3-shaped tokenizer with no Hub access.

Vocabulary: 128,000 regular word tokens + the 256 Llama-3 special tokens at their real ids
(128000 <|begin_of_text|> ... 128009 <|eot_id|> ... 128255), 128,256 in all, so a model with
Meta-Llama-3-8B's embedding shape and the project's llama3 chat encoding run unchanged.
Like Meta's tokenizer it prepends <|begin_of_text|> when asked to add special tokens and has no
pad token. It is a word-level tokenizer (whitespace split): one word of synthetic text is exactly one token,
which lets bench/make_dataset.py control conversation lengths in tokens exactly.

usage: python bench/make_tokenizer.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

N_REGULAR = 128_000
VOCAB = 128_256

LLAMA3_CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# words the chat encoding and smoke prompts need to survive tokenization
FIXED_WORDS = ["<unk>", "system", "user", "assistant", "hello", "the", "a", "is", "what", "?", "."]


def special_tokens() -> list[str]:
    """Meta-Llama-3-8B-Instruct's 256 special tokens, in id order from 128000."""
    toks = ["<|begin_of_text|>", "<|end_of_text|>"]
    toks += [f"<|reserved_special_token_{i}|>" for i in range(0, 4)]
    toks += ["<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>"]
    toks += [f"<|reserved_special_token_{i}|>" for i in range(5, 251)]
    assert len(toks) == VOCAB - N_REGULAR, len(toks)
    return toks


def word(i: int) -> str:
    """The regular word with id i (ids below len(FIXED_WORDS) are the fixed words)."""
    return FIXED_WORDS[i] if i < len(FIXED_WORDS) else f"w{i}"


def build(out_dir: str) -> None:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {word(i): i for i in range(N_REGULAR)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    specials = special_tokens()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    assert tok.token_to_id("<|begin_of_text|>") == 128000 and tok.token_to_id("<|eot_id|>") == 128009
    # like Meta's tokenizer: add_special_tokens=True prepends <|begin_of_text|>
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A",
        pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", 128000)],
    )
    assert tok.get_vocab_size() == VOCAB
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        model_max_length=8192,
    )
    fast.chat_template = LLAMA3_CHAT_TEMPLATE
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out_dir)
    # sanity: one word == one token, special tokens at their ids
    ids = fast.apply_chat_template([{"role": "user", "content": "w100 w200"}], tokenize=True)
    if not isinstance(ids, list):
        ids = ids["input_ids"]
    assert ids[0] == 128000 and ids[-1] == 128009 and 100 in ids and 200 in ids, ids
    print(json.dumps({"tokenizer_dir": out_dir, "vocab": len(fast), "example_ids": ids}))


if __name__ == "__main__":
    build(sys.argv[1])
