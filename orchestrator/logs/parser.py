"""A streaming, one-pass, tolerant parser for Darknet training output of every fork.

The parser is fed whole lines in big byte chunks (`feed`) and keeps between chunks only what
a line can depend on: region statistics printed before the iteration line they belong to,
per-class APs printed before their mAP line, and the last iteration (restarts, gaps). That
state is an explicit record (`ParserState`, plain values) that the incremental cache saves as
JSON, which is what makes it exact: parsing a log in one go or in any number of appended
pieces gives the same result.

Speed comes from the compiled scanner: `regular` has it recognise and read every fixed
printf of every fork (region, iteration and `Last accuracy` lines) for a whole chunk at
once, failure markers are found by the scanner in the lines it did not recognise, and
only the remaining lines that can carry data meet a regular expression, chosen by their
first byte. Between two such lines, the regular ones are added in bulk with the same
bookkeeping as one by one. A chunk made mostly of other lines is parsed line by line, the
reference the bulk path is tested against.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from orchestrator.darknet import forks
from orchestrator.logs import lines as L
from orchestrator.logs.formats import Iteration, read_iteration
from orchestrator.logs.model import ALL_COLUMNS, ParsedLog, StagedAppends, new_series
from orchestrator.logs.region import RegionCollector, region_rows
from orchestrator.logs.regular import PRINTFS, Rows, SortedChunk, sort_lines, worth_sorting
from orchestrator.logs.scan import lines_with, strip_escapes

NAN = math.nan
#: The loss components (class_loss, iou_loss) of region lines that do not print them.
NO_LOSSES = (NAN, NAN)
DIGITS = b"0123456789"

#: First byte of a line -> the name of the only handler that can make sense of it.
HANDLERS = {
    **{bytes([digit]): "_iteration_line" for digit in DIGITS},
    b" ": "_indented_line",
    b"R": "_region_line",
    b"v": "_v3_line",
    b"c": "_class_ap_line",
    b"L": "_banner_line",
    b"-": "_last_accuracy_line",
}
#: `HANDLED[b]`: whether a line starting with byte b has a handler.
HANDLED = np.zeros(256, dtype=bool)
HANDLED[[first[0] for first in HANDLERS]] = True
#: A chunk with more than one slow line in this many is parsed line by line: between slow
#: lines, adding regular lines in bulk costs more than it saves.
SLOW_SHARE = 8
#: Layer key for YOLOv2 region lines, which do not name their layer.
UNNAMED_LAYER = "region"


@dataclass
class ParserState:
    """What a line can depend on from earlier chunks, besides the log read so far.

    `waiting_regions`: per layer, raw region rows (`region.WIDTH` doubles each) printed after
    the last iteration line, which belong to the next one.
    """

    last_iteration: int | None = None
    banner_seen: bool = False
    in_nan_streak: bool = False
    pending_class_ap: dict[str, float] = field(default_factory=dict)
    waiting_regions: dict[str, array] = field(default_factory=dict)


class Failure(NamedTuple):
    """A failure marker's line: its index among the chunk's lines, its kind, its text."""

    line: int
    kind: str
    text: str


class Prepared(NamedTuple):
    """A chunk of `size` bytes as a terminal shows it, its lines sorted out for the bulk path
    (None when it goes line by line) and the failures reported in it."""

    size: int
    shown: bytes
    chunk: SortedChunk | None
    failures: list[Failure]


def prepare(data: bytes, bulk: bool = True) -> Prepared:
    """What parsing `data` (whole lines) needs that depends on nothing before it: escapes
    removed, the lines sorted out and the failures found, mostly in compiled code that
    releases the GIL. A chunk with no line the bulk path could read, or mostly slow lines
    (between slow lines, adding regular lines in bulk costs more than it saves), goes line
    by line."""
    shown = as_shown(data)
    chunk = sort_lines(shown, HANDLED) if bulk and worth_sorting(shown) else None
    if chunk is not None and len(chunk.slow) * SLOW_SHARE > len(chunk.ends):
        chunk = None
    if chunk is None:
        return Prepared(len(data), shown, None, failures_in(shown, np.arange(shown.count(b"\n"))))
    return Prepared(len(data), shown, chunk, failures_in(chunk.others, chunk.other_lines))


class LogParser:
    """Feed it a log's bytes in order (whole lines), then read `result()`."""

    def __init__(self, bulk: bool = True, log: ParsedLog | None = None, state: ParserState | None = None) -> None:
        """`bulk=False` parses every line with its regular expression (the reference); `log`
        and `state` resume a parse saved by the cache."""
        self._log = ParsedLog() if log is None else log
        self._staged = StagedAppends()  # column values read in bulk, appended to `_log` in one go
        state = ParserState() if state is None else state
        self._bulk = bulk
        self._region = RegionCollector(state.waiting_regions)
        self._pending_class_ap = state.pending_class_ap
        self._last_iteration = state.last_iteration
        self._banner_seen = state.banner_seen
        self._in_nan_streak = state.in_nan_streak
        self._handlers: dict[bytes, Callable[[bytes, int], None]] = {
            first: getattr(self, name) for first, name in HANDLERS.items()
        }

    @property
    def log(self) -> ParsedLog:
        """The log parsed so far, every staged value in its columns."""
        self._staged.flush()
        return self._log

    def state(self) -> ParserState:
        """The state to resume from between two feeds (see `__init__`)."""
        return ParserState(
            self._last_iteration, self._banner_seen, self._in_nan_streak, self._pending_class_ap, self._region.waiting()
        )

    def drain(self) -> ParsedLog:
        """The columns parsed since the last drain (between two feeds), handed over and
        forgotten here: a caller streaming a long log keeps memory bounded this way."""
        drained = ParsedLog(format=self.log.format, series=self.log.series, region=self.log.region)
        self._log.series, self._log.region = new_series(), {}
        return drained

    # -- input --------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Parse `data`, which must end with a newline (callers keep a partial last line back)."""
        self.take(self.prepare(data))

    def prepare(self, data: bytes) -> Prepared:
        """The part of parsing `data` that needs no parser state (see `prepare`): callers may
        run it for the next chunk in another thread while `take` parses the current one."""
        return prepare(data, self._bulk)

    def take(self, prepared: Prepared) -> None:
        """Parse a chunk `prepare` made ready, after every chunk before it."""
        _, shown, chunk, failures = prepared
        if not shown:
            return
        first_line, errors_before = self._log.lines + 1, len(self._log.errors)
        if chunk is None:
            self._log.lines += self._feed_lines(shown, first_line)
        else:
            self._feed_sorted(shown, chunk, first_line)
            self._log.lines += len(chunk.ends)
        self._region.fold_into(self._log.region, self._log.series["iteration"], self._staged)
        self._log.errors.extend(
            {"line": first_line + index, "kind": kind, "text": text} for index, kind, text in failures
        )
        self._log.errors[errors_before:] = sorted(self._log.errors[errors_before:], key=lambda e: e["line"])

    def result(self, partial_line: bytes = b"") -> ParsedLog:
        """The log parsed so far; a partial last line (crash, or still being written) is
        reported as an error, never parsed, so that a later append parses it whole."""
        log, text = self.log, partial_line.strip()
        if not text:
            return log
        truncated = {"line": log.lines + 1, "kind": "truncated", "text": text[:200].decode(errors="replace")}
        return dataclasses.replace(log, errors=[*log.errors, truncated])

    def _feed_lines(self, data: bytes, first_line: int) -> int:
        """Every line to the handler its first byte picks; returns the number of lines."""
        lines = data.split(b"\n")
        lines.pop()  # the empty piece after the final newline
        returns = b"\r" in data
        for number, line in enumerate(lines, start=first_line):
            self._handle(line, number, returns)
        return len(lines)

    def _feed_sorted(self, data: bytes, chunk: SortedChunk, first_line: int) -> None:
        """Slow lines to their handlers, in order; the regular lines between two of them in
        bulk. Only *active* slow lines (those that change what the regular lines after them
        mean: iteration, region, banner, accuracy lines) cut the bulk adds; the passive ones
        (per-class APs, mAP results: AlexeyAB prints a block every few iterations) only need
        the last iteration before them, and are handled after their stretch's bulk add."""
        returns = b"\r" in data
        active, passive = self._active_and_passive(data, chunk, returns)
        kinds = list(chunk.rows.values())
        ends = [[*np.searchsorted(rows.lines, active).tolist(), rows.lines.size] for rows in kinds]
        passive_ends = [*np.searchsorted(passive, active).tolist(), passive.size]
        starts, passive_start, stretch_start = [0] * len(kinds), 0, -1
        for stretch, index in enumerate([*active.tolist(), None]):
            stops = [kind_ends[stretch] for kind_ends in ends]
            before = self._last_iteration
            if stops != starts:
                self._add_regular(data, chunk, [slice(a, b) for a, b in zip(starts, stops)], first_line)
            lines = passive[passive_start : passive_ends[stretch]]
            self._handle_passive(data, chunk, lines, (stretch_start, before), first_line, returns)
            starts, passive_start = stops, passive_ends[stretch]
            if index is not None:
                self._handle(data[chunk.starts[index] : chunk.ends[index]], first_line + index, returns)
                stretch_start = index

    def _active_and_passive(self, data: bytes, chunk: SortedChunk, returns: bool) -> tuple[np.ndarray, np.ndarray]:
        """The chunk's slow lines split into active and passive ones (see `_feed_sorted`)."""
        shown = (
            data[start:end] for start, end in zip(chunk.starts[chunk.slow].tolist(), chunk.ends[chunk.slow].tolist())
        )
        passive = np.array([is_passive(visible_text(line) if returns else line) for line in shown], dtype=bool)
        return chunk.slow[~passive], chunk.slow[passive]

    def _handle_passive(
        self,
        data: bytes,
        chunk: SortedChunk,
        lines: np.ndarray,
        stretch: tuple[int, int | None],
        first_line: int,
        returns: bool,
    ) -> None:
        """Passive slow lines of one stretch, each handled with the iteration of the last
        iteration line before it: a regular one in the stretch, else the one the stretch
        started with (`stretch`: the index of the active line before it, and that iteration)."""
        if not lines.size:
            return
        after, before = stretch
        last = self._last_iteration
        iterations = chunk.rows[L.ITERATION]
        previous = (np.searchsorted(iterations.lines, lines) - 1).tolist()
        for index, row in zip(lines.tolist(), previous):
            in_stretch = row >= 0 and iterations.lines[row] > after
            self._last_iteration = int(iterations.fields["iteration"][row]) if in_stretch else before
            self._handle(data[chunk.starts[index] : chunk.ends[index]], first_line + index, returns)
        self._last_iteration = last

    def _handle(self, line: bytes, number: int, returns: bool) -> None:
        """One line to the handler its first byte picks (as a terminal shows it when the
        chunk has carriage returns)."""
        line = visible_text(line) if returns else line
        handler = self._handlers.get(line[:1])
        if handler is None:
            return
        try:
            handler(line, number)
        except ValueError:  # a damaged number (disk full, interleaved output): note it, go on
            self._log.errors.append(
                {"line": number, "kind": "unparsable", "text": line.strip()[:200].decode(errors="replace")}
            )

    def _add_regular(self, data: bytes, chunk: SortedChunk, parts: list[slice], first_line: int) -> None:
        """Regular lines with no slow line between them (`parts`: a slice of each kind's rows):
        iteration lines appended to the series, region rows attributed to the iteration line
        after them (if printed yet), the last `Last accuracy` line kept."""
        iterations, region, accuracy = (rows.part(part) for rows, part in zip(chunk.rows.values(), parts))
        if region.lines.size and self._log.loss_settings is None:
            self._note_loss_settings(data, chunk, region)
        first_row, previous = self._log.iterations, self._last_iteration
        if iterations.lines.size:
            self._region.attribute(first_row)  # rows waiting from before belong to the first
            self._add_iterations(first_line + iterations.lines, iterations)
        if region.lines.size:
            following = np.searchsorted(iterations.lines, region.lines)
            owners = np.where(following < iterations.lines.size, first_row + following, -1)
            self._region.add_many(region.fields["layer"], region_rows(region.fields), owners)
        if accuracy.lines.size:
            before = int(np.searchsorted(iterations.lines, accuracy.lines[-1]))
            iteration = int(iterations.fields["iteration"][before - 1]) if before else previous
            fields = {name: float(column[-1]) for name, column in accuracy.fields.items()}
            self._log.last_accuracy = {
                "iteration": iteration,
                "iou_threshold": fields["iou_threshold"],
                "map": round(fields["map"] / 100, 8),
                "best": round(fields["best"] / 100, 8),
            }

    def _note_loss_settings(self, data: bytes, chunk: SortedChunk, region: Rows) -> None:
        """The first `v3 (…)` line of these rows, if any, read as its handler reads it."""
        v3 = np.flatnonzero(region.printf == PRINTFS.index(L.V3_PRINTF))
        if v3.size:
            index = region.lines[v3[0]]
            match = L.V3.match(data[chunk.starts[index] : chunk.ends[index]])
            if match is not None:
                self._set_loss_settings(match[1], match[2])

    # -- iteration lines ----------------------------------------------------------------------
    def _indented_line(self, line: bytes, number: int) -> None:
        """AlexeyAB indents its iteration, mAP and `Last accuracy` lines by one space."""
        second = line[1:2]
        if second and second in DIGITS:
            self._iteration_line(line, number)
        elif line.startswith(b" mean average precision"):
            self._map_line(line, number)
        elif line.startswith(b" Last accuracy"):
            self._last_accuracy_line(line, number)

    def _iteration_line(self, line: bytes, number: int) -> None:
        found = read_iteration(line)
        if found is not None:
            log_format, fields = found
            self._set_format(log_format.name)
            self._add_iteration(number, fields)

    def _set_format(self, name: str) -> None:
        """The first iteration line names the fork; g-darknet prints pjreddie's iteration
        line, so its `v3 (…)` lines (seen before or after) tell it apart."""
        if self._log.format == "unknown":
            pjreddie_line = name == forks.PJREDDIE.log_format
            self._log.format = forks.G_DARKNET.name if pjreddie_line and self._log.loss_settings else name

    def _add_iteration(self, number: int, fields: Iteration) -> None:
        self._staged.flush()  # single values go after what was staged
        series = self._log.series
        if self._last_iteration is not None:
            self._note_discontinuity(number, fields.iteration, self._last_iteration)
        self._last_iteration = fields.iteration
        self._banner_seen = False
        self._note_nan(number, fields.iteration, fields.loss, fields.avg_loss)
        for name, value in zip(Iteration._fields, fields):
            series[name].append(value)
        self._region.attribute(len(series["iteration"]) - 1)

    def _add_iterations(self, numbers: np.ndarray, rows: Rows) -> None:
        """Iteration lines read in bulk: `_add_iteration`'s bookkeeping, with the rare events
        (restarts, gaps, NaN streaks) found on arrays and noted one by one."""
        self._set_format(PRINTFS[int(rows.printf[0])].name)
        series, columns = self._log.series, rows.fields
        iterations = columns["iteration"]
        if self._last_iteration is not None:
            self._note_discontinuity(int(numbers[0]), int(iterations[0]), self._last_iteration)
        self._last_iteration = int(iterations[-1])
        self._banner_seen = False
        for index in (np.flatnonzero(iterations[1:] != iterations[:-1] + 1) + 1).tolist():
            self._note_discontinuity(int(numbers[index]), int(iterations[index]), int(iterations[index - 1]))
        loss, avg = columns["loss"], columns["avg_loss"]
        is_nan = np.isnan(loss) | np.isnan(avg)
        changes = np.flatnonzero(is_nan[1:] != is_nan[:-1]) + 1
        if is_nan[0] != self._in_nan_streak:
            changes = np.concatenate(([0], changes))
        for index in changes.tolist():
            self._note_nan(int(numbers[index]), int(iterations[index]), float(loss[index]), float(avg[index]))
        series["iteration"].frombytes(iterations.astype(np.int64, copy=False).tobytes())  # read while parsing
        for name in ALL_COLUMNS[1:]:
            values = columns.get(name)
            self._staged.add(series[name], np.full(len(iterations), NAN) if values is None else values)

    def _note_discontinuity(self, number: int, iteration: int, previous: int) -> None:
        """A step other than +1 is a restart (backwards, or after a new banner) or a gap."""
        if iteration == previous + 1:
            return
        event = {"line": number, "iteration": iteration, "previous": previous}
        if iteration <= previous or self._banner_seen:
            self._log.restarts.append(event)
        else:
            self._log.gaps.append(event)

    def _note_nan(self, number: int, iteration: int, loss: float, avg: float) -> None:
        """Report the first NaN of each streak: one error per divergence, not one per line."""
        is_nan = math.isnan(loss) or math.isnan(avg)
        if is_nan and not self._in_nan_streak:
            self._log.errors.append(
                {"line": number, "kind": "nan-loss", "text": f"iteration {iteration}: loss {loss}, avg {avg}"}
            )
        self._in_nan_streak = is_nan

    def _banner_line(self, line: bytes, number: int) -> None:
        if line.startswith(L.BANNER):
            self._banner_seen = True

    # -- region statistics --------------------------------------------------------------------
    def _region_line(self, line: bytes, number: int) -> None:
        match = L.REGION_V3.match(line)
        if match is not None:
            layer, iou, cls, obj, noobj, r50, r75, count = match.groups()
            self._region.add(
                layer.decode(),
                (float(iou), NAN, NAN, NAN, float(cls), float(obj), float(noobj), float(r50), float(r75), float(count))
                + NO_LOSSES,
            )
            return
        match = L.REGION_V2.match(line)
        if match is not None:
            iou, cls, obj, noobj, recall, count = match.groups()
            self._region.add(
                UNNAMED_LAYER,
                (float(iou), NAN, NAN, NAN, float(cls), float(obj), float(noobj), float(recall), NAN, float(count))
                + NO_LOSSES,
            )

    def _v3_line(self, line: bytes, number: int) -> None:
        match = L.V3.match(line)
        if match is None:
            return
        (
            loss_kind,
            normalizer,
            layer,
            iou,
            overlap_name,
            overlap,
            cls,
            obj,
            noobj,
            r50,
            r75,
            count,
            class_loss,
            iou_loss,
        ) = match.groups()
        if self._log.loss_settings is None:
            self._set_loss_settings(loss_kind, normalizer)
        overlaps = dict.fromkeys(("giou", "ciou", "diou"), NAN)
        if overlap_name:
            overlaps[overlap_name.decode().lower()] = float(overlap)
        self._region.add(
            layer.decode(),
            (
                float(iou),
                overlaps["giou"],
                overlaps["ciou"],
                overlaps["diou"],
                optional(cls),
                optional(obj),
                optional(noobj),
                optional(r50),
                optional(r75),
                float(count),
                optional(class_loss),
                optional(iou_loss),
            ),
        )

    def _set_loss_settings(self, kind: bytes, normalizer: bytes) -> None:
        """The first `v3 (…)` line: its loss settings, and a pjreddie-format log is g-darknet's."""
        self._log.loss_settings = loss_settings(kind, normalizer)
        if self._log.format == forks.PJREDDIE.name:
            self._log.format = forks.G_DARKNET.name

    # -- in-training mAP (AlexeyAB -map, hank-ai) ---------------------------------------------
    def _class_ap_line(self, line: bytes, number: int) -> None:
        match = L.CLASS_AP.match(line)
        if match is not None:
            self._pending_class_ap[match[2].decode(errors="replace")] = percent(match[3])

    def _map_line(self, line: bytes, number: int) -> None:
        match = L.MAP.match(line)
        if match is None:
            return
        self._log.map_points.append(
            {
                "iteration": self._last_iteration,
                "map": float(match[2]),
                "iou_threshold": float(match[1]),
                "per_class": self._pending_class_ap,
                "line": number,
            }
        )
        self._pending_class_ap = {}

    def _last_accuracy_line(self, line: bytes, number: int) -> None:
        match = L.LAST_ACCURACY.search(line)
        if match is not None:
            self._log.last_accuracy = {
                "iteration": self._last_iteration,
                "iou_threshold": float(match[1]),
                "map": percent(match[2]),
                "best": percent(match[3]),
            }


