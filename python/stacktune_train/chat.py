"""Llama-3 chat encoding of ShareGPT conversations.

The format is Meta's, byte for byte (and equal to the Llama-3 Instruct Jinja chat template):
``<|begin_of_text|>`` then, per message,
``<|start_header_id|>ROLE<|end_header_id|>\\n\\n`` + stripped value + ``<|eot_id|>``.

Unlike the reference run, a role missing from the role map, a missing or non-string value, or an
empty conversation is an error naming the sample index and the role: the reference silently
wrote an empty header for an unknown role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

BEGIN_OF_TEXT = "<|begin_of_text|>"
START_HEADER = "<|start_header_id|>"
END_HEADER = "<|end_header_id|>"
END_OF_TURN = "<|eot_id|>"

#: ShareGPT ``from`` -> Llama-3 role, as in the reference run (and stacktune:dataset.roles).
DEFAULT_ROLE_MAP: dict[str, str] = {"system": "system", "human": "user", "gpt": "assistant"}

SUPPORTED_CHAT_FORMATS = ("llama3",)


class ChatEncodingError(ValueError):
    """A conversation that cannot be encoded; the message names the sample and the role."""


def encode_header(role: str) -> str:
    return f"{START_HEADER}{role}{END_HEADER}\n\n"


def encode_message(role: str, value: str) -> str:
    return encode_header(role) + value.strip() + END_OF_TURN


def generation_prompt(messages: Sequence[tuple[str, str]]) -> str:
    """A Llama-3 prompt for ``(role, text)`` turns, ending with the assistant header and its blank
    line (the reference's inference prompt omitted that blank line)."""
    return BEGIN_OF_TEXT + "".join(encode_message(r, v) for r, v in messages) + encode_header("assistant")


def encode_conversation(
    conversation: Any,
    *,
    sample_index: int,
    role_map: Mapping[str, str] = DEFAULT_ROLE_MAP,
) -> str:
    """Encode one ShareGPT conversation (a list of ``{"from", "value", ...}``) as Llama-3 text."""
    if not isinstance(conversation, Sequence) or isinstance(conversation, (str, bytes)):
        raise ChatEncodingError(
            f"sample {sample_index}: conversation must be a list of messages, got {type(conversation).__name__}"
        )
    if len(conversation) == 0:
        raise ChatEncodingError(f"sample {sample_index}: conversation is empty; drop the sample or fix the source")
    parts = [BEGIN_OF_TEXT]
    for turn, message in enumerate(conversation):
        if not isinstance(message, Mapping):
            raise ChatEncodingError(
                f"sample {sample_index}, message {turn}: expected an object with 'from' and 'value', "
                f"got {type(message).__name__}"
            )
        source_role = message.get("from")
        if source_role not in role_map:
            known = ", ".join(sorted(role_map))
            raise ChatEncodingError(
                f"sample {sample_index}, message {turn}: unknown role {source_role!r}; "
                f"known roles are {known} (add it to stacktune:dataset.roles)"
            )
        value = message.get("value")
        if not isinstance(value, str):
            raise ChatEncodingError(
                f"sample {sample_index}, message {turn}, role {source_role!r}: "
                f"missing value (got {value!r}); every message needs a string 'value'"
            )
        parts.append(encode_message(role_map[source_role], value))
    return "".join(parts)


def check_chat_format(chat_format: str) -> None:
    if chat_format not in SUPPORTED_CHAT_FORMATS:
        raise ValueError(
            f"chat_format {chat_format!r} is not supported; use one of {', '.join(SUPPORTED_CHAT_FORMATS)}"
        )
