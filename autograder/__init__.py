"""d2l-autograder: sandboxed, nbgrader-integrated grading for Dive into Deep Learning exercises."""

__version__ = "0.1.0"
