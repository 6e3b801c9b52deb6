"""The trace of every built-in is byte-for-byte what it was when this file was written.

The hashes pin `bptui trace NAME --steps 50` (JSON and CSV) as the engine
produced them before the four-layer restructuring, so moving code around can
never change a number, a formula or the order of a key.  A change that *means*
to change the trace updates a hash here, with the reason in its commit.
"""

from __future__ import annotations

import hashlib

import pytest

GOLDEN_SHA256 = {
    ("article", "json"): "bc3710eba0b3611cca7c54a13658c1dd1bf59c9fd5e6eff245f6bbfa03d1496a",
    ("article", "csv"): "da6b374d03eef21525b36f7fbf56c68a36e95e0e29d2d641741e5aa1e77db994",
    ("xor", "json"): "12986676f319152fa5008e17e9cc958a4371398947b43dc8037ec9c2a4d7e273",
    ("xor", "csv"): "3e4feef7c34185174e6c58c7bbc42aa18d78ec763f8a4b5c6abfbcd12e09baa3",
    ("softmax3", "json"): "2017853a6ec57b9a98abdbf9b63965f87facd7d9dbe98b7979521d7e4ffc8b8a",
    ("softmax3", "csv"): "a6ea3110c93a26e020800fc869b8b8ea6678aa7f8b085d003b87f5ac4a8a9b94",
    ("deep", "json"): "ef7d00751d327a969c150e0721fa52d798eee2dd62367925e177358f46240c2e",
    ("deep", "csv"): "2982de915484aed35fcbae0a93b35bacd4c55d17469bf557fb2543d34a2079de",
    ("diverge", "json"): "3293f44f3f747570e8af2de9865a5b26ee94c20c2952fabad8fc23300b5baf32",
    ("diverge", "csv"): "1db5071d4f7bcf108e5993f93c639995deaa1564e83f1b3a1e61af4b648bf29e",
}


@pytest.mark.parametrize(("name", "fmt"), sorted(GOLDEN_SHA256))
def test_trace_is_byte_identical(run_cli, name: str, fmt: str) -> None:
    result = run_cli("trace", name, "--steps", "50", "--format", fmt)
    assert result.code == 0 and result.err == ""
    digest = hashlib.sha256(result.out.encode("utf-8")).hexdigest()
    assert digest == GOLDEN_SHA256[(name, fmt)]
