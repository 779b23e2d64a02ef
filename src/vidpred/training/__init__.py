from .loop import TrainResult, train, validate
