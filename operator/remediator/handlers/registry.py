"""The operator's own Kopf registry.

Handlers register here rather than in Kopf's process-wide default registry, so whoever starts
the operator (`remediator run`, the demo, tests) runs exactly these handlers, whatever else
in the process has replaced Kopf's default.
"""

import kopf

REGISTRY = kopf.OperatorRegistry()

# Seconds before Kopf calls a handler again after it raised (Kopf's default is 60): a
# reconcile that failed on a transient API error (5xx, 409, a lost answer) is safe to
# repeat, and an approval that arrived meanwhile should not wait a minute for it.
RETRY_BACKOFF = 2.0
