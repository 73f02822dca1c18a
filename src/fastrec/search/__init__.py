"""Search across recordings (issue 12): window titles, server, user, time range, event kind.

- :mod:`.finder` - :func:`~.finder.search_recordings` over the index and the sessions' files;
- :mod:`.commands` - ``python -m fastrec search``.
The admin server's ``GET /api/search`` calls the finder too.
"""
