"""The operator's own Kopf registry.

Handlers register here rather than in Kopf's process-wide default registry, so whoever starts
the operator (`remediator run`, the demo, tests) runs exactly these handlers, whatever else
in the process has replaced Kopf's default.
"""

import kopf

REGISTRY = kopf.OperatorRegistry()
