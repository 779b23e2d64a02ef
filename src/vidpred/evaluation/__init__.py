"""Evaluation: rolling out and scoring, frame and object metrics, evaluate, predict, report,
compare."""
from .evaluate import evaluate, evaluate_checkpoint

__all__ = ["evaluate", "evaluate_checkpoint"]
