"""JsonlSink and read_turns: the embedded default turn log."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.sinks.jsonl import JsonlSink, TurnLogError, read_turns
from tests.runtime.contract.helpers import counter_session

GOOD_LINES = [
    orjson.dumps(r.model_dump(mode="json")) for r in counter_session(2, session_id="s-good")[1]
]


async def test_reopening_the_log_skips_records_already_written(tmp_path: Path) -> None:
    path = tmp_path / "log" / "turns.jsonl"
    _, records = counter_session(4)
    sink = JsonlSink(path)
    for r in records[:3]:
        await sink.publish(r)
    await sink.close()
    sink = JsonlSink(path)  # a new process: the driver re-publishes an unconfirmed record
    for r in records[2:]:
        await sink.publish(r)
    await sink.close()
    assert list(read_turns(path)) == records


async def test_one_request_s_records_are_written_together_skipping_known_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "turns.jsonl"
    _, records = counter_session(5)
    sink = JsonlSink(path)
    await sink.publish(*records[:2])
    await sink.publish(*records[1:4])  # a retry re-publishing record 1 with new ones
    await sink.publish(records[3])  # all known: nothing written
    await sink.publish()
    await sink.close()
    sink = JsonlSink(path)
    await sink.publish(*records[3:])
    await sink.close()
    assert list(read_turns(path)) == records


async def test_a_partial_last_line_is_cut_off_when_the_log_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "turns.jsonl"
    _, records = counter_session(3)
    sink = JsonlSink(path)
    await sink.publish(records[0])
    await sink.close()
    with path.open("ab") as f:  # a crash in the middle of writing record 2
        f.write(orjson.dumps(records[1].model_dump(mode="json"))[:40])
    with pytest.raises(TurnLogError, match=r"turns.jsonl:2: truncated line"):
        list(read_turns(path))
    sink = JsonlSink(path)
    await sink.publish(records[1])
    await sink.publish(records[2])
    await sink.close()
    assert list(read_turns(path)) == records


def test_read_turns_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "turns.jsonl"
    _, records = counter_session(1)
    good = orjson.dumps(records[0].model_dump(mode="json"))
    path.write_bytes(good + b"\n\n{not json\n")
    with pytest.raises(TurnLogError) as err:
        list(read_turns(path))
    assert err.value.message.startswith(f"{path}:3: not JSON: ")
    path.write_bytes(good + b'\n{"session_id": "s", "seq": "x"}\n')
    with pytest.raises(TurnLogError) as err:
        list(read_turns(path))
    assert err.value.message.startswith(f"{path}:2: not a turn record: ")
    assert err.value.details == {"path": str(path), "line": 2}


def test_a_byte_order_mark_at_the_start_is_skipped_anywhere_else_an_error(tmp_path: Path) -> None:
    """A log saved by an editor that adds a UTF-8 BOM reads as the same records; a BOM in
    the middle of the file is still a line that is not JSON."""
    path = tmp_path / "turns.jsonl"
    _, records = counter_session(2)
    good = [orjson.dumps(r.model_dump(mode="json")) + b"\n" for r in records]
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(good))
    assert list(read_turns(path)) == records
    path.write_bytes(good[0] + b"\xef\xbb\xbf" + good[1])
    with pytest.raises(TurnLogError, match=r":2: not JSON"):
        list(read_turns(path))


def test_read_turns_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TurnLogError, match=r"cannot read the turn log: No such file"):
        list(read_turns(tmp_path / "nope.jsonl"))


async def test_an_unwritable_log_is_a_retryable_error(tmp_path: Path) -> None:
    from runtime.ports import StoreUnavailableError

    (tmp_path / "dir.jsonl").mkdir()
    sink = JsonlSink(tmp_path / "dir.jsonl")
    _, records = counter_session(1)
    with pytest.raises(StoreUnavailableError, match=r"dir.jsonl cannot be written: Is a dir"):
        await sink.publish(records[0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80) | st.sampled_from(GOOD_LINES), max_size=6))
def test_read_turns_on_any_bytes_yields_records_or_a_clear_error(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "turns.jsonl"
        path.write_bytes(b"\n".join(lines))
        try:
            got = list(read_turns(path))
        except TurnLogError as exc:
            assert exc.message.startswith(f"{path}:")
        else:
            assert all(r.session_id == "s-good" for r in got)
