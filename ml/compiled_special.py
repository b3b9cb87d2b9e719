"""scipy.special functions callable from numba kernels: scipy's own compiled code, by address.

The kernels that use them call :func:`link` first (once per process); the functions are then the
very ones the scipy ufuncs run, so a kernel's numbers are the ufuncs' bit for bit.
"""

from __future__ import annotations

import functools

import llvmlite.binding as llvm
from numba.core import types
from numba.extending import get_cython_function_address

__all__ = ["gammaincc", "gammaincinv", "link"]

_SIGNATURE = types.float64(types.float64, types.float64, types.intc)  # (a, x, skip_dispatch)
gammaincc = types.ExternalFunction("strata_scipy_gammaincc", _SIGNATURE)
gammaincinv = types.ExternalFunction("strata_scipy_gammaincinv", _SIGNATURE)


@functools.cache
def link() -> None:
    """Resolve the kernels' scipy symbols to scipy.special.cython_special's functions."""
    for name in ("gammaincc", "gammaincinv"):
        address = get_cython_function_address("scipy.special.cython_special", name)
        llvm.add_symbol(f"strata_scipy_{name}", address)
