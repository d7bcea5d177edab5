"""Keyed pseudonyms and the key file."""

from __future__ import annotations

import hashlib
import hmac
import stat

import pandas as pd
import pytest

from safeguard.dpia.pseudonymise import (
    KEY_ENV_VAR,
    Pseudonymiser,
    PseudonymKeyError,
    load_or_create_key,
)

KEY = bytes(range(32))


def test_pseudonym_is_truncated_hmac_of_namespace_and_value():
    out = Pseudonymiser(KEY).pseudonymise("record", pd.Series(["police:I1"]))
    expected = hmac.new(KEY, b"record\x1fpolice:I1", hashlib.sha256).hexdigest()[:16]
    assert out.tolist() == [expected]
    assert out.dtype == "string"


def test_deterministic_per_key_different_across_keys_and_namespaces():
    values = pd.Series(["a", "b", "a"], index=[10, 11, 12], name="ids")
    first = Pseudonymiser(KEY).pseudonymise("record", values)
    again = Pseudonymiser(KEY).pseudonymise("record", values)
    other_key = Pseudonymiser(bytes(reversed(KEY))).pseudonymise("record", values)
    other_namespace = Pseudonymiser(KEY).pseudonymise("address", values)
    assert first.equals(again)
    assert first.iloc[0] == first.iloc[2] != first.iloc[1]
    assert not set(first) & set(other_key)
    assert not set(first) & set(other_namespace)
    assert list(first.index) == [10, 11, 12] and first.name == "ids"


def test_missing_and_blank_stay_missing():
    out = Pseudonymiser(KEY).pseudonymise("record", pd.Series(["x", None, "", "  ", pd.NA]))
    assert out.isna().tolist() == [False, True, True, True, True]
    assert Pseudonymiser(KEY).pseudonymise("record", pd.Series([], dtype="string")).empty


def test_key_is_never_shown_and_must_be_long_enough():
    assert "00010203" not in repr(Pseudonymiser(KEY))
    with pytest.raises(PseudonymKeyError, match="at least 16"):
        Pseudonymiser(b"short")
    with pytest.raises(ValueError, match="namespace"):
        Pseudonymiser(KEY).pseudonymise("", pd.Series(["x"]))


def test_key_file_created_once_with_0600(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    key = load_or_create_key(tmp_path / "data")
    path = tmp_path / "data" / "pseudonym.key"
    assert len(key) == 32 and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path / "data") == key
    assert list((tmp_path / "data").iterdir()) == [path]  # no temporary file left behind


def test_the_configured_key_wins_and_is_passed_in(tmp_path, monkeypatch):
    # the setting (SAFEGUARD_PSEUDONYM_KEY) is read by safeguard/settings.py and passed in
    monkeypatch.setenv(KEY_ENV_VAR, "not hex")  # dpia reads no environment
    assert load_or_create_key(tmp_path, KEY.hex()) == KEY
    assert not (tmp_path / "pseudonym.key").exists()
    with pytest.raises(PseudonymKeyError, match=KEY_ENV_VAR):
        load_or_create_key(tmp_path, "not hex")
    with pytest.raises(PseudonymKeyError, match="at least 16"):
        load_or_create_key(tmp_path, "abcd")
    assert len(load_or_create_key(tmp_path)) == 32  # no setting: the key file


def test_truncated_key_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    (tmp_path / "pseudonym.key").write_bytes(b"\x00" * 4)
    with pytest.raises(PseudonymKeyError, match="restore it from backup"):
        load_or_create_key(tmp_path)