def as_shown(data: bytes) -> bytes:
    """The chunk as a terminal shows it, as far as the handlers care: without terminal escapes
    (xterm titles, colours), which the compiled scanner removes in one pass."""
    return strip_escapes(data)


def failures_in(text: bytes, line_indices: np.ndarray) -> list[Failure]:
    """Lines with a failure marker (the compiled scanner searches whole lines joined, no
    per-line test): one per line and marker, in line order, then in the order of
    ERROR_MARKERS. The k-th line of `text` is line `line_indices[k]` of the chunk."""
    hits = []
    for order, (marker, kind) in enumerate(L.ERROR_MARKERS):
        for start in lines_with(text, marker).tolist():
            end = text.find(b"\n", start)
            hits.append((start, order, len(text) if end < 0 else end, kind))
    found, ordinal, counted = [], 0, 0
    for start, _, end, kind in sorted(hits):
        ordinal += text.count(b"\n", counted, start)
        counted = start
        shown = visible_text(text[start:end]).strip()[:200].decode(errors="replace")
        found.append(Failure(int(line_indices[ordinal]), kind, shown))
    return found


def is_passive(line: bytes) -> bool:
    """Whether the line's handler only reads the parser's last iteration (see `_feed_sorted`):
    per-class APs and AlexeyAB's mAP result."""
    return line[:1] == b"c" or line.startswith(b" mean average")


