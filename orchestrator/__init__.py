"""orch: orchestrate Darknet (YOLO) training on Slurm and evaluate every checkpoint."""

__version__ = "0.1.0"
