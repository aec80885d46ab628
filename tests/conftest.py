import os
import sys

# One torch (OpenMP) thread per process, here and in every process the tests start (notebook
# kernels, Voila, torchrun ranks inherit the variable), unless OMP_NUM_THREADS is set already.
# The suite runs pytest, kernels and Chromium side by side on a machine other work shares: a
# two-thread parallel region then waits for whichever thread is off its core, and the same small
# training ran 3 to 8 times slower on two threads than on one. Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# `from tests.models import ...` works however pytest is started
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