def visible_text(line: bytes) -> bytes:
    """What a terminal shows for a line with carriage returns: the text after the last one
    (AlexeyAB glues `class_id = …` after a `\\r`-separated progress counter)."""
    line = line.rstrip(b"\r")
    return line.rpartition(b"\r")[2]


def percent(raw: bytes) -> float:
    """`44.63` (%) -> 0.4463, rounded so that it prints as the log wrote it."""
    return round(float(raw) / 100, 8)


def optional(raw: bytes | None) -> float:
    """A field some forks leave out of their line: NaN when absent."""
    return NAN if raw is None else float(raw)


def loss_settings(kind: bytes, normalizer: bytes) -> dict:
    """`v3 (giou loss, Normalizer: (iou: 0.5, cls: 1.0)` -> what the user should check against
    the cfg (pjreddie silently ignores these keys, g-darknet prints them here)."""
    settings: dict = {"iou_loss": kind.decode()}
    for key, value in L.NORMALIZER_ITEM.findall(normalizer):
        settings[f"{key.decode()}_normalizer"] = float(value)
    return settings


def parse_bytes(data: bytes) -> ParsedLog:
    """Parse a whole log held in memory (tests, small files)."""
    parser = LogParser()
    cut = data.rfind(b"\n") + 1
    parser.feed(data[:cut])
    return parser.result(data[cut:])
