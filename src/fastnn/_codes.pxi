# The op codes of fastnn.h as module constants (ACT_RELU, ROW_SOFTMAX,
# REDUCTION_MEAN, RNN_MODE_LSTM, ...), so that Python names an op by the
# C enum it is and a renumbering in C cannot silently change what an op
# code means.  The C names are declared by _fastnn_h.pxd, which _C.pyx
# cimports; _C.pyx includes this file.

ACT_NONE = FNN_ACT_NONE
ACT_RELU = FNN_ACT_RELU
ACT_LEAKY_RELU = FNN_ACT_LEAKY_RELU
ACT_SIGMOID = FNN_ACT_SIGMOID
ACT_TANH = FNN_ACT_TANH
ACT_GELU = FNN_ACT_GELU
ACT_GELU_TANH = FNN_ACT_GELU_TANH
ACT_SILU = FNN_ACT_SILU
ACT_ELU = FNN_ACT_ELU
ACT_COUNT = FNN_ACT_COUNT

ROW_SOFTMAX = FNN_ROW_SOFTMAX
ROW_LOG_SOFTMAX = FNN_ROW_LOG_SOFTMAX

REDUCTION_NONE = FNN_REDUCTION_NONE
REDUCTION_MEAN = FNN_REDUCTION_MEAN
REDUCTION_SUM = FNN_REDUCTION_SUM

RNN_MODE_TANH = FNN_RNN_MODE_TANH
RNN_MODE_LSTM = FNN_RNN_MODE_LSTM
RNN_MODE_GRU = FNN_RNN_MODE_GRU
RNN_MODE_RELU = FNN_RNN_MODE_RELU
# or'ed into a mode: the recurrence runs from the last step to the first
RNN_REVERSE = FNN_RNN_REVERSE
