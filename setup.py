"""The one compiled part of orch, the log scanner (everything else is in pyproject.toml).

orchestrator/logs/scan.c is plain C without the Python API: setuptools builds it as a shared
object next to orchestrator/logs/scan.py, which loads it with ctypes.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "orchestrator.logs._scan",
            ["orchestrator/logs/scan.c"],
            extra_compile_args=["-O2", "-std=c99", "-Wall", "-Wextra"],
        )
    ]
)
