"""The placeholder output texts of the recorded MMLU-Pro answers (``benchmarks/convert_mmlu_pro.py``
explains them); the extractor tests check the one extractor reads each as the harness did."""

from __future__ import annotations

UNAVAILABLE = "(Recorded output text not available; "


def recorded_text(pred: str | None, format_ok: bool) -> str:
    """The placeholder output text for one recorded answer (see the module docstring)."""
    if pred and format_ok:
        return f"{UNAVAILABLE}the original run answered {pred}.) The answer is ({pred})."
    if pred:
        return (
            f"{UNAVAILABLE}the original output did not state its choice in the expected format; "
            f"the evaluation harness's fallback parser read it from the text.) Answer: {pred}"
        )
    return f"{UNAVAILABLE}the original output gave no choice that the evaluation harness could parse.)"
