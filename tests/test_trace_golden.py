"""The trace of every built-in is byte-for-byte what it was when this file was written.

The hashes pin `bptui trace NAME --steps 50` (JSON and CSV) as the engine
produced them before the four-layer restructuring, so moving code around can
never change a number, a formula or the order of a key.  A change that *means*
to change the trace updates a hash here, with the reason in its commit.

The JSON hashes were updated once on purpose: records gained ``"batch"`` and
are written by orjson (compact separators, ``1e-05`` written ``0.00001``);
every value was checked equal to the old trace's after parsing.
"""

from __future__ import annotations

import hashlib

import pytest

GOLDEN_SHA256 = {
    ("article", "json"): "b400a55b72373d1afded49f73c21508453cee27890779b563b2a52c7f6f7cfb9",
    ("article", "csv"): "da6b374d03eef21525b36f7fbf56c68a36e95e0e29d2d641741e5aa1e77db994",
    ("xor", "json"): "25308cbb17f46cc1759ac8e5fd262a6af0187968ead99173d602812247936ac1",
    ("xor", "csv"): "3e4feef7c34185174e6c58c7bbc42aa18d78ec763f8a4b5c6abfbcd12e09baa3",
    ("softmax3", "json"): "bdafd1dc92aa874bc551ea977d48beee0e2de85fbb0a777e40b8e6f76cd945ce",
    ("softmax3", "csv"): "a6ea3110c93a26e020800fc869b8b8ea6678aa7f8b085d003b87f5ac4a8a9b94",
    ("deep", "json"): "de8ab5c9f31782be1f14f8ab456a00865473fa7fd13692731aa235592345d7da",
    ("deep", "csv"): "2982de915484aed35fcbae0a93b35bacd4c55d17469bf557fb2543d34a2079de",
    ("diverge", "json"): "1edb302b1bf8c8ee119c1c712b0a4e29a6ae1496110e6450bbedb6687931e423",
    ("diverge", "csv"): "1db5071d4f7bcf108e5993f93c639995deaa1564e83f1b3a1e61af4b648bf29e",
}


@pytest.mark.parametrize(("name", "fmt"), sorted(GOLDEN_SHA256))
def test_trace_is_byte_identical(run_cli, name: str, fmt: str) -> None:
    result = run_cli("trace", name, "--steps", "50", "--format", fmt)
    assert result.code == 0 and result.err == ""
    digest = hashlib.sha256(result.out.encode("utf-8")).hexdigest()
    assert digest == GOLDEN_SHA256[(name, fmt)]
