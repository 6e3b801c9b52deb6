"""The trace of every built-in is byte-for-byte what it was when this file was written.

The hashes pin `bptui trace NAME --steps 50` (JSON and CSV) as the engine
produced them before the four-layer restructuring, so moving code around can
never change a number, a formula or the order of a key.  A change that *means*
to change the trace updates a hash here, with the reason in its commit.

The JSON hashes were updated once on purpose: records gained ``"batch"`` and
are written by orjson (compact separators, ``1e-05`` written ``0.00001``);
every value was checked equal to the old trace's after parsing.

The article, xor and diverge hashes (JSON and CSV) changed again on purpose
when small nets began stepping as generated scalar Python
(bptui/engine/compiled.py): the arithmetic changed in the last bits, and every
number of those traces was checked to agree with the numpy-step trace to
1e-12 relative to its vector's largest entry (absolute below 1); the largest
difference was 4.7e-14.
"""

from __future__ import annotations

import hashlib

import pytest

GOLDEN_SHA256 = {
    ("article", "json"): "c3231461af7c80c1b3029ca945c66e03189eea7a733c3d107b5315da02595721",
    ("article", "csv"): "24abc9474c177a7ca717a64f0809a2d98d48320df1ca413df3078398a486d11d",
    ("xor", "json"): "f457c0af6db4663353170dd67534aa161f91453283ddc8ce71d2e199f00166a4",
    ("xor", "csv"): "62d9f5a4d3d2c5d8fc15735d8ac2dc358fcefa4713dfaca1aea74570d03ad353",
    ("softmax3", "json"): "bdafd1dc92aa874bc551ea977d48beee0e2de85fbb0a777e40b8e6f76cd945ce",
    ("softmax3", "csv"): "a6ea3110c93a26e020800fc869b8b8ea6678aa7f8b085d003b87f5ac4a8a9b94",
    ("deep", "json"): "de8ab5c9f31782be1f14f8ab456a00865473fa7fd13692731aa235592345d7da",
    ("deep", "csv"): "2982de915484aed35fcbae0a93b35bacd4c55d17469bf557fb2543d34a2079de",
    ("diverge", "json"): "8e278b3d83fdfc8725365fb08c7a2359f86f27a5a4cd6f5e984f54af86cac3a2",
    ("diverge", "csv"): "086242c5d754d5d9a8529d11080005073af50a47639725f77a0d4a7018fe2ace",
}


@pytest.mark.parametrize(("name", "fmt"), sorted(GOLDEN_SHA256))
def test_trace_is_byte_identical(run_cli, name: str, fmt: str) -> None:
    result = run_cli("trace", name, "--steps", "50", "--format", fmt)
    assert result.code == 0 and result.err == ""
    digest = hashlib.sha256(result.out.encode("utf-8")).hexdigest()
    assert digest == GOLDEN_SHA256[(name, fmt)]
