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

The CSV hashes of article, xor, deep and diverge changed on purpose when the
CSV's numbers began to be written by orjson, as the JSON's are (seven times
the rows per second): only the text of small numbers changed (``-8.6e-05``
is now ``-0.000086``, ``2.05e-08`` is ``2.05e-8``); every value of the five
built-ins' 50-step CSVs was checked to read back to the same float as before.
"""

from __future__ import annotations

import hashlib

import pytest

GOLDEN_SHA256 = {
    ("article", "json"): "c3231461af7c80c1b3029ca945c66e03189eea7a733c3d107b5315da02595721",
    ("article", "csv"): "38827f4d45db1f0791c25fc8a866805ef370e0535250d1025107a6db8a6cea2c",
    ("xor", "json"): "f457c0af6db4663353170dd67534aa161f91453283ddc8ce71d2e199f00166a4",
    ("xor", "csv"): "da8ebf484fac6014117532da852314c407678b4811e2b83e377670570c38855d",
    ("softmax3", "json"): "bdafd1dc92aa874bc551ea977d48beee0e2de85fbb0a777e40b8e6f76cd945ce",
    ("softmax3", "csv"): "a6ea3110c93a26e020800fc869b8b8ea6678aa7f8b085d003b87f5ac4a8a9b94",
    ("deep", "json"): "de8ab5c9f31782be1f14f8ab456a00865473fa7fd13692731aa235592345d7da",
    ("deep", "csv"): "b3a247efdd34775c2e6b6bef5804751a8f84a7bf11833bf6f55bb55164023976",
    ("diverge", "json"): "8e278b3d83fdfc8725365fb08c7a2359f86f27a5a4cd6f5e984f54af86cac3a2",
    ("diverge", "csv"): "b445a7941d9767c6c77a357ed5924c9e202fb548fa7c7864bde199cf227662df",
}


@pytest.mark.parametrize(("name", "fmt"), sorted(GOLDEN_SHA256))
def test_trace_is_byte_identical(run_cli, name: str, fmt: str) -> None:
    result = run_cli("trace", name, "--steps", "50", "--format", fmt)
    assert result.code == 0 and result.err == ""
    digest = hashlib.sha256(result.out.encode("utf-8")).hexdigest()
    assert digest == GOLDEN_SHA256[(name, fmt)]
