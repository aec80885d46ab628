import os
import sys

# `from tests.models import ...` works however pytest is started
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
