"""Python decode: bytes to a typed event, then reading ``category``, ``topic_id`` and the first
attendee's ``displayname``; and bytes to a ``dict`` (``decode(b).to_dict()`` beside ``orjson.loads``) — spaces_events beside msgspec (a ``Struct`` model of the same
schema), pydantic v2 (``model_validate_json``) and orjson + dicts. Prints JSON: seconds per
decode, best of 5 runs, per workload and library. Run by ``cargo xtask bench``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Optional, Union

import msgspec
import orjson
import pydantic

import spaces_events

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "valid"


class MAtt(msgspec.Struct):
    id: Optional[str] = msgspec.field(default=None, name="_id")
    type: Optional[str] = None
    username: Optional[str] = None
    displayname: Optional[str] = None
    picture_url: Optional[str] = None
    joinTime: Optional[Union[str, int]] = None


class MSender(msgspec.Struct):
    id: Optional[str] = msgspec.field(default=None, name="_id")
    type: Optional[str] = None
    username: Optional[str] = None
    displayname: Optional[str] = None
    picture_url: Optional[str] = None


class MContent(msgspec.Struct):
    startTime: Optional[Union[str, int]] = None
    endTime: Optional[Union[str, int]] = None
    virtualEndTime: Optional[Union[str, int]] = None
    meetingStatus: Optional[str] = None
    mediaMode: Optional[str] = None
    bodyText: Optional[str] = None
    attendees: list[MAtt] = []
    attendee: Optional[MAtt] = None
    recordings: list[Any] = []
    data: list[Any] = []


class MEvent(msgspec.Struct):
    category: str
    id: Optional[str] = msgspec.field(default=None, name="_id")
    messageId: Optional[str] = None
    topicId: Optional[str] = None
    sender: Optional[MSender] = None
    content: Optional[MContent] = None
    modified: Optional[Union[str, int]] = None


dec = msgspec.json.Decoder(MEvent)

class PAtt(pydantic.BaseModel):
    id: Optional[str] = pydantic.Field(default=None, alias="_id")
    type: Optional[str] = None
    username: Optional[str] = None
    displayname: Optional[str] = None
    picture_url: Optional[str] = None
    joinTime: Optional[Union[str, int]] = None


class PSender(pydantic.BaseModel):
    id: Optional[str] = pydantic.Field(default=None, alias="_id")
    type: Optional[str] = None
    username: Optional[str] = None
    displayname: Optional[str] = None
    picture_url: Optional[str] = None


class PContent(pydantic.BaseModel):
    startTime: Optional[Union[str, int]] = None
    endTime: Optional[Union[str, int]] = None
    virtualEndTime: Optional[Union[str, int]] = None
    meetingStatus: Optional[str] = None
    mediaMode: Optional[str] = None
    bodyText: Optional[str] = None
    attendees: list[PAtt] = []
    attendee: Optional[PAtt] = None
    recordings: list[Any] = []
    data: list[Any] = []


class PEvent(pydantic.BaseModel):
    category: str
    id: Optional[str] = pydantic.Field(default=None, alias="_id")
    messageId: Optional[str] = None
    topicId: Optional[str] = None
    sender: Optional[PSender] = None
    content: Optional[PContent] = None
    modified: Optional[Union[str, int]] = None

def ours(b):
    e = spaces_events.decode(b); return (e.category, e.topic_id, e.content.attendees[0].displayname)


def ms(b):
    e = dec.decode(b); return (e.category, e.topicId, e.content.attendees[0].displayname)


def pyd(b):
    e = PEvent.model_validate_json(b); return (e.category, e.topicId, e.content.attendees[0].displayname)


def orj(b):
    d = orjson.loads(b); return (d["category"], d.get("topicId"), d["content"]["attendees"][0].get("displayname"))


def ours_dict(b):
    return spaces_events.decode(b).to_dict()


def main(quick: bool) -> None:
    workloads = {"meeting_started": "meeting_started.json", "large_roster": "edge_large_roster.json"}
    budget = 200_000 if quick else 2_000_000
    report: dict[str, dict[str, float]] = {}
    for workload, file in workloads.items():
        data = (FIXTURES / file).read_bytes()
        assert ours(data)[1:] == ms(data)[1:] == pyd(data)[1:] == orj(data)[1:]
        assert ours_dict(data) == orjson.loads(data)
        runs = max(20, budget // len(data))
        report[workload] = {}
        for label, decode in [("spaces_events", ours), ("msgspec", ms), ("pydantic", pyd), ("orjson_dict", orj),
                              ("spaces_events_to_dict", ours_dict), ("orjson_loads", orjson.loads)]:
            best = float("inf")
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(runs):
                    decode(data)
                best = min(best, (time.perf_counter() - start) / runs)
            report[workload][label] = best
    print(json.dumps(report))


if __name__ == "__main__":
    main("--quick" in sys.argv)
