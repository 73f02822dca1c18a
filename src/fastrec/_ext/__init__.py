"""The compiled frame core (Cython).

There is deliberately no pure-Python fallback: a recorder that silently runs its kernels
at a tenth of the speed drops frames, so a missing build must fail at import.
"""

try:
    from fastrec._ext._convert import Scaler, rgb_to_yuv
    from fastrec._ext._diff import TileDiff
    from fastrec._ext._masks import apply_masks
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        f"fastrec's compiled core is missing or does not load ({exc}). fastrec needs its "
        "Cython extension: install the package with `pip install .` (or `pip install -e .` "
        "in a checkout; `bash scripts/setup.sh` does all set-up), which compiles it."
    ) from exc

__all__ = ["Scaler", "TileDiff", "apply_masks", "rgb_to_yuv"]
