"""fastnn.nn: layers, containers and losses with a PyTorch-shaped API on
NumPy arrays."""
from .module import Module, Parameter, Sequential
from . import functional
from .linear import Linear
from .containers import Identity, ModuleList, ModuleDict
from .activation import (ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, Flatten, Dropout, SiLU, ELU, Softplus,
                         LogSoftmax, Dropout2d)
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm
from .conv import Conv1d, Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d
from .loss import (CrossEntropyLoss, MSELoss, BCEWithLogitsLoss, NLLLoss, L1Loss, HuberLoss, SmoothL1Loss)
from .recurrent import Embedding, RNN, LSTM, GRU
from .attention import (MultiheadAttention, TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer,
                        TransformerDecoder, SinusoidalPositionalEncoding, LearnedPositionalEmbedding)

__all__ = ["Module", "Parameter", "Sequential", "functional", "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax",
           "Flatten", "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "CrossEntropyLoss", "MSELoss",
           "BCEWithLogitsLoss", "Conv2d", "MaxPool2d", "AvgPool2d",
           "Embedding", "RNN", "LSTM", "GRU", "MultiheadAttention",
           "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
           "TransformerDecoder", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding",
           "Identity", "ModuleList", "ModuleDict", "SiLU", "ELU", "Softplus", "LogSoftmax", "Dropout2d", "GroupNorm",
           "Conv1d", "ConvTranspose2d", "AdaptiveAvgPool2d", "NLLLoss", "L1Loss", "HuberLoss", "SmoothL1Loss"]
