"""The native module (Rust, pyo3). Use it through ``spaces_events``."""

from typing import Any, Final, Optional, Union, final

from ._category import Category

PRODUCTION_URL: Final[str]
"""The production socket server (the path is the namespace)."""
STAGING_URL: Final[str]
"""The staging socket server."""
VERSION: Final[str]
"""The package's version (``spaces_events.__version__``)."""
DEMO_SPACE: Final[str]
"""The space the simulator's built-in meeting happens in."""
PRODUCTION_API_URL: Final[str]
"""The production REST API."""
STAGING_API_URL: Final[str]
"""The staging REST API."""

__all__ = ["DEMO_SPACE", "PRODUCTION_API_URL", "PRODUCTION_URL", "STAGING_API_URL", "STAGING_URL", "VERSION",
           "Connection", "Content", "Credentials", "Events", "MediaSession", "MediaSessionEvent", "MeetingState", "Party",
           "Pending", "Recording", "RestClient", "Simulator", "decode", "identities"]

def identities() -> list[str]:
    """Every reading of how Spaces names meetings that the simulator can play, by name."""

def decode(data: Union[bytes, str]) -> MediaSessionEvent:
    """Decodes one MEDIA_SESSION_RESPONSE payload (JSON, as ``bytes`` or ``str``).

    Raises ``DecodeError`` (a ``SpacesError`` and a ``ValueError``) when the payload is not JSON,
    not an object, has no string ``category``, or a known field has the wrong type; its message
    says what and where (``.path``, ``.line``, ``.column``). Unknown fields and categories are kept.
    """

@final
class MediaSessionEvent:
    """One MEDIA_SESSION_RESPONSE: immutable, hashable, usable in ``match``; equal when the wire
    JSON is. Absent fields are ``None``; Python objects are made only for what you read."""

    __match_args__: Final = ("category", "topic_id", "content")
    @property
    def id(self) -> Optional[str]:
        """Event id (``_id``)."""
    @property
    def message_id(self) -> Optional[str]:
        """Id of the message the event is about (``messageId``)."""
    @property
    def topic_id(self) -> Optional[str]:
        """Id of the space (``topicId``)."""
    @property
    def category(self) -> Category:
        """The category, a ``Category`` (``Category.UNKNOWN`` for one the schema does not list)."""
    @property
    def category_name(self) -> str:
        """The category exactly as it arrived."""
    @property
    def sender(self) -> Optional[Party]:
        """Who caused the event."""
    @property
    def content(self) -> Optional[Content]:
        """The event body."""
    @property
    def modified(self) -> Union[str, int, None]:
        """When the object of the event was last modified: ``str`` (ISO-8601), ``int`` (epoch ms)."""
    def to_dict(self) -> dict[str, Any]:
        """The payload as a ``dict``, equal to the JSON that arrived (unknown fields included)."""
    def to_json(self) -> str:
        """The payload as compact JSON, as it arrived."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Party:
    """A party: the sender, an attendee, or who started a recording."""

    __match_args__: Final = ("id", "displayname")
    @property
    def id(self) -> Optional[str]:
        """Id (``_id``)."""
    @property
    def type(self) -> Optional[str]:
        """Kind of party (``type``): ``user``, ``anonymous``, ``phone``, ``spaceserver``, ..."""
    @property
    def username(self) -> Optional[str]:
        """Login name."""
    @property
    def displayname(self) -> Optional[str]:
        """Name to display."""
    @property
    def picture_url(self) -> Optional[str]:
        """Avatar URL."""
    @property
    def join_time(self) -> Union[str, int, None]:
        """When an attendee joined (``joinTime``): ``str``, ``int`` or ``None``."""
    def to_dict(self) -> dict[str, Any]:
        """The party as a ``dict``, as it arrived (unknown fields included)."""

@final
class Content:
    """The body of an event."""

    @property
    def start_time(self) -> Union[str, int, None]:
        """When the meeting started (``startTime``): ``str``, ``int`` or ``None``."""
    @property
    def end_time(self) -> Union[str, int, None]:
        """When it ended (``endTime``)."""
    @property
    def virtual_end_time(self) -> Union[str, int, None]:
        """``virtualEndTime``."""
    @property
    def meeting_status(self) -> Optional[str]:
        """``active`` or ``inactive`` (``meetingStatus``)."""
    @property
    def media_mode(self) -> Optional[str]:
        """``video`` or ``audio`` (``mediaMode``)."""
    @property
    def body_text(self) -> Optional[str]:
        """Message text (``bodyText``)."""
    @property
    def attendees(self) -> list[Party]:
        """The meeting's attendees (empty when absent)."""
    @property
    def attendee(self) -> Optional[Party]:
        """Who joined or left, on attendee events."""
    @property
    def recordings(self) -> list[Recording]:
        """The meeting's recordings (empty when absent)."""
    @property
    def data(self) -> list[Any]:
        """User-provided objects (``data``), as Python values."""
    @property
    def media_session(self) -> Optional[MediaSession]:
        """A participant's media state (``mediaSession``, on ``tracksstatus``)."""
    def to_dict(self) -> dict[str, Any]:
        """The content as a ``dict``, as it arrived (unknown fields included)."""

