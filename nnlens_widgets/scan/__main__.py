"""``python -m nnlens_widgets.scan JOB ...`` (plain, or under ``torchrun``)."""
import sys

from torch.distributed.elastic.multiprocessing.errors import record

from .cli import main


@record  # under torchrun, a rank's traceback becomes the job's reported root cause
def _run() -> int:
    return main()


if __name__ == "__main__":
    sys.exit(_run())
