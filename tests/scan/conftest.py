import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """In-process scans on one thread, as each torchrun rank runs here (OMP_NUM_THREADS=1):
    the same summation order, and no oversubscribed cores on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
