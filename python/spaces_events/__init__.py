"""Typed, lossless Avaya Spaces media-session events, and a client that subscribes to them.

```pycon
>>> import spaces_events
>>> event = spaces_events.decode(b'{"category":"app.event.attendee.added","topicId":"s1",'
...     b'"content":{"attendee":{"_id":"u1","displayname":"Ann"}}}')
>>> event.category
<Category.ATTENDEE_ADDED: 'app.event.attendee.added'>
>>> event.content.attendee.displayname
'Ann'

```"""

from ._category import Category
from ._client import (
    PRODUCTION_URL,
    STAGING_URL,
    AsyncClient,
    AsyncMeeting,
    AsyncRawEvents,
    AsyncSubscription,
    Client,
    ConnectionState,
    Meeting,
    RawEvent,
    RawEvents,
    Subscription,
)
from ._errors import (AuthError, ConfigError, DecodeError, NotFoundError, ProxyError, SpacesError,
                      SubscribeError, TransportError)
from ._meeting import MeetingState
from ._types import (AttendeeMedia, AttendeeState, ChangeKind, ChangeSource, MeetingChange, MeetingSnapshot,
                     MeetingStatus, RecordingPhase, RecordingState)
from ._native import VERSION as __version__
from ._native import Content, MediaSession, MediaSessionEvent, Party, Recording, decode

__all__ = [
    "__version__",
    "PRODUCTION_URL",
    "STAGING_URL",
    "AsyncClient",
    "AsyncMeeting",
    "AsyncRawEvents",
    "AsyncSubscription",
    "AttendeeMedia",
    "AttendeeState",
    "AuthError",
    "Category",
    "ChangeKind",
    "ChangeSource",
    "Client",
    "ConfigError",
    "ConnectionState",
    "Content",
    "DecodeError",
    "MediaSession",
    "MediaSessionEvent",
    "Meeting",
    "MeetingChange",
    "MeetingSnapshot",
    "MeetingState",
    "MeetingStatus",
    "NotFoundError",
    "ProxyError",
    "Party",
    "RawEvent",
    "RawEvents",
    "Recording",
    "RecordingPhase",
    "RecordingState",
    "SpacesError",
    "SubscribeError",
    "Subscription",
    "TransportError",
    "decode",
]
