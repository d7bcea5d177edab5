"""Staged writes: a stage's warehouse tables, vault tables and files change together or not at
all, and recovery finishes (or discards) a write that stopped half way.

These run in-process with injected failures (``OSError(ENOSPC)`` at each phase) and with a
stage that is simply never finished (what SIGKILL leaves); tests/pipelines/test_faults.py
kills a real pipeline process.
"""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from safeguard.pipelines.resources import Warehouse
from safeguard.warehouse import faults
from safeguard.warehouse.storage import COMMITS, JOURNAL, STAGING_DIR, atomic_write_text


@pytest.fixture()
def warehouse(tmp_path: Path) -> Warehouse:
    w = Warehouse(data_dir=str(tmp_path / "data"))
    _generation(w, 1)
    return w


@pytest.fixture(autouse=True)
def _rearm(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(faults.ENV_VAR, raising=False)
    faults.rearm()
    yield
    faults.rearm()


def _frame(generation: int, n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"k": range(n), "generation": [generation] * n})


def _generation(w: Warehouse, generation: int) -> None:
    """One stage writing two warehouse tables, a vault table, a folder and a file."""
    with w.stage("step") as stage:
        stage.write_table("identities", _frame(generation), vault=True)
        stage.write_table("records", _frame(generation))
        (stage.artefact_dir("packs") / "a.html").write_text(f"g{generation}")
        stage.write_table("links", _frame(generation))
        stage.artefact_file("models", "approved.json").write_text(f'{{"g": {generation}}}')


def _state(w: Warehouse) -> dict[str, object]:
    """Which generation every part of the stage is at, and any leftovers."""
    out: dict[str, object] = {}
    for name, vault in (("records", False), ("links", False), ("identities", True)):
        out[name] = int(w.read_table(name, vault=vault)["generation"].iloc[0])
    out["packs"] = (w.root / "artefacts" / "packs" / "a.html").read_text()
    out["approved"] = (w.root / "artefacts" / "models" / "approved.json").read_text()
    leftovers = []
    for vault in (False, True):
        with w.connect(vault=vault, read_only=True) as con:
            tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
            leftovers += [t for t in tables if t.startswith("_staged_")]
            if JOURNAL in tables:
                leftovers += [
                    r[0] for r in con.execute(f"SELECT batch_id FROM {JOURNAL}").fetchall()
                ]
    staging = w.root / STAGING_DIR
    leftovers += [p.name for p in staging.iterdir()] if staging.exists() else []
    out["leftovers"] = leftovers
    return out


GEN1 = {
    "records": 1,
    "links": 1,
    "identities": 1,
    "packs": "g1",
    "approved": '{"g": 1}',
    "leftovers": [],
}
GEN2 = {
    "records": 2,
    "links": 2,
    "identities": 2,
    "packs": "g2",
    "approved": '{"g": 2}',
    "leftovers": [],
}


def test_a_committed_stage_publishes_everything(warehouse: Warehouse) -> None:
    _generation(warehouse, 2)
    assert _state(warehouse) == GEN2
    with warehouse.connect(read_only=True) as con:
        commits = con.execute(
            f"SELECT stage, warehouse_tables, vault_tables FROM {COMMITS}"
        ).fetchall()
    assert commits[-1] == ("step", "records,links", "identities")
    assert warehouse.list_tables() == ["links", "records"]  # bookkeeping tables are hidden


def test_an_exception_in_the_stage_changes_nothing(warehouse: Warehouse) -> None:
    with pytest.raises(RuntimeError, match="scoring failed"), warehouse.stage("step") as stage:
        stage.write_table("records", _frame(2))
        stage.write_table("identities", _frame(2), vault=True)
        (stage.artefact_dir("packs") / "a.html").write_text("g2")
        raise RuntimeError("scoring failed")
    assert _state(warehouse) == GEN1


def test_a_stage_that_never_finished_is_discarded_by_recovery(warehouse: Warehouse) -> None:
    # What SIGKILL leaves: staged tables and files, no commit, no abort.
    stage = warehouse.stage("step")
    stage.write_table("identities", _frame(2), vault=True)
    stage.write_table("records", _frame(2))
    (stage.artefact_dir("packs") / "a.html").write_text("g2")
    assert _state(warehouse)["leftovers"]
    assert _state(warehouse) | {"leftovers": []} == GEN1  # readers still see generation 1
    report = warehouse.recover()
    assert report.rolled_back and not report.rolled_forward
    assert _state(warehouse) == GEN1
    _generation(warehouse, 3)  # and the next write goes through
    assert _state(warehouse)["records"] == 3


@pytest.mark.parametrize("phase", ["staged", "committing"])
def test_a_full_disk_before_the_commit_leaves_the_last_good_state(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, phase: str
) -> None:
    monkeypatch.setenv(faults.ENV_VAR, f"enospc@step:{phase}")
    with pytest.raises(OSError) as raised:
        _generation(warehouse, 2)
    assert raised.value.errno == errno.ENOSPC
    assert _state(warehouse) == GEN1


def test_a_crash_after_the_commit_is_rolled_forward(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(faults.ENV_VAR, "enospc@step:committed")
    with pytest.raises(OSError):
        _generation(warehouse, 2)
    # The warehouse committed; the vault and the files wait for their publication.
    state = _state(warehouse)
    assert (state["records"], state["identities"], state["packs"]) == (2, 1, "g1")
    report = warehouse.recover()
    assert report.rolled_forward and not report.rolled_back
    assert _state(warehouse) == GEN2
    assert not warehouse.recover()  # idempotent: nothing left to do


def test_a_folder_swap_interrupted_between_its_two_renames_is_finished(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(faults.ENV_VAR, "enospc@step:committed")
    with pytest.raises(OSError):
        _generation(warehouse, 2)
    # The first rename of the folder swap happened (live folder retired), the second did not.
    (batch,) = (warehouse.root / STAGING_DIR).iterdir()
    (batch / ".retired").mkdir()
    (warehouse.root / "artefacts" / "packs").rename(batch / ".retired" / "packs")
    warehouse.recover()
    assert _state(warehouse) == GEN2


def test_write_table_is_a_one_table_stage(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(faults.ENV_VAR, "enospc@records:committing")
    with pytest.raises(OSError):
        warehouse.write_table("records", _frame(5))
    assert _state(warehouse) == GEN1
    warehouse.write_table("records", _frame(5))
    assert _state(warehouse)["records"] == 5


def test_fault_specs_are_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(faults.ENV_VAR, "explode@step:staged")
    with pytest.raises(faults.FaultSpecError, match="action must be one of"):
        faults.configured()
    monkeypatch.setenv(faults.ENV_VAR, "kill-step-staged")
    with pytest.raises(faults.FaultSpecError, match="expected <action>@<stage>:<phase>"):
        faults.configured()
    with pytest.raises(faults.FaultSpecError, match="refusing to fill"):
        faults.fill_file_system(tmp_path)  # a real disk, not a small tmpfs


def test_atomic_write_leaves_old_or_new_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = atomic_write_text(tmp_path / "a.json", "old")

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("os.replace", full)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_database_that_cannot_be_opened_gets_a_message_saying_what_to_do(tmp_path: Path) -> None:
    from safeguard.warehouse.storage import StorageRecoveryError

    w = Warehouse(data_dir=str(tmp_path / "data"))
    (w.root / "warehouse.duckdb").write_bytes(b"not a database at all" * 100)
    with pytest.raises(
        StorageRecoveryError, match=r"move warehouse\.duckdb and vault\.duckdb aside"
    ):
        w.recover()
    assert duckdb  # imported for the connection type used by the fixture helpers
