from .evaluate import evaluate, evaluate_checkpoint
