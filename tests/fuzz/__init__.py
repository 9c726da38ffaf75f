"""Fuzzing harness of spkeras: mutated model files, random arrays and command lines, run in worker processes."""
