"""The hostile suite: misbehaving servers and clients on 127.0.0.1, each case bounded in time.

Each case's docstring names the fault on its first line and the outcome on a line starting with
``Expected:``; ``python -m tests.hostile.report`` runs the suite and writes docs/reliability.md.
"""
