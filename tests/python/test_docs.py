"""Discoverability: what ``help()`` shows a user who has not read the source."""

from __future__ import annotations

import inspect
import pydoc

import pytest

import spaces_events
import spaces_events.auth
import spaces_events.rest
import spaces_events.testing
from spaces_events import AsyncClient, Client, decode


def _public_members(obj: object) -> list[tuple[str, object]]:
    return [(name, member) for name, member in inspect.getmembers(obj)
            if not name.startswith("_") and (callable(member) or isinstance(member, property))]


@pytest.mark.parametrize("module", [spaces_events, spaces_events.auth, spaces_events.rest, spaces_events.testing])
def test_every_public_name_has_a_docstring(module: object):
    missing = []
    for name in getattr(module, "__all__"):
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or callable(obj)) or getattr(obj, "__module__", None) == "typing":
            continue  # data, or a `Literal` alias (documented where it is defined)
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for member_name, member in _public_members(obj):
                if member_name in ("count", "index") and issubclass(obj, tuple):
                    continue  # tuple's own, for the NamedTuple
                if not inspect.getdoc(member):
                    missing.append(f"{name}.{member_name}")
    assert missing == []


def test_help_names_every_client_parameter():
    for client in (AsyncClient, Client):
        text = pydoc.render_doc(client)
        for parameter in inspect.signature(client).parameters:
            assert f"``{parameter}``" in text, (client.__name__, parameter)
        assert "jwt" in text and "oauth" in text


def test_decode_says_it_raises_and_the_version_is_there():
    assert "DecodeError" in (inspect.getdoc(decode) or "")
    assert spaces_events.__version__.count(".") == 2


def test_nested_objects_give_their_json_back_unknown_fields_included():
    event = decode(b'{"category":"app.event.meeting.started","topicId":"s","sender":{"_id":"s1","x":1},'
                   b'"content":{"meetingStatus":"active","y":[1],'
                   b'"attendees":[{"_id":"a","z":null}],"attendee":{"_id":"b","w":2},'
                   b'"recordings":[{"_id":"r","startedBy":{"_id":"c","v":3},"u":4}],'
                   b'"mediaSession":{"audio":true,"t":5}}}')
    payload = event.to_dict()
    content = event.content
    assert content is not None and event.sender is not None
    assert event.sender.to_dict() == payload["sender"]
    assert content.to_dict() == payload["content"]
    assert content.attendees[0].to_dict() == {"_id": "a", "z": None}
    assert content.attendee is not None and content.attendee.to_dict() == {"_id": "b", "w": 2}
    recording = content.recordings[0]
    assert recording.to_dict()["u"] == 4
    assert recording.started_by is not None and recording.started_by.to_dict() == {"_id": "c", "v": 3}
    assert content.media_session is not None and content.media_session.to_dict() == {"audio": True, "t": 5}
    assert content.media_session.audio is True
