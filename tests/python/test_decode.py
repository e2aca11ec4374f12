"""decode() on the fixture corpus: lossless to_dict/to_json, errors with path, categories, match."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES

import spaces_events
from spaces_events import Category, DecodeError, SpacesError, decode

VALID = sorted((FIXTURES / "valid").glob("*.json"))
INVALID = sorted((FIXTURES / "invalid").glob("*.json"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_every_valid_fixture_round_trips(path):
    data = path.read_bytes()
    event = decode(data)
    assert event.to_dict() == json.loads(data)
    assert json.loads(event.to_json()) == json.loads(data)
    assert decode(data.decode()) == event
    assert hash(decode(event.to_json())) == hash(event)
    assert event.category_name == json.loads(data)["category"]


# The same paths the Rust tests expect (tests/it/fixtures.rs).
EXPECTED = {
    "attendee_name_number": "content.attendees[2].displayname",
    "attendees_object": "content.attendees",
    "category_null": "category",
    "category_number": "category",
    "media_session_audio_string": "content.mediaSession.audio",
    "missing_category": "",
    "not_json": "",
    "not_object_array": "",
    "not_object_string": "",
    "sender_string": "sender",
    "timestamp_bool": "content.endTime",
    "trailing_garbage": "",
    "truncated": "content.attendees[0]",
}


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_every_invalid_fixture_raises_with_its_path(path):
    with pytest.raises(DecodeError) as caught:
        decode(path.read_bytes())
    error = caught.value
    assert isinstance(error, SpacesError) and isinstance(error, ValueError)
    assert error.path == EXPECTED[path.stem]
    assert error.line >= 1 and error.column >= 1
    # The text names the path (in backticks when the message is in the schema's words) and says why.
    assert error.path in str(error) and error.message in str(error)


def test_error_message_is_rusts():
    with pytest.raises(DecodeError) as caught:
        decode('{"category":"x",\n"content":{"attendees":[{},{},{"displayname":5}]}}')
    assert str(caught.value) == (
        "`content.attendees[2].displayname` must be a string, got 5 at line 2 column 46"
    )
    assert caught.value.message == "must be a string, got 5"
    with pytest.raises(TypeError):
        decode(42)  # type: ignore[arg-type]


def test_typed_access_and_absent_fields():
    event = decode((FIXTURES / "valid" / "meeting_started.json").read_bytes())
    assert event.category is Category.MEETING_STARTED
    assert event.topic_id == "5f1051f0f3ed772f915e19ed"
    assert event.sender is not None and event.sender.type == "spaceserver"
    content = event.content
    assert content is not None
    assert (content.meeting_status, content.media_mode, content.start_time) == ("active", "video", "2026-11-24T10:15:00.000Z")
    assert content.end_time is None and content.virtual_end_time is None
    assert [a.displayname for a in content.attendees] == ["Ann Lee", "Bob (guest)"]
    assert content.attendees[0].join_time == "2026-11-24T10:15:02.412Z"
    assert content.attendee is None and content.recordings == [] and content.data == []
    minimal = decode('{"category":"video.end"}')
    assert (minimal.id, minimal.topic_id, minimal.sender, minimal.content, minimal.modified) == (None,) * 5
    epoch = decode((FIXTURES / "valid" / "edge_epoch_ms.json").read_bytes())
    assert epoch.content is not None and epoch.content.start_time == 1795515300000 and epoch.modified == 1795517537512
    recording = decode((FIXTURES / "valid" / "recording_started.json").read_bytes()).content.recordings[0]  # type: ignore[union-attr]
    assert recording.id == "rec-6743f2" and recording.started_by is not None and recording.started_by.displayname == "Ann Lee"
    tracks = decode((FIXTURES / "valid" / "tracksstatus.json").read_bytes())
    assert tracks.content is not None and tracks.content.media_session is not None
    assert (tracks.content.media_session.self_muted, tracks.content.media_session.audio) == (True, False)


def test_unknown_fields_and_categories_are_kept():
    event = decode((FIXTURES / "valid" / "unknown_category.json").read_bytes())
    assert event.category is Category.UNKNOWN
    assert event.category_name == "app.event.meeting.transcript.ready"
    assert event.to_dict()["content"]["transcript"]["language"] == "en"
    numbers = decode((FIXTURES / "valid" / "edge_unknown_fields.json").read_bytes())
    assert '"hops":[1,2.50,-0,1e3,1E-7,12345678901234567890123]' in numbers.to_json()


def test_categories_match_and_look_up():
    assert Category("app.event.attendee.left") is Category.ATTENDEE_LEFT
    assert Category("something.new") is Category.UNKNOWN
    for name in ["MEETING_STARTED", "MEETING_ENDED", "ATTENDEE_ADDED", "ATTENDEE_LEFT", "RECORDING_STARTED",
                 "RECORDING_ENDED", "RECORDING_READY", "TRACKS_STATUS", "UNKNOWN"]:
        assert hasattr(Category, name)
    seen = []
    for path in VALID:
        event = decode(path.read_bytes())
        match event:
            case spaces_events.MediaSessionEvent(Category.ATTENDEE_ADDED | Category.ATTENDEE_LEFT, topic, content):
                assert content is not None and content.attendee is not None and topic
                seen.append("attendee")
            case spaces_events.MediaSessionEvent(category=Category.UNKNOWN):
                seen.append("unknown")
            case _:
                pass
    assert "attendee" in seen and "unknown" in seen


def test_events_are_immutable_and_repr_is_useful():
    event = decode('{"category":"video.end","topicId":"s1","_id":"e1"}')
    with pytest.raises(AttributeError):
        event.topic_id = "other"  # type: ignore[misc]
    assert repr(event) == "MediaSessionEvent(category='video.end', topic_id='s1', id='e1')"
    assert event != decode('{"category":"video.end","topicId":"s2"}')


# Values `to_dict()` builds itself (not through `json.loads`): each must equal what `json.loads`
# gives, type included.
EDGES = [
    '{"category":"x","n":[0,-0,1,-1,9223372036854775807,-9223372036854775808,'
    '9223372036854775808,123456789012345678901234567890,-1e400,1.5,-0.0,1E2,2.5e-3]}',
    '{"category":"x","s":["\\u00e9\\n\\"\\\\\\/","\\ud83d\\ude00","\\ud800","a\\udc00b","é😀",""]}',
    '{"category":"x","d":{"k":1,"k":2},"\\u006b":3,"e":{},"a":[],"z":[null,true,false]}',
    '{ "category" : "x" ,\n "content" : { "attendees" : [ { "_id" : "a" , "displayname" : "A\\tB" } ] } }',
]


@pytest.mark.parametrize("text", EDGES)
def test_to_dict_equals_json_loads(text):
    event = decode(text)
    expected = json.loads(text)
    got = event.to_dict()
    assert got == expected
    assert repr(got) == repr(expected)  # the same types: int stays int, -0.0 stays a float


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_fields_are_read_from_the_text(path):
    data = json.loads(path.read_bytes())
    event = decode(path.read_bytes())
    content = data.get("content") or {}
    assert event.topic_id == data.get("topicId")
    assert event.modified == data.get("modified")
    if event.content is None:
        assert not content
        return
    assert event.content is event.content  # made once
    assert event.content.to_dict() == data["content"]
    assert event.content.meeting_status == content.get("meetingStatus")
    assert event.content.start_time == content.get("startTime")
    assert [a.displayname for a in event.content.attendees] == [
        a.get("displayname") for a in content.get("attendees") or []
    ]
    assert [r.id for r in event.content.recordings] == [
        r.get("_id") for r in content.get("recordings") or []
    ]
    assert event.content.data == (content.get("data") or [])
