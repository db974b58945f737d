"""Reliability curves of a recipe's base model and the references every length method is judged against.

    python launch/reliability.py --config configs/benchmark_easy.yaml --seed 0

The code is library code (`train/reliability.py`, which `launch/compare.py` and the tests import); this is
its command line. `python -m train.reliability` is the same.
"""

from train.reliability import main

if __name__ == "__main__":
    main()