@final
class Recording:
    """A recording of a meeting."""

    @property
    def id(self) -> Optional[str]:
        """Recording id (``_id``)."""
    @property
    def started_by(self) -> Optional[Party]:
        """Who started it (``startedBy``)."""
    @property
    def start_time(self) -> Union[str, int, None]:
        """When it started."""
    @property
    def end_time(self) -> Union[str, int, None]:
        """When it ended."""
    def to_dict(self) -> dict[str, Any]:
        """The recording as a ``dict``, as it arrived (unknown fields included)."""

@final
class MediaSession:
    """A participant's media state."""

    @property
    def audio(self) -> Optional[bool]:
        """Microphone on."""
    @property
    def video(self) -> Optional[bool]:
        """Camera on."""
    @property
    def connected(self) -> Optional[bool]:
        """Connected to the media server."""
    @property
    def screenshare(self) -> Optional[bool]:
        """Sharing the screen."""
    @property
    def self_muted(self) -> Optional[bool]:
        """Muted by the participant."""
    def to_dict(self) -> dict[str, Any]:
        """The media state as a ``dict``, as it arrived (unknown fields included)."""

@final
class Pending:
    """A native operation under way."""

    def fileno(self) -> int: ...
    def done(self) -> bool: ...
    def result(self) -> Any: ...
    def wait(self) -> Any: ...

@final
class Connection:
    """A connection (use ``AsyncClient`` or ``Client``)."""

    def __new__(cls, url: str, token: str, options: dict[str, Any]) -> Connection: ...
    def connect(self) -> Pending: ...
    def next_token_request(self) -> Pending: ...
    def answer_token(self, token: Optional[str] = None, error: Optional[str] = None) -> None: ...
    def next_state_change(self) -> Pending: ...
    def subscribe(self, space: str) -> Pending: ...
    def meeting(self, space: str) -> Pending: ...
    def unsubscribe(self, space: str) -> Pending: ...
    def raw_events(self) -> Pending: ...
    def send_media_session_event(self, payload: str) -> Pending: ...
    def close(self) -> Pending: ...
    @property
    def state(self) -> str: ...

@final
class Events:
    """Events in batches (use ``AsyncSubscription``, ``Subscription`` or the raw events)."""

    @property
    def space(self) -> str: ...
    def next_batch(self, max: int) -> Pending: ...

@final
class Simulator:
    """A running simulator (use ``spaces_events.testing.Simulator``)."""

    def __new__(cls, token: str, ping_interval: float, ping_timeout: float,
                identity: Optional[str], token_lifetime: Optional[float] = None,
                close_expired: bool = False) -> Simulator: ...
    @property
    def url(self) -> str: ...
    @property
    def api_url(self) -> str: ...
    @property
    def token(self) -> str: ...
    @property
    def identity(self) -> Optional[str]: ...
    def emit(self, payload: str, event: str) -> None: ...
    def play(self, jsonl: Optional[str], space: Optional[str], speed: float) -> Pending: ...
    def subscribed(self, space: str, count: int, timeout: float) -> Pending: ...
    def drop_connections(self) -> None: ...
    def away(self, duration: float) -> None: ...
    def active_meeting(self, space: str) -> Optional[str]: ...
    def rest_fault(self, status: int, hang: bool) -> None: ...
    def silence(self, duration: float) -> None: ...
    def inject_frame(self, text: str) -> None: ...
    def set_tokens(self, tokens: list[str]) -> None: ...
    def rotate_tokens(self) -> str: ...
    def revoke(self) -> None: ...
    def identity_url(self) -> str: ...
    def issued_tokens(self) -> list[str]: ...
    def expired_connections(self) -> int: ...
    def set_spaces(self, spaces: list[str]) -> None: ...
    def refuse_space(self, space: str) -> None: ...
    @property
    def connections(self) -> int: ...
    @property
    def subscriptions(self) -> int: ...
    @property
    def rejections(self) -> int: ...
    def close(self) -> None: ...

@final
class Credentials:
    """A token source (use ``spaces_events.auth``)."""

    @staticmethod
    def token_file(path: str) -> Credentials: ...
    @staticmethod
    def token_command(command: str) -> Credentials: ...
    @staticmethod
    def oauth2(path: str, ca_certificate: Optional[bytes] = None, proxy: Optional[str] = None,
               no_proxy: bool = False) -> Credentials: ...
    def token(self) -> Pending: ...
    def describe(self) -> str: ...
    def token_type(self) -> str: ...

@final
class MeetingState:
    """The meeting fold (use ``spaces_events.MeetingState``); changes and snapshots as JSON."""

    def __new__(cls, space: str) -> MeetingState: ...
    @property
    def space(self) -> str: ...
    @property
    def unknown_events(self) -> int: ...
    def apply(self, event: MediaSessionEvent) -> list[str]: ...
    def resync(self, meeting: Optional[str]) -> list[str]: ...
    def snapshot(self) -> str: ...

@final
class RestClient:
    """The REST client (use ``spaces_events.rest``)."""

    def __new__(cls, api_url: str, token: Optional[str], token_type: str, timeout: float, attempts: int,
                ca_certificate: Optional[bytes], proxy: Optional[str], no_proxy: bool,
                credentials: Optional[Credentials] = None) -> RestClient: ...
    def anonymous_auth(self, displayname: str, username: str) -> Pending: ...
    def join_space(self, space: str, password: Optional[str] = None) -> Pending: ...
    def active_meeting(self, space: str) -> Pending: ...
    def service_configurations(self) -> Pending: ...
    def my_spaces(self) -> Pending: ...
    def discover(self, email: Optional[str] = None) -> Pending: ...
