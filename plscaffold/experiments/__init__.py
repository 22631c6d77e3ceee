"""Experiments of a generated project: creation, runs, comparison and sweeps.

An experiment is ``configs/experiments/NAME.yaml``, holding only what differs from its
parent; its runs are the folders its logger writes, each with the config it used.
"""
