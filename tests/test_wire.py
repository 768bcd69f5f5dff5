"""The wire format decodes whatever a hostile child sends in linear time, into text that can be
written anywhere."""

import json
import signal

import pytest

from autograder.sandbox import wire


def _message(header) -> bytes:
    head = json.dumps(header).encode()
    return len(head).to_bytes(8, "little") + head


def test_dict_keys_that_share_one_hash_are_refused():
    """Every i * (2**61 - 1) hashes to 0: 40,000 of them made one reply take minutes to decode."""
    old = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("decoding hangs")))
    signal.alarm(20)
    try:
        with pytest.raises(wire.WireError, match="share one hash"):
            wire.decode(_message({"__t__": "dict", "items": [[i * (2 ** 61 - 1), 1] for i in range(40_000)]}))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_ordinary_dicts_with_int_and_tuple_keys_still_cross():
    value = {i: i * i for i in range(5000)} | {(i, "a"): i for i in range(100)} | {-1: 0, -2: 0}
    assert wire.decode(wire.encode(value)) == value


def test_lone_surrogates_become_replacement_characters():
    """A lone surrogate (valid JSON, not valid UTF-8) in a message stopped the student's notebook
    from being written, and with it their grade."""
    decoded = wire.decode(wire.encode({"k\udfff": ["a\ud800b", "ok \U0001F600"]}))
    assert decoded == {"k\ufffd": ["a\ufffdb", "ok \U0001F600"]}
    json.dumps(decoded, ensure_ascii=False).encode("utf-8")
