"""The recording policy: one YAML document, kept in versions, that says which connections
are recorded, which privacy rules apply, how long recordings are kept and who may view,
export or share them (issue 11).

One module per job: :mod:`.errors` (what is wrong, and on which line), :mod:`.yaml_lines`
(YAML with the line of every value), :mod:`.document` (the document's model and
:func:`~fastrec.policy.document.parse_policy`), :mod:`.presets` (the privacy presets),
:mod:`.diff` (line diffs of two versions), :mod:`.store` (the versions, in SQLite beside the
recordings), :mod:`.active` (the active policy as a recorder reads it), :mod:`.decision`
(record this connection or not, and by which rule) and :mod:`.commands`
(``python -m fastrec policy``).

Nothing here imports the admin server: the recorder, the command line and the server all
read the same store, with or without a server running.
"""
