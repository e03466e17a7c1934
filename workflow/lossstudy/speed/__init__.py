"""Speed and memory tooling: measures the study, never part of it.

``benchmark`` (ms per fit of both engines on the same data), ``huber`` (the vectorised
Huber against the vectorised LAD on the study's own cells), ``benchmark_r`` (LAD and Huber
against R's quantreg and MASS), ``overhead`` (a finished study's time: fitting proper against
per-job start-up, and the floor) and ``membench`` (peak RSS per job, to calibrate
``lossstudy.memory``). No module outside this subpackage imports it, so the science reads on
its own; ``lossstudy.memory`` stays outside because the workflow sizes its jobs with it.
"""
