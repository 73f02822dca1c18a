"""Input events of recorded sessions (issue 12): what the user did, beside the video.

- :mod:`.model` - the typed events (``EventKind``: click, scroll, key_activity,
  title_change, focus_change, pause, resume, rage_click) and the file header;
- :mod:`.file` - the JSON-lines events file next to each video part: crash-safe writer,
  tolerant reader, a session's events in time order;
- :mod:`.source` - the ``InputSource`` interface; :mod:`.x11` (RECORD extension) and
  :mod:`.win32` (low-level hooks) implement it;
- :mod:`.rage` - the rage-click rule (RECORDING_RAGE_CLICKS) and its detector;
- :mod:`.session` - one session's events in the host process: input + capture reports ->
  events files, rage clicks -> a callback (the manager raises a live alert).

Never in any of them: which keys were pressed (only counts per second), or a window title
that did not pass the PII patterns.
"""

from fastrec.events.file import EventsFile, EventsWriter, read_events, read_session_events, session_event_files
from fastrec.events.model import EventKind, EventsHeader
from fastrec.events.rage import DEFAULT_RAGE_RULE, RageRule, parse_rage_rule
from fastrec.events.session import SessionInput
from fastrec.events.source import InputSource, InputUnavailable, open_input_source

__all__ = ["DEFAULT_RAGE_RULE", "EventKind", "EventsFile", "EventsHeader", "EventsWriter", "InputSource",
           "InputUnavailable", "RageRule", "SessionInput", "open_input_source", "parse_rage_rule",
           "read_events", "read_session_events", "session_event_files"]
