"""The real Kubernetes control plane in the tests (controlplane/cluster.py starts it)."""
