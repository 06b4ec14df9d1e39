"""Rank 1 raises after init(); rank 0 waits in a barrier that rank 1 never reaches."""
import sys

import fastnn
from fastnn import distributed as dist

fastnn.set_num_threads(1)
dist.init(abort_on_exception=(sys.argv[1] == "abort"))
if dist.get_rank() == 1:
    raise ValueError("rank 1 fails on purpose")
dist.barrier()
print("rank", dist.get_rank(), "passed the barrier")
