"""The native frame core's Python face: tile diff, scale + convert, masks.

Each module is a thin typed wrapper around one kernel in :mod:`fastrec._ext`.
"""
