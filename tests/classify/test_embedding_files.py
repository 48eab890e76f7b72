"""The WordLlama files are the pinned release's: a changed table is a one-line error at load."""

import shutil

import pytest

from flows.classify.embedding import WORDLLAMA_SHA256, WORDLLAMA_WEIGHTS, EmbeddingError, check_sha256, wordllama_files


def test_the_installed_files_match_their_pinned_hashes():
    weights, tokenizer = wordllama_files()  # raises if either differs
    assert weights.name.endswith(".safetensors") and tokenizer.suffix == ".json"


def test_a_weights_file_with_one_byte_changed_is_refused_in_one_line(tmp_path):
    weights, _ = wordllama_files()
    copy = tmp_path / weights.name
    shutil.copy(weights, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(EmbeddingError) as err:
        check_sha256(copy, WORDLLAMA_SHA256[WORDLLAMA_WEIGHTS])
    message = str(err.value)
    assert "\n" not in message and str(copy) in message and "SHA-256" in message and "make install" in message
