"""Cross-build fastrec's Cython core for the Windows CPython, with mingw-w64's GCC.

    python scripts/windows/build_core.py --python-dir DIR --include DIR [--out DIR]

``--python-dir`` holds the Windows interpreter (``pythonXY.dll``, which the modules link
against: GNU ld links to a DLL directly, no import library needed); ``--include`` holds
CPython's ``Include/`` headers of the same minor version.  ``scripts/windows/pyconfig.h``
supplies what the Windows build decided (sizes, DLL linkage).  The Cython directives and
macros are setup.py's own, read through runpy, so the native build (MSVC on Windows, GCC on
Linux) and this one compile the same kernels the same way.  The result is one
``_name.cpXY-win_amd64.pyd`` per ``_ext/_*.pyx``, next to the sources by default, where the
Windows interpreter imports them (Linux ignores ``.pyd``).

Portable code generation (x86-64 baseline, no -march=native): the machine that builds is
not the one that records.  Modules are rebuilt only when a source is newer.
"""

from __future__ import annotations

import argparse
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CC = "x86_64-w64-mingw32-gcc"
# GCC's own runtime is linked in statically, so a module needs no libgcc DLL beside it
LINK_ARGS = ["-shared", "-s", "-static-libgcc", "-Wl,--no-insert-timestamp"]
COMPILE_ARGS = ["-O3", "-Wno-unused-function"]


def python_tag(python_dir: Path) -> str:
    """``313`` from the ``python313.dll`` in ``python_dir``."""
    found = sorted(p.name for p in python_dir.glob("python3*.dll") if p.name != "python3.dll")
    if len(found) != 1:
        raise SystemExit(f"--python-dir must hold exactly one pythonXY.dll, found {found or 'none'} "
                         f"in {python_dir}")
    return re.fullmatch(r"python(3\d+)\.dll", found[0], re.IGNORECASE).group(1)  # type: ignore[union-attr]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python-dir", type=Path, required=True)
    parser.add_argument("--include", type=Path, required=True,
                        help="CPython's Include/ headers of the interpreter's minor version")
    parser.add_argument("--out", type=Path, default=ROOT / "src/fastrec/_ext")
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build/windows")
    args = parser.parse_args(argv)
    if shutil.which(CC) is None:
        raise SystemExit(f"{CC} not found: install Debian's gcc-mingw-w64-x86-64")
    if not (args.include / "Python.h").is_file():
        raise SystemExit(f"--include must hold Python.h, got {args.include}")

    setup_py = runpy.run_path(str(ROOT / "setup.py"), run_name="fastrec_setup")
    tag = python_tag(args.python_dir)
    ext_dir = ROOT / setup_py["EXT_DIR"]
    args.build_dir.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    macros = [f"-D{name}={value}" for name, value in setup_py["DEFINE_MACROS"]]
    directives = ",".join(f"{k}={v}" for k, v in setup_py["CYTHON_DIRECTIVES"].items())
    # Python.h includes "pyconfig.h" from its own directory first: a copy of the headers
    # with ours in place of the one they came with (a Linux package's, say)
    headers = args.build_dir / "include"
    shutil.rmtree(headers, ignore_errors=True)
    shutil.copytree(args.include, headers)
    shutil.copyfile(Path(__file__).with_name("pyconfig.h"), headers / "pyconfig.h")
    include = ["-I", str(headers), "-I", str(ext_dir)]
    for pyx in sorted(ext_dir.glob("_*.pyx")):
        target = args.out / f"{pyx.stem}.cp{tag}-win_amd64.pyd"
        sources = [pyx, *ext_dir.glob("*.pxd"), *ext_dir.glob("*.h"), Path(__file__),
                   Path(__file__).with_name("pyconfig.h")]
        if target.exists() and target.stat().st_mtime >= max(s.stat().st_mtime for s in sources):
            continue
        c_file = args.build_dir / f"{pyx.stem}.c"
        # the C goes to the build directory: the Linux build's .c next to the .pyx stays its own
        subprocess.run([sys.executable, "-m", "cython", "-3", "-X", directives, "-I", str(ext_dir),
                        "-o", str(c_file), str(pyx)], check=True)
        command = [CC, *COMPILE_ARGS, *macros, *include, str(c_file), "-o", str(target),
                   *LINK_ARGS, "-L", str(args.python_dir), f"-lpython{tag}"]
        print(f"build_core: {target.name}", flush=True)
        subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
