"""fastnn.nn: layers, containers and losses with a PyTorch-shaped API on
NumPy arrays."""
from .module import Module, Parameter, Sequential
from . import functional
from .linear import Linear
from .activation import ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, Flatten, Dropout
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .conv import Conv2d, MaxPool2d, AvgPool2d
from .loss import CrossEntropyLoss, MSELoss, BCEWithLogitsLoss
from .recurrent import Embedding, RNN, LSTM, GRU
from .attention import (MultiheadAttention, TransformerEncoderLayer, SinusoidalPositionalEncoding,
                        LearnedPositionalEmbedding)

__all__ = ["Module", "Parameter", "Sequential", "functional", "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax",
           "Flatten", "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "CrossEntropyLoss", "MSELoss",
           "BCEWithLogitsLoss", "Conv2d", "MaxPool2d", "AvgPool2d",
           "Embedding", "RNN", "LSTM", "GRU", "MultiheadAttention",
           "TransformerEncoderLayer", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding"]
