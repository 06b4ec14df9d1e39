"""fastnn.optim: optimizers with fused C updates, and learning-rate schedules."""
from .optimizer import Optimizer, SGD, Adam, AdamW, RMSprop
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
