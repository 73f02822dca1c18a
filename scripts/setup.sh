#!/usr/bin/env bash
# All set-up on a fresh Debian machine with Python 3.11: the Debian packages the recorder
# and its tests use, a virtual environment in .venv, and the package with its compiled
# Cython core.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

# Xvfb: a private X server for capture; xdotool, x11-utils, openbox: windows to follow;
# ffmpeg: ffprobe checks files and is the benchmarks' peer; build-essential: the core;
# redis-server: the tests start one on loopback (live sessions, share links of a fleet);
# chromium: the web UI's browser tests (driven by Playwright, never a downloaded browser).
# poppler-utils: the PDF export tests render reports (pdftoppm); fonts-dejavu-core: its text font.
# tesseract-ocr: the English model on-screen PII detection loads (tesserocr brings the library).
# postgresql: the tests start a private cluster (FASTREC_DATABASE_URL, the fleet's database).
packages=(xvfb xauth x11-utils xdotool openbox ffmpeg build-essential redis-server chromium poppler-utils fonts-dejavu-core
          tesseract-ocr postgresql)
# Debian's own python3 needs its venv, headers and Tk packages; other builds carry them.
"$PYTHON" -c "import ensurepip" 2>/dev/null || packages+=(python3-venv)
"$PYTHON" -c "import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" || packages+=(python3-dev)
"$PYTHON" -c "import tkinter" 2>/dev/null || packages+=(python3-tk)

source scripts/debian-packages.sh
install_debian_packages "${packages[@]}"

if [ ! -x .venv/bin/python ]; then
  echo "== Creating .venv"
  "$PYTHON" -m venv .venv
fi
echo "== Installing fastrec and its dev tools into .venv (compiles the Cython core)"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
.venv/bin/python -c "import fastrec; print('fastrec', fastrec.__version__, 'ready')"
