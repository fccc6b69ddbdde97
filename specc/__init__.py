"""specc: compile declarative flow-matching experiment specs into standalone PyTorch scripts.

The compiler is a one-way pipeline of small stages (see DESIGN.md):
load -> merge -> validate -> resolve -> plan -> render -> write.
specc itself never imports torch; only the scripts it writes do.
"""

__version__ = "0.1.0"
