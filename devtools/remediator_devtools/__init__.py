"""Remediator's development tools: the demo (`remediator demo`), the benchmark
(`python -m remediator_devtools.bench`), the emulator served for kubectl (`remediator
sandbox`) and `OperatorThread`, the real operator run in-process for tests. None of it
ships in the image: it lives outside the runtime package `remediator`."""
