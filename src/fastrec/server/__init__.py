"""The admin server (issue 9): ``python -m fastrec serve``.

Layout, following the data it serves: :mod:`.config` (settings), :mod:`.db` (its SQLite
database), :mod:`.accounts` / :mod:`.auth` (users, roles, sessions, tokens, CSRF),
:mod:`.audit`, :mod:`.shares`, :mod:`.notes` (reviews, bookmarks), :mod:`.catalogue`
(recordings from the index), :mod:`.replay` and :mod:`.media` (one HLS timeline over a
session's parts), :mod:`.routes` (the HTTP and WebSocket API), :mod:`.pages` and
``static/`` (the web UI, no build step), :mod:`.app` (:func:`create_app`).
"""
