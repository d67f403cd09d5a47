"""Issue 6 item 3: the adapter saved under ZeRO-3 is non-empty and reloads.

usage: python bench/check_adapter.py OUTPUT_DIR BASE_MODEL_DIR
Finds the newest adapter_model.safetensors under OUTPUT_DIR, checks every LoRA tensor is non-empty
(no ZeRO-3 placeholder of shape [0]) and that lora_B moved from its zero init, then reloads it onto
the 4-bit base with PeftModel.from_pretrained and checks the adapted model's logits differ from the
base's on one prompt. Prints one JSON line; exits non-zero on any failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file


def main() -> None:
    out, base = Path(sys.argv[1]), sys.argv[2]
    files = sorted(out.rglob("adapter_model.safetensors"), key=lambda p: p.stat().st_mtime)
    if not files:
        print(json.dumps({"ok": False, "error": f"no adapter_model.safetensors under {out}"}))
        sys.exit(1)
    path = files[-1]
    sd = load_file(str(path))
    empty = [k for k, v in sd.items() if v.numel() == 0]
    b_norm = sum(float(v.float().norm()) for k, v in sd.items() if "lora_B" in k)
    report = {
        "adapter": str(path),
        "bytes": path.stat().st_size,
        "tensors": len(sd),
        "parameters": sum(v.numel() for v in sd.values()),
        "empty_tensors": len(empty),
        "lora_B_norm_sum": b_norm,
    }
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    qc = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_quant_storage=torch.bfloat16,
    )
    model = AutoModelForCausalLM.from_pretrained(
        base, quantization_config=qc, dtype=torch.bfloat16, device_map={"": 0}, attn_implementation="sdpa"
    )
    tok = AutoTokenizer.from_pretrained(base)
    ids = tok("w100 w200 w300 hello", return_tensors="pt").input_ids.to(0)
    with torch.no_grad():
        base_logits = model(ids).logits.float()
    model = PeftModel.from_pretrained(model, str(path.parent))
    with torch.no_grad():
        peft_logits = model(ids).logits.float()
    report["reloaded_lora_modules"] = sum(1 for n, _ in model.named_modules() if n.endswith("lora_A"))
    report["logit_max_abs_diff"] = float((peft_logits - base_logits).abs().max())
    report["ok"] = (
        len(sd) > 0
        and not empty
        and b_norm > 0
        and report["reloaded_lora_modules"] > 0
        and report["logit_max_abs_diff"] > 0
    )
    print("CHECK_ADAPTER " + json.dumps(report))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
