"""Find extract drops in a landing folder and tell complete drops from partial ones.

A drop is ``<landing>/<YYYY-MM-DD>/`` holding one CSV per contract file. Agencies deliver at
different times, so a folder can exist before it is complete; the pipeline only ever reads the
newest *complete* drop, and keeps the reasons why newer folders were passed over so that a
sensor or a run summary can say what it is waiting for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from safeguard.ingest.contract import LandingContract, load_contract

__all__ = [
    "Drop",
    "DropStatus",
    "NoCompleteDrop",
    "newest_complete_drop",
    "previous_complete_drop",
    "scan_drops",
]


class NoCompleteDrop(FileNotFoundError):
    """The landing folder has no complete drop (the message lists what each folder lacks)."""


@dataclass(frozen=True, order=True)
class Drop:
    """One extract folder; ``extract_date`` comes from the folder name."""

    extract_date: date
    path: Path

    def file_path(self, file_name: str) -> Path:
        """Path of a file in this drop; an exact name wins, else a case-insensitive match."""
        exact = self.path / file_name
        if exact.is_file():
            return exact
        wanted = file_name.casefold()
        matches = sorted(p for p in self.path.iterdir() if p.name.casefold() == wanted)
        return matches[0] if matches else exact


@dataclass(frozen=True)
class DropStatus:
    """A folder under the landing directory and whether it can be read.

    ``missing_files`` and ``headerless_files`` name the contract files behind ``problems``.
    """

    drop: Drop
    problems: tuple[str, ...]
    missing_files: tuple[str, ...] = ()
    headerless_files: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every contract file is present with a header row."""
        return not self.problems

    @property
    def reason(self) -> str:
        """One line saying why the drop is incomplete (empty when complete)."""
        return f"drop {self.drop.extract_date.isoformat()}: " + "; ".join(self.problems)


def _has_header(path: Path) -> bool:
    with path.open("rb") as handle:
        first = handle.read(64 * 1024).removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
    line = first.split(b"\n", 1)[0]
    return bool(line.strip(b"\r\t ,"))


def _drop_folders(landing: Path) -> Iterator[Drop]:
    if not landing.is_dir():
        raise NoCompleteDrop(f"landing folder {landing} does not exist or is not a folder")
    for child in landing.iterdir():
        if not child.is_dir():
            continue
        try:
            extract_date = date.fromisoformat(child.name)
        except ValueError:
            continue  # not a drop folder (e.g. README, archive); only YYYY-MM-DD names count
        if child.name == extract_date.isoformat():
            yield Drop(extract_date=extract_date, path=child)


def scan_drops(landing: Path, contract: LandingContract | None = None) -> list[DropStatus]:
    """Every ``YYYY-MM-DD`` folder under ``landing``, newest first, with its problems.

    Parameters
    ----------
    landing : pathlib.Path
        The landing folder.
    contract : LandingContract, optional
        Which files a complete drop holds; defaults to the project's contract.
    """
    contract = contract or load_contract()
    statuses = []
    for drop in sorted(_drop_folders(Path(landing)), reverse=True):
        problems, missing, headerless = [], [], []
        for spec in contract.files.values():
            path = drop.file_path(spec.file)
            if not path.is_file():
                problems.append(f"{spec.file} is missing")
                missing.append(spec.file)
            elif not _has_header(path):
                problems.append(f"{spec.file} has no header row")
                headerless.append(spec.file)
        statuses.append(DropStatus(drop, tuple(problems), tuple(missing), tuple(headerless)))
    return statuses


def newest_complete_drop(
    landing: Path, contract: LandingContract | None = None, *, on_or_before: date | None = None
) -> Drop:
    """The newest complete drop (optionally no later than ``on_or_before``).

    Raises
    ------
    NoCompleteDrop
        When there is none; the message lists each folder and what it lacks.
    """
    statuses = scan_drops(landing, contract)
    for status in statuses:
        if on_or_before is not None and status.drop.extract_date > on_or_before:
            continue
        if status.complete:
            return status.drop
    considered = [
        s for s in statuses if on_or_before is None or s.drop.extract_date <= on_or_before
    ]
    detail = "; ".join(s.reason for s in considered) or "no YYYY-MM-DD drop folders"
    limit = f" on or before {on_or_before.isoformat()}" if on_or_before else ""
    raise NoCompleteDrop(f"no complete drop{limit} in {landing}: {detail}")


def previous_complete_drop(
    landing: Path, before: Drop, contract: LandingContract | None = None
) -> Drop | None:
    """The newest complete drop older than ``before``, or None on a first delivery.

    None is not an error: the first extract has nothing to compare its volumes with.
    """
    for status in scan_drops(landing, contract):
        if status.drop.extract_date < before.extract_date and status.complete:
            return status.drop
    return None
