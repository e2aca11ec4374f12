"""``MeetingState``: a space's meeting folded from events, corrected by the REST API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional, Union

from . import _native
from ._native import MediaSessionEvent
from ._types import MeetingChange, MeetingSnapshot


class MeetingState:
    """A space's meeting — status, attendees with their media, recordings, raised hands,
    mute-all — folded from its events by the same Rust code as ``client.meeting()``; no I/O.

        >>> import spaces_events
        >>> state = spaces_events.MeetingState("s1")
        >>> changes = state.apply(spaces_events.decode(b'{"_id":"e1","messageId":"m1","topicId":"s1",'
        ...     b'"category":"app.event.meeting.started","content":{"attendees":[{"_id":"u1","displayname":"Ann"}]}}'))
        >>> [(c["change"], c["source"]) for c in changes]
        [('meeting.started', 'event')]
        >>> state.snapshot()["attendees"][0]["displayname"]
        'Ann'
        >>> [c["change"] for c in state.resync(None)]  # the API says: no meeting any more
        ['meeting.ended', 'resynced']
    """

    __slots__ = ("_native",)

    def __init__(self, space: str) -> None:
        """No meeting known yet in ``space``."""
        self._native = _native.MeetingState(space)

    def __repr__(self) -> str:
        return f"MeetingState({self.space!r}, status={self.snapshot()['status']!r})"

    @property
    def space(self) -> str:
        """The space id."""
        return self._native.space

    @property
    def unknown_events(self) -> int:
        """Events of a category the schema does not know, so far (they change nothing)."""
        return self._native.unknown_events

    def apply(self, event: MediaSessionEvent) -> list[MeetingChange]:
        """Folds one event of this space; the changes it made (none for an event seen before,
        one of another space, or an ``attendee.left`` for someone unknown)."""
        return [json.loads(change) for change in self._native.apply(event)]

    def resync(self, meeting: Union[Mapping[str, Any], str, bytes, None]) -> list[MeetingChange]:
        """Takes the server's truth — the active meeting (``rest.active_meeting()``'s answer, a
        ``dict`` or its JSON), or ``None`` for no meeting — and returns how it differed (source
        ``"resync"``), then ``resynced``. Media, raised hands and mute-all, which the document
        does not carry, are kept for the attendees still there."""
        text: Optional[str]
        if meeting is None or isinstance(meeting, str):
            text = meeting
        elif isinstance(meeting, bytes):
            text = meeting.decode()
        else:
            text = json.dumps(meeting)
        return [json.loads(change) for change in self._native.resync(text)]

    def snapshot(self) -> MeetingSnapshot:
        """The state now (a new ``dict`` each call)."""
        snapshot: MeetingSnapshot = json.loads(self._native.snapshot())
        return snapshot
