"""PII redaction of a window title: the capture loop runs it on every title change (and
remembers the result while the title stays), so it must cost microseconds.  The reference
row is one plain e-mail regex search, the least any detection costs.

    PYTHONPATH=src python -m pytest benchmarks/test_bench_pii.py -q
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from fastrec.privacy.pii import redact_pii

TITLES = {
    "plain title": "Inbox - Outlook - Microsoft Edge",
    "numbers, no PII": "Build 2026.12.01 - 12:30 - 10.0.0.5 - order 112-3456789-1234567 - Terminal",
    "title with PII": "Re: refund - jane.doe@example.com - 4111 1111 1111 1111 - +44 20 7946 0958",
}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@pytest.mark.parametrize("title", list(TITLES))
@pytest.mark.parametrize("impl", ["redact_pii", "one e-mail regex"])
def test_redact_title(benchmark: Any, title: str, impl: str) -> None:
    text = TITLES[title]
    benchmark.group = f"pii: {title}"
    benchmark.extra_info["reference"] = impl == "one e-mail regex"
    if impl == "redact_pii":
        result = benchmark(redact_pii, text)
        assert ("[email]" in result) == (title == "title with PII")
    else:
        benchmark(_EMAIL.search, text)
