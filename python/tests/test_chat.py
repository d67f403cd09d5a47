import json

import pytest

from conftest import SAMPLE
from stacktune_train.chat import (
    DEFAULT_ROLE_MAP,
    ChatEncodingError,
    encode_conversation,
    generation_prompt,
)

H = "<|start_header_id|>"
E = "<|end_header_id|>\n\n"
T = "<|eot_id|>"


def msg(role, value, weight=None):
    return {"from": role, "value": value, "weight": weight}


def test_single_turn_is_encoded_exactly():
    text = encode_conversation([msg("human", "Hi"), msg("gpt", "Hello!")], sample_index=0)
    assert text == f"<|begin_of_text|>{H}user{E}Hi{T}{H}assistant{E}Hello!{T}"


def test_system_prompt_and_multi_turn_keep_order_and_roles():
    conversation = [
        msg("system", "Be brief."),
        msg("human", "2+2?"),
        msg("gpt", "4"),
        msg("human", "And 3+3?"),
        msg("gpt", "6"),
    ]
    assert encode_conversation(conversation, sample_index=3) == (
        f"<|begin_of_text|>{H}system{E}Be brief.{T}{H}user{E}2+2?{T}{H}assistant{E}4{T}"
        f"{H}user{E}And 3+3?{T}{H}assistant{E}6{T}"
    )


def test_surrounding_whitespace_is_stripped_but_inner_whitespace_kept():
    text = encode_conversation([msg("human", "  \n line one\n\nline two \t\n"), msg("gpt", "ok ")], sample_index=0)
    assert text == f"<|begin_of_text|>{H}user{E}line one\n\nline two{T}{H}assistant{E}ok{T}"


def test_non_ascii_text_is_kept_verbatim():
    text = encode_conversation([msg("human", "泰国菜？ «ça» 🎉"), msg("gpt", "Привет")], sample_index=0)
    assert f"{E}泰国菜？ «ça» 🎉{T}" in text
    assert f"{E}Привет{T}" in text


def test_extra_message_fields_are_ignored():
    conversation = [{"from": "human", "value": "x", "weight": 0.0, "extra": 1}, msg("gpt", "y", 1.0)]
    assert encode_conversation(conversation, sample_index=0).endswith(f"{H}assistant{E}y{T}")


def test_custom_role_map_from_settings():
    text = encode_conversation(
        [msg("user", "q"), msg("bot", "a")], sample_index=0, role_map={"user": "user", "bot": "assistant"}
    )
    assert text == f"<|begin_of_text|>{H}user{E}q{T}{H}assistant{E}a{T}"


def to_messages(conversation):
    return [{"role": DEFAULT_ROLE_MAP[m["from"]], "content": m["value"]} for m in conversation]


def test_every_sample_row_equals_the_llama3_chat_template(tiny_tokenizer):
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 40
    for index, row in enumerate(rows):
        ours = encode_conversation(row["conversations"], sample_index=index)
        template = tiny_tokenizer.apply_chat_template(to_messages(row["conversations"]), tokenize=False)
        assert ours == template, f"row {index} differs from the Llama-3 chat template"


def test_generation_prompt_has_the_blank_line_and_matches_the_template(tiny_tokenizer):
    prompt = generation_prompt([("user", "  Describe the food of Thailand  ")])
    assert prompt.endswith(f"{H}assistant<|end_header_id|>\n\n")
    template = tiny_tokenizer.apply_chat_template(
        [{"role": "user", "content": "  Describe the food of Thailand  "}], tokenize=False, add_generation_prompt=True
    )
    assert prompt == template


def test_encoded_text_tokenizes_to_one_bos_and_round_trips(tiny_tokenizer):
    text = encode_conversation([msg("human", "Hi 日本"), msg("gpt", "Hello")], sample_index=0)
    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids.count(tiny_tokenizer.bos_token_id) == 1 and ids[0] == tiny_tokenizer.bos_token_id
    assert tiny_tokenizer.decode(ids) == text


@pytest.mark.parametrize(
    ("conversation", "expected"),
    [
        ([msg("human", "q"), msg("narrator", "x")], r"sample 7, message 1: unknown role 'narrator'"),
        ([msg("tool", "q")], r"sample 7, message 0: unknown role 'tool'; known roles are gpt, human, system"),
        ([{"value": "no role"}], r"sample 7, message 0: unknown role None"),
        ([msg("human", None)], r"sample 7, message 0, role 'human': missing value \(got None\)"),
        ([{"from": "gpt"}], r"sample 7, message 0, role 'gpt': missing value"),
        ([msg("human", 42)], r"sample 7, message 0, role 'human': missing value \(got 42\)"),
        ([], r"sample 7: conversation is empty"),
        (None, r"sample 7: conversation must be a list of messages, got NoneType"),
        ("human: hi", r"sample 7: conversation must be a list of messages, got str"),
        ([msg("human", "q"), "gpt: a"], r"sample 7, message 1: expected an object with 'from' and 'value'"),
    ],
)
def test_bad_conversations_fail_naming_the_sample_and_role(conversation, expected):
    with pytest.raises(ChatEncodingError, match=expected):
        encode_conversation(conversation, sample_index=7)
