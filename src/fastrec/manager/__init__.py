"""RecordingManager, the reference's recorder API (see :mod:`.facade`), and the modules
behind it: :mod:`.sealing` (metadata and the hash chain), :mod:`.session` (status) and
:mod:`.dispatch` (the event thread)."""

from fastrec.manager.facade import KEEP_FINISHED, OBSERVER_EVENTS, Observer, RecordingManager

__all__ = ["KEEP_FINISHED", "OBSERVER_EVENTS", "Observer", "RecordingManager"]
