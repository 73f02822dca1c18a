"""The compiled frame core (Cython).

There is deliberately no pure-Python fallback: a recorder that silently runs its kernels
at a tenth of the speed drops frames, so a missing build must fail at import.
"""

from fastrec.core_present import BUILD_ERROR

try:
    from fastrec._ext._convert import Scaler, rgb_to_yuv
    from fastrec._ext._diff import TileDiff
    from fastrec._ext._masks import apply_masks
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(BUILD_ERROR.format(reason=exc)) from exc

__all__ = ["Scaler", "TileDiff", "apply_masks", "rgb_to_yuv"]
