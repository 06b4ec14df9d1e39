"""fastnn.nn: layers, containers and losses with a PyTorch-shaped API on
NumPy arrays.  Linear and Conv2d arrive with the GEMM kernels."""
from .module import Module, Parameter, Sequential
from .activation import ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, Flatten, Dropout
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .loss import CrossEntropyLoss, MSELoss, BCEWithLogitsLoss
from .recurrent import Embedding, RNN, LSTM, GRU
from .attention import (MultiheadAttention, TransformerEncoderLayer, SinusoidalPositionalEncoding,
                        LearnedPositionalEmbedding)

__all__ = ["Module", "Parameter", "Sequential", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax",
           "Flatten", "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "CrossEntropyLoss", "MSELoss",
           "BCEWithLogitsLoss", "Embedding", "RNN", "LSTM", "GRU", "MultiheadAttention",
           "TransformerEncoderLayer", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding"]
