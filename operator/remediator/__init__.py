"""Remediator: alerts into safe, audited remediation on Kubernetes."""

__version__ = "0.1.0"
