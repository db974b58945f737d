"""The base of Terse's trainer callbacks: a `transformers.TrainerCallback` by duck typing.

Why not subclass `TrainerCallback`: the callbacks' modules (train/schedule.py, train/lr_guard.py) stay
importable — and their logic testable in milliseconds — without transformers. The trainer calls every
event on every callback; an event a callback does not define does nothing.
"""


class Callback:
    def __getattr__(self, name):  # every TrainerCallback event a subclass does not define: nothing to do
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)
