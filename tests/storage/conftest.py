"""Fixtures for the storage tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    """An empty recordings directory."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    return folder
