"""Low-level CSV reading: the header, then only the columns the firewall kept, as text.

Reading is done by pyarrow (serial, so that every malformed row is reported with its row
number) with positional column selection: prohibited and undeclared columns are never
converted, so their values never reach Python. Producers differ, so a BOM, CRLF line
endings, blank lines, quoted commas and quoted newlines are all accepted; rows with the wrong
number of fields or invalid UTF-8 come back as shape failures rather than stopping the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["CsvFileError", "RawFile", "ShapeFailure", "read_header", "read_kept_columns"]

_BOM = b"\xef\xbb\xbf"
_HEADER_PROBE_BYTES = 1 << 20
_ROWS_ONLY = "__rows__"


class CsvFileError(ValueError):
    """The file cannot be read as CSV at all (no header, unreadable)."""


@dataclass(frozen=True)
class ShapeFailure:
    """A row that could not be split into the header's fields, or is not UTF-8."""

    row_number: int
    reason: str
    column: str | None = None


@dataclass(frozen=True)
class RawFile:
    """Kept columns as trimmed-free text, one entry per well-shaped row.

    Attributes
    ----------
    columns : dict[str, pyarrow.Array]
        Declared column name -> UTF-8 strings (empty string where the field is empty).
    row_numbers : numpy.ndarray
        1-based data row number (header excluded, blank lines not counted) of each row.
    shape_failures : list[ShapeFailure]
        Rows left out of ``columns``; ``rows_read = len(row_numbers) + len(shape_failures)``.
    """

    columns: dict[str, pa.Array]
    row_numbers: np.ndarray
    shape_failures: list[ShapeFailure]

    @property
    def rows_read(self) -> int:
        """Data rows in the file, well-shaped or not."""
        return len(self.row_numbers) + len(self.shape_failures)


def read_header(path: Path) -> tuple[list[str], int]:
    """Return the header fields and the byte offset where the header starts.

    The offset skips a UTF-8 BOM and blank lines so that pyarrow, reading from there, counts
    the header as row 1. The header is parsed with the csv module (quoted names allowed).
    """
    with Path(path).open("rb") as handle:
        probe = handle.read(_HEADER_PROBE_BYTES)
    offset = len(_BOM) if probe.startswith(_BOM) else 0
    while offset < len(probe) and probe[offset : offset + 1] in (b"\r", b"\n"):
        offset += 1
    text = probe[offset:].decode("utf-8", errors="replace")
    header = next(csv.reader(io.StringIO(text, newline="")), None)
    if not header or not any(field.strip() for field in header):
        raise CsvFileError(f"{Path(path).name} has no header row")
    return header, offset


def read_kept_columns(
    path: Path, n_fields: int, kept: Mapping[int, str], header_offset: int
) -> RawFile:
    """Read only the kept positions of a CSV file as text.

    Parameters
    ----------
    path : pathlib.Path
        The CSV file.
    n_fields : int
        Number of header fields; rows with any other count are shape failures.
    kept : Mapping[int, str]
        Header position -> declared column name (from the firewall).
    header_offset : int
        From :func:`read_header`.
    """
    names = [f"c{i}" for i in range(n_fields)]
    include = [names[i] for i in sorted(kept)]
    invalid: list[tuple[int, int]] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        # Only the position and field count are kept; row.text holds values and is dropped.
        if row.number is None:
            return "error"
        invalid.append((int(row.number) - 1, int(row.actual_columns)))
        return "skip"

    if include:
        convert = pacsv.ConvertOptions(
            include_columns=include,
            column_types=dict.fromkeys(include, pa.binary()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
    else:  # nothing declared is present: count rows without converting any value
        convert = pacsv.ConvertOptions(
            include_columns=[_ROWS_ONLY],
            include_missing_columns=True,
            column_types={_ROWS_ONLY: pa.null()},
        )
    with pa.memory_map(str(path)) as source:
        source.seek(header_offset)
        try:
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(
                    column_names=names,
                    skip_rows_after_names=1,
                    use_threads=False,
                    block_size=1 << 24,
                ),
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=on_invalid_row
                ),
                convert_options=convert,
            )
        except pa.ArrowInvalid as error:
            raise CsvFileError(f"{Path(path).name} cannot be parsed as CSV: {error}") from None

    total = table.num_rows + len(invalid)
    well_shaped = np.ones(total, dtype=bool)
    well_shaped[[number - 1 for number, _ in invalid]] = False
    row_numbers = np.flatnonzero(well_shaped).astype(np.int64) + 1
    if len(row_numbers) != table.num_rows or not all(1 <= n <= total for n, _ in invalid):
        raise CsvFileError(f"{Path(path).name}: row numbering is inconsistent (please report)")
    failures = [
        ShapeFailure(number, f"row has {count} fields but the header has {n_fields}")
        for number, count in invalid
    ]
    columns: dict[str, pa.Array] = {}
    not_utf8 = np.zeros(table.num_rows, dtype=bool)
    not_utf8_column: dict[int, str] = {}
    for position in sorted(kept):
        raw = table.column(names[position]).combine_chunks()
        text, bad = _as_utf8(raw)
        for index in np.flatnonzero(bad & ~not_utf8):
            not_utf8_column[int(index)] = kept[position]
        not_utf8 |= bad
        columns[kept[position]] = text
    if not_utf8.any():
        keep = ~not_utf8
        failures.extend(
            ShapeFailure(int(row_numbers[i]), "row is not valid UTF-8", not_utf8_column[int(i)])
            for i in np.flatnonzero(not_utf8)
        )
        mask = pa.array(keep)
        columns = {name: array.filter(mask) for name, array in columns.items()}
        row_numbers = row_numbers[keep]
    failures.sort(key=lambda failure: failure.row_number)
    return RawFile(columns=columns, row_numbers=row_numbers, shape_failures=failures)


def _as_utf8(raw: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Cast binary to UTF-8 text; invalid values become empty and are flagged."""
    try:
        return raw.cast(pa.string()), np.zeros(len(raw), dtype=bool)
    except pa.ArrowInvalid:
        values = raw.to_pylist()
        bad = np.zeros(len(values), dtype=bool)
        for index, value in enumerate(values):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                bad[index] = True
        cleaned = pc.if_else(pa.array(bad), pa.scalar(b"", pa.binary()), raw)
        return cleaned.cast(pa.string()), bad
