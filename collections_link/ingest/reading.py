"""Reading a feed one row at a time: a CSV file streamed from disk, or a list of records.

The CSV file is read as bytes and decoded line by line, so that a line which is not UTF-8 is
that line's error instead of the end of the file, and so that the bytes read so far give the
progress bar its estimate. Nothing here holds more than one row.
"""

from __future__ import annotations

import csv
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO

from collections_link.ingest.rows import FeedSpec, RowError

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
MAX_WARNED_EXTRAS = 20


class FileError(Exception):
    """The whole input is unusable (empty, not UTF-8, a required column missing): nothing of
    it is imported. Carries one or more RowError for the report."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass
class Row:
    """One row, in the feed's canonical column order, or the reasons it could not be read."""

    line: int
    values: Sequence[str] = ()
    errors: list[RowError] = field(default_factory=list)


class CsvFeed:
    """The rows of one CSV file. `bytes_read` and `size` drive the progress estimate;
    `warnings` lists the columns that are ignored."""

    def __init__(self, fh: IO[bytes], spec: FeedSpec, *, size: int | None = None) -> None:
        self._fh = fh
        self.spec = spec
        self.size = size
        self.bytes_read = 0
        self.warnings: list[str] = []
        self._bad_lines: dict[int, int] = {}
        self._header = self._read_header()

    def _read_header(self) -> list[str]:
        raw = self._fh.readline()
        self.bytes_read += len(raw)
        if raw.startswith(UTF16_BOMS) or b"\x00" in raw:
            raise FileError([RowError(1, "", "the file is UTF-16; save it as UTF-8 and retry")])
        if raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FileError(
                [RowError(1, "", "the file is not UTF-8; save it as UTF-8 and retry")]
            ) from None
        if not text.strip():
            expected = ", ".join(self.spec.required)
            raise FileError(
                [RowError(1, "", f"the file is empty: expected a header row with {expected}")]
            )
        header = [name.strip().lower() for name in next(csv.reader([text]))]
        problems = []
        seen: set[str] = set()
        for name in header:
            if name in seen and name in self.spec.names:
                problems.append(RowError(1, name, "the column appears twice in the header"))
            seen.add(name)
        for name in self.spec.required:
            if name not in seen:
                problems.append(
                    RowError(1, name, f"required column {name!r} is missing from the header")
                )
        if problems:
            raise FileError(problems)
        extras = [name for name in header if name not in self.spec.names]
        if extras:
            self.warnings.append(
                f"ignored column(s) not in the {self.spec.name} feed: "
                + ", ".join(extras[:MAX_WARNED_EXTRAS])
            )
        return header

    def _lines(self) -> Iterator[str]:
        for number, raw in enumerate(self._fh, start=2):
            self.bytes_read += len(raw)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._bad_lines[number] = raw[exc.start]
                # surrogateescape keeps the line's shape so the csv module still splits it
                # into the right fields; the row is rejected below, naming the field.
                yield raw.decode("utf-8", "surrogateescape")

    def __iter__(self) -> Iterator[Row]:
        header = self._header
        width = len(header)
        # Missing optional columns read as the empty string appended at the end of each row.
        positions = [header.index(n) if n in header else -1 for n in self.spec.names]
        pick = operator.itemgetter(*positions)
        reader = csv.reader(self._lines(), strict=False)
        bad = self._bad_lines
        end = 1
        while True:
            try:
                for fields in reader:
                    start, end = end + 1, reader.line_num + 1
                    if bad:
                        errors = self._undecodable(fields, start, end)
                        if errors:
                            yield Row(start, errors=errors)
                            continue
                    if len(fields) != width:
                        if not fields:
                            continue  # a blank line
                        yield Row(start, errors=[self._wrong_width(fields, start)])
                        continue
                    fields.append("")
                    yield Row(start, pick(fields))
                return
            except csv.Error as exc:
                start, end = end + 1, reader.line_num + 1
                yield Row(start, errors=[RowError(start, "", f"unreadable CSV row: {exc}")])

    def _undecodable(self, fields: list[str], start: int, end: int) -> list[RowError]:
        errors = []
        for number in range(start, end + 1):
            byte = self._bad_lines.pop(number, None)
            if byte is None:
                continue
            column = ""
            for name, value in zip(self._header, fields, strict=False):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    column = name
                    break
            errors.append(
                RowError(
                    start,
                    column,
                    f"not valid UTF-8 (byte 0x{byte:02X}); save the file as UTF-8 and retry",
                )
            )
        return errors

    def _wrong_width(self, fields: list[str], line: int) -> RowError:
        width = len(self._header)
        column = self._header[len(fields)] if len(fields) < width else ""
        return RowError(
            line, column, f"the row has {len(fields)} fields but the header has {width}"
        )


def _as_text(value: object) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return None


class RecordFeed:
    """The rows of a list of mappings (the API's JSON, or code), numbered from 1."""

    def __init__(self, records: Iterable[Mapping[str, object]], spec: FeedSpec) -> None:
        self._records = records
        self.spec = spec
        self.size: int | None = None
        self.bytes_read = 0
        self.warnings: list[str] = []
        self._extras: set[str] = set()

    def __iter__(self) -> Iterator[Row]:
        names = self.spec.names
        known = set(names)
        for index, record in enumerate(self._records, start=1):
            if not isinstance(record, Mapping):
                yield Row(index, errors=[RowError(index, "", "each row must be an object")])
                continue
            for key in record:
                if key not in known and len(self._extras) < MAX_WARNED_EXTRAS:
                    self._extras.add(str(key))
            values = []
            errors = []
            for name in names:
                text = _as_text(record.get(name))
                if text is None:
                    errors.append(RowError(index, name, "must be a string or a number"))
                    text = ""
                values.append(text)
            if errors:
                yield Row(index, errors=errors)
            else:
                yield Row(index, values)
        if self._extras:
            self.warnings.append(
                f"ignored field(s) not in the {self.spec.name} feed: "
                + ", ".join(sorted(self._extras))
            )
